'use strict';
// Loads the compiled addon. Internal: the public module is index.js.
const path = require('path');

const file = process.env.WEBSOCKET_RS_NATIVE ||
  path.join(__dirname, '..', 'build', 'websocket_rs.node');

let native;
try {
  native = require(file);
} catch (err) {
  const e = new Error(
    'websocket-rs: the native addon could not be loaded from ' + file + ' (' + err.message + '). ' +
    'Build it with `npm install` (or `npm run build`); this needs the Rust toolchain (cargo).'
  );
  e.cause = err;
  throw e;
}

module.exports = native;
