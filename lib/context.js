'use strict';
// The bridge between the native event channel and the JS connection objects of this
// environment (the main thread or one worker).
const native = require('./native');

// Event kinds; they mirror src/binding/events.rs.
const KIND = {
  TEXT: 1,
  BINARY: 2,
  PING: 3,
  PONG: 4,
  DRAIN: 5,
  SENT: 6,
  SEND_FAILED: 7,
  ERROR: 8,
  GONE: 9,
  FRAME: 10,
  CLOSED: 11,
};
const HAS_VALUE = 0x100;

const connections = new Map();
let initialised = false;
let flushScheduled = false;
let meta = new Uint32Array(0);

// Receives a batch of `count` events: numbers in `meta` (id, kind, number per event), values
// (strings, Buffers) in `values`. `newMeta` is set when the native side grew the buffer. A
// listener that throws does not stop the rest of the batch; its exception is rethrown
// afterwards, as an uncaught exception.
function dispatch(count, values, newMeta) {
  if (newMeta !== undefined) {
    meta = new Uint32Array(newMeta);
  }
  let errors = null;
  let v = 0;
  for (let i = 0, m = 0; i < count; i++, m += 3) {
    const id = meta[m];
    let kind = meta[m + 1];
    let value;
    if ((kind & HAS_VALUE) !== 0) {
      value = values[v++];
      kind &= 0xFF;
    }
    const conn = connections.get(id);
    if (conn === undefined) {
      continue;
    }
    if (kind === KIND.GONE) {
      connections.delete(id);
    }
    try {
      conn._handleNativeEvent(kind, meta[m + 2], value);
    } catch (err) {
      (errors || (errors = [])).push(err);
    }
  }
  if (errors !== null) {
    for (const err of errors) {
      process.nextTick(rethrow, err);
    }
  }
}

function rethrow(err) {
  throw err;
}

function flushNow() {
  flushScheduled = false;
  native.flush();
}

module.exports = {
  KIND,
  native,

  // Takes over a plain TCP socket's descriptor (see WebSocketRequest._handOff); returns the
  // connection's id.
  adopt(fd, head, response, options, connection) {
    if (!initialised) {
      native.init(dispatch);
      initialised = true;
    }
    const id = native.adopt(fd, head, response, options);
    connections.set(id, connection);
    return id;
  },

  // Sends made outside a batch are written from a microtask, once per tick.
  scheduleFlush() {
    if (!flushScheduled) {
      flushScheduled = true;
      queueMicrotask(flushNow);
    }
  },
};
