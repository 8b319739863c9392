# Sourced by .ci/run: puts a Node.js that satisfies package.json "engines" (24 LTS) first on PATH.
# When the machine's node is older, node@24 is installed from the npm registry into a cache folder,
# WARDEN_NODE_CACHE (default ~/.cache/warden-node). The system node is never replaced.
warden_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(warden_node_major)" != "24" ]; then
  cache="${WARDEN_NODE_CACHE:-$HOME/.cache/warden-node}"
  if [ ! -x "$cache/node_modules/.bin/node" ] || [ "$("$cache/node_modules/.bin/node" -p 'process.versions.node.split(".")[0]')" != "24" ]; then
    mkdir -p "$cache"
    npm install --prefix "$cache" --no-save --no-package-lock --loglevel=error node@24 >&2
  fi
  export PATH="$cache/node_modules/.bin:$PATH"
fi
echo "warden: using node $(node --version) from $(command -v node)" >&2
