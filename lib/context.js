'use strict';
// The bridge between the native event channel and the JS connection objects of this
// environment (the main thread or one worker): one native Context, one dispatch function.
const native = require('./native');

// Event kinds in a batch; they mirror src/binding/events.rs.
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
  FRAME: 0x100,
  CLOSED: 0x10000,
};

const connections = new Map();
let context = null;
let flushScheduled = false;

// Receives `[id, kind, value, id, kind, value, ...]`. A listener that throws does not stop the
// rest of the batch; its exception is rethrown afterwards, as an uncaught exception.
function dispatch(batch) {
  let errors = null;
  for (let i = 0; i < batch.length; i += 3) {
    const conn = connections.get(batch[i]);
    if (conn === undefined) {
      continue;
    }
    const kind = batch[i + 1];
    if (kind === KIND.GONE) {
      connections.delete(batch[i]);
    }
    try {
      conn._handleNativeEvent(kind, batch[i + 2]);
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

function get() {
  if (context === null) {
    context = new native.Context(dispatch);
  }
  return context;
}

function flushNow() {
  flushScheduled = false;
  context.flush();
}

module.exports = {
  KIND,

  // Takes over a plain TCP socket's descriptor; see WebSocketRequest.accept.
  adopt(fd, head, response, options, connection) {
    const handle = get().adopt(fd, head, response, options);
    connections.set(handle.id, connection);
    return handle;
  },

  // Sends made outside a batch are written from a microtask, once per tick.
  scheduleFlush() {
    if (!flushScheduled) {
      flushScheduled = true;
      queueMicrotask(flushNow);
    }
  },
};
