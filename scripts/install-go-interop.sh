#!/usr/bin/env bash
# Installs Debian's Go toolchain and golang.org/x/mod (package golang-golang-x-mod-dev), which the
# interoperability test uses to check Warden's signed checkpoints and Merkle proofs with the Go
# module mirror's note and tlog packages (tools/interop/checkpoint_check.go).
#
# Needs root for apt-get. Does nothing when both are installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

log() { echo "install-go-interop: $*" >&2; }

MOD_SOURCE=/usr/share/gocode/src/golang.org/x/mod/sumdb/note/note.go
if command -v go >/dev/null 2>&1 && [ -f "$MOD_SOURCE" ]; then
  log "$(go version) and golang.org/x/mod are installed"
  exit 0
fi

log "installing Debian's golang-go and golang-golang-x-mod-dev packages"
apt-get update -qq
apt-get install -y -qq --no-install-recommends golang-go golang-golang-x-mod-dev >/dev/null
log "$(go version) installed"
