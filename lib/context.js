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
  SERVICE: 12,
  // id 0, not a connection's: a topic hub's Redis backplane (the number is the hub)
  PUBSUB_ERROR: 13,
  PUBSUB_READY: 14,
};
const HAS_VALUE = 0x100;

const BridgedSocket = require('./BridgedSocket');

// Connections by native id (small dense integers, reused after GONE): an array costs less
// per connection than a Map.
const connections = [];
let initialised = false;
// Servers by topic hub number, for their backplane notices.
const hubServers = [];
let flushScheduled = false;
let meta = new Uint32Array(0);

// Receives a batch of `count` events: numbers in `meta` (id, kind, number per event), values
// (strings, Buffers) as the remaining arguments. `newMeta` is set when the native side grew the
// buffer. A listener that throws does not stop the rest of the batch; its exception is rethrown
// afterwards, as an uncaught exception.
function dispatch(count, newMeta, ...values) {
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
    if (id === 0) {
      try {
        hubNotice(kind, meta[m + 2], value);
      } catch (err) {
        (errors || (errors = [])).push(err);
      }
      continue;
    }
    const conn = connections[id];
    if (conn === undefined) {
      continue;
    }
    if (kind === KIND.GONE) {
      connections[id] = undefined;
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

// A backplane notice: the server emits 'pubsubError' (an Error; a program without a listener is
// not affected, unlike with 'error') or 'pubsubReady'.
function hubNotice(kind, hub, text) {
  const server = hubServers[hub];
  if (server === undefined) {
    return;
  }
  if (kind === KIND.PUBSUB_ERROR) {
    server.emit('pubsubError', new Error(text));
  } else if (kind === KIND.PUBSUB_READY) {
    server.emit('pubsubReady');
  }
}

function rethrow(err) {
  throw err;
}

function flushNow() {
  flushScheduled = false;
  native.flush();
}

function noop() {}

// WEBSOCKET_RS_FORCE_BRIDGE=1 bridges every socket (for tests and comparisons), read once.
// Windows has no socket descriptor to hand over (libuv reports -1): everything is bridged there.
const forceBridge = process.env.WEBSOCKET_RS_FORCE_BRIDGE === '1' || process.platform === 'win32';

// Whether Rust can take this socket over: a plain TCP socket with a file descriptor. Anything
// else (TLS, pipes, wrapped streams) needs the bridged transport.
function canAdopt(socket) {
  if (forceBridge) {
    return false;
  }
  const handle = socket && socket._handle;
  return Boolean(handle) && !socket.encrypted && !socket.destroyed &&
    handle.constructor && handle.constructor.name === 'TCP' &&
    typeof handle.fd === 'number' && handle.fd >= 0;
}

// Gives a socket to Rust, all in one tick (docs/ARCHITECTURE.md, "Two transports"): stop Node
// reading, collect what it already read, let Rust duplicate the descriptor (and write `response`
// first), then destroy Node's socket, which closes Node's copy of the descriptor without shutting
// the connection down. `chunks` are bytes received after the HTTP head. Returns the connection's
// id.
function handOff(socket, chunks, response, options, deflate, connection) {
  if (!initialised) {
    native.init(dispatch);
    initialised = true;
  }
  socket._handle.readStop();
  if (socket.readableLength > 0) {
    let chunk;
    while ((chunk = socket.read()) !== null) {
      chunks.push(chunk);
    }
  }
  const head = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  const id = native.adopt(socket._handle.fd, head, response, preparedOptions(options), deflate || undefined);
  connections[id] = connection;
  socket.on('error', noop);
  socket.destroy();
  return id;
}

// Drives the Rust connection from a socket Node keeps (TLS, a tunnel, any duplex stream): writes
// `response` (the server's 101), then feeds `chunks` and everything the socket reads after.
// Returns the BridgedSocket (its `id` is the connection's).
function bridge(socket, chunks, response, options, deflate, connection) {
  if (!initialised) {
    native.init(dispatch);
    initialised = true;
  }
  const id = native.bridge(preparedOptions(options), deflate || undefined);
  connections[id] = connection;
  const bridged = new BridgedSocket(native, socket, id);
  connection._attachBridge(bridged);
  // The socket options the adopted transport sets on its descriptor, here on Node's socket.
  if (typeof socket.setNoDelay === 'function') {
    socket.setNoDelay(options.disableNagleAlgorithm !== false);
  }
  if (options.keepalive !== false && options.useNativeKeepalive &&
      typeof socket.setKeepAlive === 'function') {
    socket.setKeepAlive(true, options.keepaliveInterval);
  }
  if (response.length > 0) {
    socket.write(response);
  }
  // Bytes that came with the handshake (and any read meanwhile) are delivered from a later
  // turn of the event loop, as the adopted transport's are: after accept() returns and after
  // the code awaiting the client's 'connect' has run.
  bridged.holdInput(chunks);
  setImmediate(startBridge, bridged);
  return bridged;
}

function startBridge(bridged) {
  bridged.releaseInput();
  if (!bridged.ended && bridged.socket.isPaused() && !bridged.userPaused) {
    bridged.socket.resume();
  }
}

// The connection options of a server's or client's config as Rust prepared them (an opaque
// handle from src/binding/connection.rs prepareOptions): converting the config's fields on every
// handshake was a measurable part of its cost. Kept per config object, and made again when one
// of the fields changed since: the original reads its config for each connection.
const OPTION_FIELDS = ['client', 'maxReceivedFrameSize', 'maxReceivedMessageSize', 'assembleFragments',
  'fragmentOutgoingMessages', 'fragmentationThreshold', 'keepalive', 'keepaliveInterval',
  'dropConnectionOnKeepaliveTimeout', 'keepaliveGracePeriod', 'useNativeKeepalive', 'closeTimeout',
  'disableNagleAlgorithm'];
const prepared = new WeakMap();

function preparedOptions(config) {
  const known = prepared.get(config);
  if (known !== undefined) {
    let same = true;
    for (let i = 0; i < OPTION_FIELDS.length && same; i++) {
      same = config[OPTION_FIELDS[i]] === known.values[i];
    }
    if (same) {
      return known.handle;
    }
  }
  const handle = native.prepareOptions(config);
  prepared.set(config, { values: OPTION_FIELDS.map((f) => config[f]), handle });
  return handle;
}

// Gives the connection its transport: the socket itself when Rust can take it over, else a
// bridge around it. `deflate`: the permessage-deflate agreement, or null.
function attach(socket, chunks, response, options, deflate, connection) {
  if (canAdopt(socket)) {
    connection._attachNative(handOff(socket, chunks, response, options, deflate, connection));
  } else {
    bridge(socket, chunks, response, options, deflate, connection);
  }
}

// server.broadcast*: queues one message on every connection in `list` with one native call.
function broadcast(list, data, binary) {
  const ids = new Uint32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    ids[i] = list[i]._id;
  }
  afterFanOut(binary ? native.broadcastBinary(ids, data) : native.broadcastText(ids, data), 1);
}

// After a native fan-out: schedules the flush when `result[0]` asks for it, and marks
// `outputBufferFull` on the connections whose ids are listed from `result[first]` on.
function afterFanOut(result, first) {
  if ((result[0] & SCHEDULE_FLUSH) !== 0) {
    module.exports.scheduleFlush();
  }
  for (let i = first; i < result.length; i++) {
    const conn = connections[result[i]];
    if (conn !== undefined) {
      conn.outputBufferFull = true;
    }
  }
}

// Topics (src/binding/topics.rs): publishes `data` (a string: text; a Buffer or Uint8Array:
// binary) on hub `hub` to the subscribers of `topic` but connection id `except` (0: none), with
// one native call. Returns the number of connections it was queued on.
function publish(hub, topic, data, except) {
  const result = typeof data === 'string'
    ? native.publishText(hub, topic, data, except)
    : native.publishBinary(hub, topic, data, except);
  afterFanOut(result, 2);
  return result[1];
}

// Links `server`'s topic hub to other processes through Redis (`pubsub` config); its notices
// arrive as events of the server.
function startBackplane(server, hub, url, prefix, tls) {
  if (!initialised) {
    native.init(dispatch);
    initialised = true;
  }
  native.topicBackplane(hub, url, prefix, tls);
  hubServers[hub] = server;
}

// Topic names: a non-empty string of at most 1 KiB of UTF-8. Throws a TypeError otherwise.
const MAX_TOPIC_BYTES = 1024;
function checkTopic(topic) {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new TypeError('A topic must be a non-empty string');
  }
  if (topic.length > MAX_TOPIC_BYTES / 3 && Buffer.byteLength(topic) > MAX_TOPIC_BYTES) {
    throw new TypeError('A topic must be at most ' + MAX_TOPIC_BYTES + ' bytes of UTF-8');
  }
}

// What publish() sends: a string as text, a Buffer (or any Uint8Array) as binary.
function checkPublishData(data) {
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
    throw new TypeError('publish() takes a string (sent as text) or a Buffer (sent as binary)');
  }
}

// Flag in the first number broadcast* returns (src/binding/connection.rs SCHEDULE_FLUSH).
const SCHEDULE_FLUSH = 2;

module.exports = {
  KIND,
  native,
  canAdopt,
  attach,
  broadcast,
  publish,
  startBackplane,
  checkTopic,
  checkPublishData,

  // Sends made outside a batch are written from a microtask, once per tick.
  scheduleFlush() {
    if (!flushScheduled) {
      flushScheduled = true;
      queueMicrotask(flushNow);
    }
  },
};
