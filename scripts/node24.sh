#!/usr/bin/env bash
# Runs a command with Node.js 24 first on PATH, installing it from the npm registry into a cache
# folder when the machine's node is older (see ensure-node.sh). npm start and npm test use it, so
# the README's two commands work on a machine whose system Node is 20.
set -euo pipefail
source "$(dirname "$0")/ensure-node.sh"
exec "$@"
