'use strict';
// Builds the native addon from source (release mode) with cargo and puts it where lib/native.js
// looks first: websocket-rs.<platform suffix>.node in the package's folder. Runs as `prepare` in a
// checkout (so `npm install` leaves a working module) and as `npm run build` anywhere, including
// an installed copy on a platform with no prebuilt package:
//   npm explore websocket-rs -- npm run build
// It needs only cargo, not the napi CLI, so that it works where devDependencies are absent.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { BINARY_NAME, detect } = require('../lib/platform');

const root = path.resolve(__dirname, '..');
const cargo = process.env.CARGO || 'cargo';

const probe = spawnSync(cargo, ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.error(
    '\nwebsocket-rs: building the native addon needs the Rust toolchain (cargo), which was not found.\n' +
    'Install it from https://rustup.rs (for example: curl https://sh.rustup.rs -sSf | sh),\n' +
    'make sure `cargo` is on your PATH, then run this command again.\n'
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
const libName = {
  darwin: 'libwebsocket_rs.dylib',
  win32: 'websocket_rs.dll',
}[process.platform] || 'libwebsocket_rs.so';
const built = path.join(targetDir, 'release', libName);
const out = path.join(root, `${BINARY_NAME}.${detect().suffix}.node`);
// Copy to a temporary name and rename, so a process that has the old addon loaded keeps a valid file.
const tmp = out + '.' + process.pid + '.tmp';
fs.copyFileSync(built, tmp);
fs.renameSync(tmp, out);
console.log('websocket-rs: built ' + path.relative(root, out));
