#!/usr/bin/env bash
# Installs the pgvector extension into the PostgreSQL server running on this machine.
#
# Order of attempts:
#   1. nothing to do when the server already offers the extension;
#   2. Debian's binary package postgresql-<major>-pgvector, where the release has one;
#   3. Debian's source package `pgvector`, built with make against postgresql-server-dev-<major>.
#      Debian 12 (bookworm) has neither, so the source comes from the next release (trixie), whose
#      sources index is added for deb-src only. Only the upstream C code is compiled; no binary
#      package from another release is installed.
#
# Environment: PGHOST (default 127.0.0.1), PGUSER (default postgres). Needs root for apt-get.
set -euo pipefail

export PGHOST="${PGHOST:-127.0.0.1}" PGUSER="${PGUSER:-postgres}"
export DEBIAN_FRONTEND=noninteractive

log() { echo "install-pgvector: $*" >&2; }

version_num=$(psql -d postgres -tAc 'SHOW server_version_num') || {
  log "cannot reach PostgreSQL at $PGHOST as $PGUSER; start the server first"
  exit 1
}
major=$((version_num / 10000))
pg_config="/usr/lib/postgresql/$major/bin/pg_config"

vector_available() {
  [ "$(psql -d postgres -tAc "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")" = "1" ]
}

if vector_available; then
  log "pgvector is already available for PostgreSQL $major"
  exit 0
fi

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
}

apt_update_once
if apt-cache show "postgresql-$major-pgvector" >/dev/null 2>&1; then
  log "installing Debian package postgresql-$major-pgvector"
  apt-get install -y -qq "postgresql-$major-pgvector" >/dev/null
  vector_available && exit 0
fi

log "building pgvector from Debian's source package against postgresql-server-dev-$major"
apt-get install -y -qq "postgresql-server-dev-$major" make gcc dpkg-dev >/dev/null

if ! apt-cache showsrc pgvector 2>/dev/null | grep -q '^Version:'; then
  sources=/etc/apt/sources.list.d/warden-pgvector-src.sources
  log "adding a deb-src entry for trixie to $sources"
  cat >"$sources" <<'SOURCES'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  apt-get update -qq
fi

build_dir=$(mktemp -d)
trap 'rm -rf "$build_dir"' EXIT
chmod 755 "$build_dir"
(
  cd "$build_dir"
  apt-get source -qq --download-only pgvector >/dev/null
  dpkg-source -x --skip-debianization ./pgvector_*.dsc source >/dev/null
  cd source
  # OPTFLAGS="" builds portable code instead of -march=native.
  make -s PG_CONFIG="$pg_config" OPTFLAGS="" >/dev/null
  make -s PG_CONFIG="$pg_config" OPTFLAGS="" install >/dev/null
)

if vector_available; then
  log "pgvector installed for PostgreSQL $major"
else
  log "pgvector build finished but the server does not list the extension"
  exit 1
fi
