#!/usr/bin/env bash
# The package as a user gets it: the two tarballs from `npm run package` (built first when dist/
# lacks them), served by a stand-in registry (scripts/consumer/registry.js), installed into a fresh
# app as `"websocket": "file:<root tgz>"` with cargo and rustc off PATH, then an echo round trip;
# then `npm ci` from the lockfile that install wrote, and the round trip again. Twice: with this
# machine's Node and npm, and with npm 12 on Node 24 (both from the npm registry, cached by
# scripts/node-dist.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(node -p "require('$root/package.json').version")
root_tgz=$root/dist/websocket-rs-$version.tgz
platform_tgz=$root/dist/websocket-rs-linux-x64-gnu-$version.tgz
if [ ! -f "$root_tgz" ] || [ ! -f "$platform_tgz" ]; then
  (cd "$root" && npm run package)
fi

work=$(mktemp -d)
registry_pid=
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

node "$root/scripts/consumer/registry.js" "$root/dist" >"$work/registry.url" 2>"$work/registry.log" &
registry_pid=$!
for _ in $(seq 50); do [ -s "$work/registry.url" ] && break; sleep 0.1; done
registry=$(cat "$work/registry.url")
[ -n "$registry" ] || { echo "consumer test: the stand-in registry did not start" >&2; exit 1; }

# case <label> <folder holding node> <npm command>
run_case() {
  local label=$1 node_dir=$2 npm_cmd=$3
  local app=$work/app-$label
  # Only Node's folder and the system's: no ~/.cargo/bin.
  local path="$node_dir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  if PATH=$path command -v cargo >/dev/null || PATH=$path command -v rustc >/dev/null; then
    echo "consumer test: cargo or rustc is still on PATH ($path)" >&2
    exit 1
  fi
  mkdir -p "$app"
  cp "$root/scripts/consumer/echo.js" "$app/"
  cat >"$app/package.json" <<JSON
{ "name": "consumer-app", "version": "1.0.0", "private": true,
  "dependencies": { "websocket": "file:$root_tgz" } }
JSON
  local npm_flags=(--registry "$registry" --cache "$work/npm-cache-$label" --userconfig "$work/npmrc"
    --no-audit --no-fund)
  echo "== $label: $(PATH=$path node --version), npm $(PATH=$path $npm_cmd --version)"
  (cd "$app" && PATH=$path $npm_cmd install "${npm_flags[@]}")
  check_install "$app" "$path"
  (cd "$app" && PATH=$path node echo.js)
  rm -rf "$app/node_modules"
  (cd "$app" && PATH=$path $npm_cmd ci "${npm_flags[@]}")
  check_install "$app" "$path"
  (cd "$app" && PATH=$path node echo.js)
}

# Nothing was compiled and only this platform's binary came along.
check_install() {
  local app=$1
  local pkg=$app/node_modules/websocket
  [ -f "$pkg/package.json" ] || { echo "consumer test: websocket was not installed" >&2; exit 1; }
  if [ -d "$pkg/target" ] || find "$pkg" -name '*.node' | grep -q .; then
    echo "consumer test: the install compiled or carried a binary in $pkg" >&2
    exit 1
  fi
  [ -f "$app/node_modules/websocket-rs-linux-x64-gnu/websocket-rs.linux-x64-gnu.node" ] ||
    { echo "consumer test: the platform package was not installed" >&2; exit 1; }
  local others
  others=$(ls "$app/node_modules" | grep '^websocket-rs-' | grep -v '^websocket-rs-linux-x64-gnu$' || true)
  [ -z "$others" ] || { echo "consumer test: other platforms' packages were installed: $others" >&2; exit 1; }
}

machine_node=$(dirname "$(command -v node)")
: >"$work/npmrc"  # a fresh machine's (empty) user config
run_case npm11 "$machine_node" npm

# No platform package (as on a platform without a prebuilt one): require() says what it looked
# for and how to build; that command, with cargo back on PATH, builds from the tarball's sources.
app=$work/app-source
mkdir -p "$app"
cp "$root/scripts/consumer/echo.js" "$app/"
printf '{ "name": "consumer-app", "version": "1.0.0", "private": true,\n  "dependencies": { "websocket": "file:%s" } }\n' "$root_tgz" >"$app/package.json"
(cd "$app" && npm install --omit=optional --registry "$registry" --cache "$work/npm-cache-source" \
  --userconfig "$work/npmrc" --no-audit --no-fund)
if (cd "$app" && node -e "require('websocket')" 2>"$work/load-error.txt"); then
  echo "consumer test: require() worked with no binary installed" >&2
  exit 1
fi
for expected in 'websocket-rs-linux-x64-gnu' 'npm explore websocket -- npm run build'; do
  grep -qF "$expected" "$work/load-error.txt" ||
    { echo "consumer test: the load error does not say '$expected':" >&2; cat "$work/load-error.txt" >&2; exit 1; }
done
echo "== source build: the load error names the package and the command; running it"
sed 's/^/   | /' "$work/load-error.txt" | grep -v '^   | *at ' | head -12
(cd "$app" && npm explore websocket -- npm run build)
(cd "$app" && node echo.js | tee "$work/source-echo.txt")
grep -q 'node_modules/websocket/websocket-rs.linux-x64-gnu.node' "$work/source-echo.txt" ||
  { echo "consumer test: the source build was not the binary loaded" >&2; exit 1; }

node24=$("$root/scripts/node-dist.sh" node 24)
npm12=$("$root/scripts/node-dist.sh" npm 12)
run_case npm12 "$node24" "node $npm12/npm-cli.js"
echo "consumer test: passed"
