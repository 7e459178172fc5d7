'use strict';
// `npm run package`: the two tarballs a release publishes from this machine, in dist/:
//   websocket-rs-<version>.tgz                 the root package: JS, types, the Rust sources for
//                                              a from-source build, every platform package in
//                                              optionalDependencies at exactly <version>, no .node
//   websocket-rs-linux-x64-gnu-<version>.tgz   the x86_64 glibc binary, built by the napi-rs cross
//                                              toolchain against glibc 2.17 (napi build
//                                              --use-napi-cross), so it loads on old distributions
// The checkout is left as it was: the root manifest is edited in a staging copy (the napi-rs
// release flow does the same with `napi pre-publish` on a throwaway CI checkout).
//
// Options: --skip-build reuses dist/.stage/build (a binary from an earlier run).
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { BINARY_NAME } = require('../lib/platform');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const stage = path.join(dist, '.stage');
const TARGET = 'x86_64-unknown-linux-gnu';
const SUFFIX = 'linux-x64-gnu';

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, Object.assign({ stdio: 'inherit', cwd: root }, opts));
  if (r.status !== 0) {
    console.error(`websocket-rs package: \`${cmd} ${args.join(' ')}\` failed (${r.error ? r.error.message : 'exit ' + r.status})`);
    process.exit(1);
  }
  return r;
}

// `npm pack` of a folder into dist/, without lifecycle scripts; returns the tarball's path.
function pack(folder) {
  const r = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dist], {
    cwd: folder,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const [info] = JSON.parse(r.stdout);
  return path.join(dist, info.filename);
}

function writeJson(file, value) {
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const version = manifest.version;
if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error('websocket-rs package: builds the linux-x64-gnu binary, so it runs on Linux x64 only');
  process.exit(1);
}

fs.mkdirSync(dist, { recursive: true });
fs.rmSync(path.join(stage, 'root'), { recursive: true, force: true });
fs.rmSync(path.join(stage, SUFFIX), { recursive: true, force: true });
const buildDir = path.join(stage, 'build');

// 1. The binary. The CLI writes a generated .d.ts beside it; only the .node is taken.
const binary = `${BINARY_NAME}.${SUFFIX}.node`;
if (!process.argv.includes('--skip-build')) {
  fs.rmSync(buildDir, { recursive: true, force: true });
  const napi = path.join(root, 'node_modules', '.bin', 'napi');
  run(napi, ['build', '--platform', '--release', '--strip', '--use-napi-cross', '--target', TARGET,
    '--output-dir', buildDir, '--no-js']);
}
if (!fs.existsSync(path.join(buildDir, binary))) {
  console.error(`websocket-rs package: ${path.join(buildDir, binary)} was not built`);
  process.exit(1);
}

// The highest glibc symbol version the binary needs: at most 2.17, as napi-rs's own packages, so
// that it loads on every glibc distribution Node itself supports.
const MAX_GLIBC = [2, 17];
const dump = spawnSync('objdump', ['-T', path.join(buildDir, binary)], { encoding: 'utf8' });
if (dump.status !== 0) {
  console.error('websocket-rs package: objdump -T failed (install binutils): ' + (dump.error ? dump.error.message : dump.stderr));
  process.exit(1);
}
const needed = [...new Set(dump.stdout.match(/GLIBC_[0-9.]+/g) || [])]
  .map((v) => v.slice(6).split('.').map(Number))
  .sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2] || 0) - (b[2] || 0))
  .pop() || [0, 0];
const glibc = needed.join('.');
if (needed[0] > MAX_GLIBC[0] || (needed[0] === MAX_GLIBC[0] && needed[1] > MAX_GLIBC[1])) {
  console.error(`websocket-rs package: ${binary} needs glibc ${glibc}, more than ${MAX_GLIBC.join('.')}`);
  process.exit(1);
}

// 2. The platform package: npm/linux-x64-gnu at the root's version, with the binary.
const platformDir = path.join(stage, SUFFIX);
fs.mkdirSync(platformDir, { recursive: true });
for (const f of fs.readdirSync(path.join(root, 'npm', SUFFIX))) {
  fs.copyFileSync(path.join(root, 'npm', SUFFIX, f), path.join(platformDir, f));
}
const platformManifest = JSON.parse(fs.readFileSync(path.join(platformDir, 'package.json'), 'utf8'));
platformManifest.version = version;
writeJson(path.join(platformDir, 'package.json'), platformManifest);
fs.copyFileSync(path.join(buildDir, binary), path.join(platformDir, binary));
const platformTgz = pack(platformDir);

// 3. The root: what `files` selects, with every target's package as an optional dependency at
// exactly this version. `prepare` (the checkout's build) is dropped: a tarball never runs it,
// and nothing is compiled at a user's install.
const rootDir = path.join(stage, 'root');
fs.mkdirSync(rootDir, { recursive: true });
const first = pack(root);
run('tar', ['xzf', first, '-C', rootDir, '--strip-components=1']);
fs.rmSync(first);
const packed = JSON.parse(fs.readFileSync(path.join(rootDir, 'package.json'), 'utf8'));
packed.optionalDependencies = {};
for (const dir of fs.readdirSync(path.join(root, 'npm')).sort()) {
  const name = JSON.parse(fs.readFileSync(path.join(root, 'npm', dir, 'package.json'), 'utf8')).name;
  packed.optionalDependencies[name] = version;
}
if (packed.napi && packed.napi.targets.length !== Object.keys(packed.optionalDependencies).length) {
  console.error('websocket-rs package: npm/ has not one folder per napi.targets entry (npx napi create-npm-dirs)');
  process.exit(1);
}
delete packed.scripts.prepare;
writeJson(path.join(rootDir, 'package.json'), packed);
const stray = fs.readdirSync(rootDir, { recursive: true }).filter((f) => String(f).endsWith('.node'));
if (stray.length > 0) {
  console.error('websocket-rs package: the root package would carry ' + stray.join(', '));
  process.exit(1);
}
const rootTgz = pack(rootDir);

console.log(`\nwebsocket-rs package (${binary} needs glibc ${glibc} at most):`);
for (const f of [rootTgz, platformTgz]) {
  console.log(`  ${path.relative(root, f)}  (${fs.statSync(f).size} bytes)`);
}
