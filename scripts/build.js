'use strict';
// Builds the native addon from source (release mode) and puts it where lib/native.js loads it from.
// Runs as the package's `install` script, so `npm install` on a fresh clone leaves a working module.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const cargo = process.env.CARGO || 'cargo';

const probe = spawnSync(cargo, ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.error(
    '\nwebsocket-rs: building the native addon needs the Rust toolchain (cargo), which was not found.\n' +
    'Install it from https://rustup.rs (for example: curl https://sh.rustup.rs -sSf | sh),\n' +
    'make sure `cargo` is on your PATH, then run `npm install` again.\n'
  );
  process.exit(1);
}

const args = ['build', '--release', '--lib'];
const build = spawnSync(cargo, args, { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.error('websocket-rs: `cargo ' + args.join(' ') + '` failed (exit ' + build.status + ').');
  process.exit(build.status || 1);
}

const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(root, process.env.CARGO_TARGET_DIR)
  : path.join(root, 'target');
const names = {
  linux: 'libwebsocket_rs.so',
  freebsd: 'libwebsocket_rs.so',
  darwin: 'libwebsocket_rs.dylib',
  win32: 'websocket_rs.dll',
};
const built = path.join(targetDir, 'release', names[process.platform] || 'libwebsocket_rs.so');
const outDir = path.join(root, 'build');
fs.mkdirSync(outDir, { recursive: true });
const out = path.join(outDir, 'websocket_rs.node');
// Copy to a temporary name and rename, so a process that has the old addon loaded keeps a valid file.
const tmp = out + '.' + process.pid + '.tmp';
fs.copyFileSync(built, tmp);
fs.renameSync(tmp, out);
console.log('websocket-rs: built ' + path.relative(root, out));
