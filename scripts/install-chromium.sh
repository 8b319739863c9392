#!/usr/bin/env bash
# Installs Debian's Chromium for the reviewer web app's browser tests, which drive it with
# playwright-core. Playwright's own browser download cannot run here (it fetches from outside the
# package registries), so the tests use /usr/bin/chromium from Debian's package archive.
#
# Needs root for apt-get. Does nothing when /usr/bin/chromium already runs.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

log() { echo "install-chromium: $*" >&2; }

if [ -x /usr/bin/chromium ] && /usr/bin/chromium --version >/dev/null 2>&1; then
  log "$(/usr/bin/chromium --version 2>/dev/null) is installed"
  exit 0
fi

log "installing Debian's chromium package"
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
log "$(/usr/bin/chromium --version 2>/dev/null) installed"
