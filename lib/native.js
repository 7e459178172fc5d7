'use strict';
// Loads the compiled addon (internal: the public module is index.js). In order:
//  1. WEBSOCKET_RS_NATIVE, an explicit path to a .node file;
//  2. a binary built in this package's own folder (`npm run build`: a checkout, or a source build
//     for a platform with no prebuilt package), websocket-rs.<suffix>.node;
//  3. the prebuilt platform package, websocket-rs-<suffix> (an optional dependency npm installs
//     only where its os, cpu and libc match);
//  4. an error naming what was detected, what was looked for, and how to build from source.
const fs = require('fs');
const path = require('path');
const { BINARY_NAME, detect } = require('./platform');

const root = path.join(__dirname, '..');

function load() {
  const explicit = process.env.WEBSOCKET_RS_NATIVE;
  if (explicit) {
    try {
      return require(path.resolve(explicit));
    } catch (err) {
      throw loadError(`WEBSOCKET_RS_NATIVE=${explicit} could not be loaded: ${err.message}`, err);
    }
  }

  const target = detect();
  const local = path.join(root, `${BINARY_NAME}.${target.suffix}.node`);
  const pkg = `${BINARY_NAME}-${target.suffix}`;
  const tried = [];
  if (fs.existsSync(local)) {
    try {
      return require(local);
    } catch (err) {
      tried.push(`${local}: ${err.message}`);
    }
  } else {
    tried.push(`${local}: not built`);
  }
  try {
    return require(pkg);
  } catch (err) {
    tried.push(`${pkg}: ${err.code === 'MODULE_NOT_FOUND' ? 'not installed' : err.message}`);
  }

  // The folder npm installed this package into (node_modules/websocket under an alias).
  const folder = path.basename(root);
  const what = `${target.platform}, ${target.arch}` + (target.abi ? `, ${target.abi}` : '');
  const lines = [
    `websocket-rs: no native addon for this machine (${what}).`,
    target.supported
      ? `The prebuilt package ${pkg} should have come with it as an optional dependency: ` +
        'reinstall without --omit=optional / --no-optional, or check that npm may install optional dependencies.'
      : `No prebuilt package exists for ${target.suffix}; build it from source.`,
    'Looked for:',
    ...tried.map((t) => '  ' + t),
    `To build from source (needs the Rust toolchain, https://rustup.rs): npm explore ${folder} -- npm run build`,
  ];
  throw loadError(lines.join('\n'), null);
}

function loadError(message, cause) {
  const e = new Error(message);
  if (cause) {
    e.cause = cause;
  }
  return e;
}

module.exports = load();
