'use strict';
// WebSocketConnection: the API of WebSocket-Node 1.0.35's connection. Frames, the close
// handshake, keepalive and timers run in Rust (src/protocol/connection.rs); this class keeps the
// original's properties, methods, events and their order.
const EventEmitter = require('events').EventEmitter;
const util = require('util');
const context = require('./context');
const AdoptedSocket = require('./AdoptedSocket');

const KIND = context.KIND;
const native = context.native;

const STATE_OPEN = 'open';
const STATE_ENDING = 'ending';
const STATE_CLOSED = 'closed';

// Result codes of native sends (src/binding/connection.rs).
const SEND_FULL = 1;
const SEND_SCHEDULE_FLUSH = 2;
const SEND_NOT_OPEN = -1;

// The listener table of a connection. EventEmitter's own is a null-prototype literal, which V8
// keeps in dictionary mode (about 190 bytes with two listeners); an instance of this empty
// constructor has fast properties and a shared shape (about 50 bytes), and its prototype has
// no properties, so looking up an event name like 'toString' still finds nothing.
function ListenerTable() {}
ListenerTable.prototype = Object.create(null);

function WebSocketConnection(socket, extensions, protocol, maskOutgoingPackets, config) {
  this._events = new ListenerTable();
  this._eventsCount = 0;
  EventEmitter.call(this);

  this.config = config;
  // After the hand-off `socket` becomes an AdoptedSocket, made when first read.
  this._socket = socket;
  this.protocol = protocol;
  this.extensions = extensions;
  this.remoteAddress = socket ? socket.remoteAddress : undefined;
  if (maskOutgoingPackets) {
    this.maskOutgoingPackets = true;
  }
  // closeReasonCode, closeDescription, connected, state and the other flags start with the
  // values on the prototype and become own properties only when they change: an idle
  // connection's object stays small.

  if (config.keepalive && !config.useNativeKeepalive) {
    if (typeof config.keepaliveInterval !== 'number') {
      throw new Error('keepaliveInterval must be specified and numeric if keepalive is true.');
    }
    if (config.dropConnectionOnKeepaliveTimeout &&
        typeof config.keepaliveGracePeriod !== 'number') {
      throw new Error('keepaliveGracePeriod  must be specified and numeric if ' +
        'dropConnectionOnKeepaliveTimeout is true.');
    }
  }

  // The native connection's id, 0 until the socket is handed to Rust and after it is gone.
  this._id = 0;
  this._adoptedId = 0;
}

util.inherits(WebSocketConnection, EventEmitter);

// Read from the config unless set on the connection (as the original's own properties were).
for (const name of ['closeTimeout', 'assembleFragments', 'maxReceivedMessageSize']) {
  Object.defineProperty(WebSocketConnection.prototype, name, {
    configurable: true,
    enumerable: true,
    get: function () {
      return this.config[name];
    },
    set: function (value) {
      Object.defineProperty(this, name, { value: value, writable: true, enumerable: true, configurable: true });
    },
  });
}

// Initial values, shared through the prototype (see the constructor).
Object.assign(WebSocketConnection.prototype, {
  maskOutgoingPackets: false,
  closeReasonCode: -1,
  closeDescription: null,
  closeEventEmitted: false,
  connected: true,
  state: STATE_OPEN,
  waitingForCloseResponse: false,
  outputBufferFull: false,
  inputPaused: false,
  // Send callbacks by token, made on the first send with a callback.
  _callbacks: null,
  // The WebSocketServer that accepted this connection (null for a client's): its bookkeeping
  // runs just before the 'close' event, without a listener closure per connection, and its
  // topic hub holds this connection's subscriptions.
  _server: null,
  // The topics this connection subscribes to (a Set), made on the first subscribe().
  _topics: null,
  // The BridgedSocket when Node keeps the socket (TLS, tunnels, duplex streams).
  _bridge: null,
});

// The original's per-connection debug logger, as scripts copied from WebSocket-Node's own
// (test/scripts/echo-server.js calls `connection._debug.printOutput()` on close) expect it with
// debugging off: a function that logs nothing, `enabled` false, `printOutput()` a no-op. One
// shared object on the prototype, so a connection pays nothing for it; it records nothing.
function debugOff() {}
debugOff.enabled = false;
debugOff.printOutput = function printOutput() {};
WebSocketConnection.prototype._debug = debugOff;

// Topics (websocket-rs extension; the original has none). A connection of a WebSocketServer
// subscribes to topics of that server; server.publish() and connection.publish() reach every
// subscriber with one native call. A closed connection leaves its topics.

// Subscribes to `topic`. Returns true if it was not subscribed before, false otherwise (or when
// the connection is closed).
WebSocketConnection.prototype.subscribe = function (topic) {
  context.checkTopic(topic);
  if (this._server === null) {
    throw new Error('subscribe() is for connections accepted by a WebSocketServer');
  }
  if (this.state === STATE_CLOSED || this._id === 0) {
    return false;
  }
  if (!native.topicSubscribe(this._server._topicHub(), this._id, topic)) {
    return false;
  }
  (this._topics || (this._topics = new Set())).add(topic);
  return true;
};

// Unsubscribes from `topic`. Returns true if it was subscribed.
WebSocketConnection.prototype.unsubscribe = function (topic) {
  context.checkTopic(topic);
  if (this._topics === null || !this._topics.delete(topic)) {
    return false;
  }
  native.topicUnsubscribe(this._server._hub, this._id, [topic]);
  return true;
};

WebSocketConnection.prototype.isSubscribed = function (topic) {
  context.checkTopic(topic);
  return this._topics !== null && this._topics.has(topic);
};

Object.defineProperty(WebSocketConnection.prototype, 'topics', {
  configurable: true,
  enumerable: true,
  get() {
    return this._topics === null ? [] : Array.from(this._topics);
  },
});

// Sends `data` to every other subscriber of `topic` on this connection's server (a string as
// text, a Buffer as binary). Returns the number of connections it was queued on.
WebSocketConnection.prototype.publish = function (topic, data) {
  context.checkTopic(topic);
  context.checkPublishData(data);
  if (this._server === null) {
    throw new Error('publish() is for connections accepted by a WebSocketServer');
  }
  const hub = this._server._hub;
  return hub === 0 ? 0 : context.publish(hub, topic, data, this._id);
};

WebSocketConnection.prototype._leaveTopics = function () {
  const topics = Array.from(this._topics);
  this._topics = null;
  if (this._id !== 0) {
    native.topicUnsubscribe(this._server._hub, this._id, topics);
  }
};

// Tokens for send callbacks; unique across the environment, which is more than needed.
let nextToken = 1;

// Pings are answered in Rust unless the application listens for them. The listener methods
// are wrapped on the prototype, so a connection carries no listeners of its own for this.
for (const name of ['on', 'addListener', 'prependListener', 'once', 'prependOnceListener']) {
  const base = EventEmitter.prototype[name];
  WebSocketConnection.prototype[name] = function (event, listener) {
    const result = base.call(this, event, listener);
    if (event === 'ping') {
      this._syncPingListeners();
    }
    return result;
  };
}
for (const name of ['removeListener', 'off', 'removeAllListeners']) {
  const base = EventEmitter.prototype[name];
  WebSocketConnection.prototype[name] = function (event, listener) {
    const result = base.apply(this, arguments);
    if (event === 'ping' || event === undefined) {
      this._syncPingListeners();
    }
    return result;
  };
}

// A server connection's remoteAddresses is the request's array; made on first read when the
// request never made it. A client connection has none, as in the original.
Object.defineProperty(WebSocketConnection.prototype, 'remoteAddresses', {
  configurable: true,
  enumerable: true,
  get: function () {
    if (this._remoteAddresses === undefined && !this.maskOutgoingPackets &&
        this.remoteAddress !== undefined) {
      this._remoteAddresses = [this.remoteAddress];
    }
    return this._remoteAddresses;
  },
  set: function (value) {
    this._remoteAddresses = value;
  },
});

Object.defineProperty(WebSocketConnection.prototype, 'socket', {
  get: function () {
    if (this._socket === null && this._adoptedId !== 0) {
      this._socket = new AdoptedSocket(this, this._adoptedId, native.addresses(this._adoptedId));
    }
    return this._socket;
  },
  set: function (value) {
    this._socket = value;
  },
});

WebSocketConnection.CLOSE_REASON_NORMAL = 1000;
WebSocketConnection.CLOSE_REASON_GOING_AWAY = 1001;
WebSocketConnection.CLOSE_REASON_PROTOCOL_ERROR = 1002;
WebSocketConnection.CLOSE_REASON_UNPROCESSABLE_INPUT = 1003;
WebSocketConnection.CLOSE_REASON_RESERVED = 1004;
WebSocketConnection.CLOSE_REASON_NOT_PROVIDED = 1005;
WebSocketConnection.CLOSE_REASON_ABNORMAL = 1006;
WebSocketConnection.CLOSE_REASON_INVALID_DATA = 1007;
WebSocketConnection.CLOSE_REASON_POLICY_VIOLATION = 1008;
WebSocketConnection.CLOSE_REASON_MESSAGE_TOO_BIG = 1009;
WebSocketConnection.CLOSE_REASON_EXTENSION_REQUIRED = 1010;
WebSocketConnection.CLOSE_REASON_INTERNAL_SERVER_ERROR = 1011;
WebSocketConnection.CLOSE_REASON_TLS_HANDSHAKE_FAILED = 1015;

WebSocketConnection.CLOSE_DESCRIPTIONS = {
  1000: 'Normal connection closure',
  1001: 'Remote peer is going away',
  1002: 'Protocol error',
  1003: 'Unprocessable input',
  1004: 'Reserved',
  1005: 'Reason not provided',
  1006: 'Abnormal closure, no further detail available',
  1007: 'Invalid data received',
  1008: 'Policy violation',
  1009: 'Message too big',
  1010: 'Extension requested by client is required',
  1011: 'Internal Server Error',
  1015: 'TLS Handshake Failed',
};

// Codes an endpoint may put in a close frame (RFC 6455 §7.4): the Rust core's rule, the same it
// applies to received close frames.
function isValidCloseCode(code) {
  return typeof code === 'number' && native.isValidCloseCode(code);
}
WebSocketConnection.isValidCloseCode = isValidCloseCode;

// Called by WebSocketRequest once the native side owns the socket.
WebSocketConnection.prototype._attachNative = function (id) {
  this._id = id;
  this._adoptedId = id;
  this._socket = null;
  if (this.listenerCount('ping') > 0) {
    native.setAppHandlesPings(id, true);
  }
};

// Called when the socket stays with Node and a BridgedSocket drives the Rust connection.
WebSocketConnection.prototype._attachBridge = function (bridged) {
  this._id = bridged.id;
  this._bridge = bridged;
  if (this.listenerCount('ping') > 0) {
    native.setAppHandlesPings(bridged.id, true);
  }
};

WebSocketConnection.prototype._syncPingListeners = function () {
  if (this._id !== 0) {
    native.setAppHandlesPings(this._id, this.listenerCount('ping') > 0);
  }
};

WebSocketConnection.prototype._handleNativeEvent = function (kind, number, value) {
  switch (kind) {
    // Whole messages come only when fragments are assembled (assembleFragments: false gives
    // FRAME events instead, and, as in the original, no 'message').
    case KIND.TEXT:
      this.emit('message', { type: 'utf8', utf8Data: value });
      return;
    case KIND.BINARY:
      this.emit('message', { type: 'binary', binaryData: value });
      return;
    case KIND.PING:
      this._handlePing(value);
      return;
    case KIND.PONG:
      this.emit('pong', value);
      return;
    case KIND.DRAIN:
      this.outputBufferFull = false;
      this.emit('drain');
      return;
    case KIND.SENT:
      this._completeSend(number, undefined);
      return;
    case KIND.SEND_FAILED:
      this._completeSend(number, writeAfterEnd());
      return;
    case KIND.ERROR:
      this._handleError(value);
      return;
    case KIND.FRAME:
      this._emitFrame(number, value);
      return;
    case KIND.CLOSED:
      this._handleClosed(number, value);
      return;
    case KIND.SERVICE:
      if (this._bridge !== null) {
        this._bridge.service(number, value);
      }
      return;
    case KIND.GONE:
      this._id = 0;
      return;
  }
};

WebSocketConnection.prototype._handlePing = function (data) {
  let cancelled = false;
  const cancel = function () {
    cancelled = true;
  };
  this.emit('ping', cancel, data);
  if (!cancelled) {
    this.pong(data);
  }
};

WebSocketConnection.prototype._handleError = function (description) {
  const parts = description.split(' ');
  const err = new Error(description);
  err.syscall = parts[0];
  err.code = parts[1];
  err.errno = parts[1];
  if (this.listenerCount('error') > 0) {
    this.emit('error', err);
  }
};

// The socket's details are kept for code that reads them after the close.
WebSocketConnection.prototype._keepSocketDetails = function () {
  if (this._socket === null && this._adoptedId !== 0) {
    this.socket._counts();
  }
};

WebSocketConnection.prototype._handleClosed = function (code, description) {
  this._keepSocketDetails();
  this.connected = false;
  this.state = STATE_CLOSED;
  this.closeReasonCode = code;
  this.closeDescription = description !== undefined
    ? description
    : WebSocketConnection.CLOSE_DESCRIPTIONS[code];
  this._emitClose();
};

WebSocketConnection.prototype._emitClose = function () {
  if (!this.closeEventEmitted) {
    this.closeEventEmitted = true;
    if (this._topics !== null) {
      this._leaveTopics();
    }
    if (this._server !== null) {
      this._server._handlers.connectionClosed(this, this.closeReasonCode, this.closeDescription);
    }
    this.emit('close', this.closeReasonCode, this.closeDescription);
  }
};

WebSocketConnection.prototype._emitFrame = function (head, payload) {
  const WebSocketFrame = require('./WebSocketFrame');
  const frame = new WebSocketFrame(undefined, undefined, this.config);
  frame.fin = (head & 0x80) !== 0;
  frame.rsv1 = (head & 0x40) !== 0;
  frame.rsv2 = (head & 0x20) !== 0;
  frame.rsv3 = (head & 0x10) !== 0;
  frame.mask = false;
  frame.opcode = head & 0x0F;
  frame.length = payload.length;
  frame.binaryPayload = payload;
  if (frame.opcode === 0x08 && payload.length >= 2) {
    frame.closeStatus = payload.readUInt16BE(0);
    frame.binaryPayload = payload.subarray(2);
  }
  frame.parseState = 6;
  this.emit('frame', frame);
};

function writeAfterEnd() {
  const err = new Error('write after end');
  err.code = 'ERR_STREAM_WRITE_AFTER_END';
  return err;
}

WebSocketConnection.prototype._token = function (cb) {
  if (typeof cb !== 'function') {
    return undefined;
  }
  if (this._callbacks === null) {
    this._callbacks = new Map();
  }
  const token = nextToken;
  nextToken = (nextToken + 1) >>> 0 || 1;
  this._callbacks.set(token, cb);
  return token;
};

WebSocketConnection.prototype._completeSend = function (token, err) {
  const cb = this._callbacks && this._callbacks.get(token);
  if (cb) {
    this._callbacks.delete(token);
    if (this._callbacks.size === 0) {
      this._callbacks = null;
    }
    cb(err);
  }
};

// Applies a native send's result: outputBufferFull, the flush, or the failure of a send on a
// closed connection (its callback gets the error the original's socket would give).
WebSocketConnection.prototype._afterSend = function (result, token) {
  if (result === SEND_NOT_OPEN) {
    if (token !== undefined) {
      const self = this;
      process.nextTick(function () {
        self._completeSend(token, writeAfterEnd());
      });
    }
    return false;
  }
  if (result & SEND_SCHEDULE_FLUSH) {
    context.scheduleFlush();
  }
  this.outputBufferFull = (result & SEND_FULL) !== 0;
  return !this.outputBufferFull;
};

// Each send takes an optional options object before the callback (a websocket-rs extension):
// { compress: false } sends that message uncompressed when permessage-deflate is on, for a
// secret next to data an attacker chooses (RFC 7692 section 8).
function sendFlags(options) {
  return options !== null && typeof options === 'object' && options.compress === false ? 1 : 0;
}

WebSocketConnection.prototype.send = function (data, cb) {
  if (cb !== null && typeof cb === 'object') {
    const options = cb;
    cb = arguments[2];
    if (Buffer.isBuffer(data)) {
      this.sendBytes(data, options, cb);
    } else if (data !== null && data !== undefined && typeof data.toString === 'function') {
      this.sendUTF(data, options, cb);
    } else {
      throw new Error('Data provided must either be a Node Buffer or implement toString()');
    }
  } else if (Buffer.isBuffer(data)) {
    this.sendBytes(data, cb);
  } else if (data !== null && data !== undefined && typeof data.toString === 'function') {
    this.sendUTF(data, cb);
  } else {
    throw new Error('Data provided must either be a Node Buffer or implement toString()');
  }
};

WebSocketConnection.prototype.sendUTF = function (data, cb) {
  if (data === null || data === undefined || typeof data.toString !== 'function') {
    throw new TypeError('sendUTF() needs a string or an object that implements toString()');
  }
  const text = typeof data === 'string' ? data : data.toString();
  let flags = 0;
  if (cb !== null && typeof cb === 'object') {
    flags = sendFlags(cb);
    cb = arguments[2];
  }
  const token = this._token(cb);
  const result = this._id === 0 ? SEND_NOT_OPEN : native.sendText(this._id, text, token, flags);
  return this._afterSend(result, token);
};

WebSocketConnection.prototype.sendBytes = function (data, cb) {
  if (!Buffer.isBuffer(data)) {
    throw new Error('You must pass a Node Buffer object to WebSocketConnection.prototype.sendBytes()');
  }
  let flags = 0;
  if (cb !== null && typeof cb === 'object') {
    flags = sendFlags(cb);
    cb = arguments[2];
  }
  const token = this._token(cb);
  const result = this._id === 0 ? SEND_NOT_OPEN : native.sendBinary(this._id, data, token, flags);
  return this._afterSend(result, token);
};

function controlPayload(data) {
  if (data === undefined || data === null || data === '') {
    return EMPTY;
  }
  if (!Buffer.isBuffer(data)) {
    data = Buffer.from(data.toString(), 'utf8');
  }
  return data;
}
const EMPTY = Buffer.alloc(0);

WebSocketConnection.prototype.ping = function (data) {
  if (this._id !== 0) {
    this._afterSend(native.ping(this._id, controlPayload(data)), undefined);
  }
};

WebSocketConnection.prototype.pong = function (binaryPayload) {
  if (this._id !== 0) {
    this._afterSend(native.pong(this._id, controlPayload(binaryPayload)), undefined);
  }
};

WebSocketConnection.prototype.sendFrame = function (frame, cb) {
  frame.mask = this.maskOutgoingPackets;
  const bytes = frame.toBuffer();
  const token = this._token(cb);
  const result = this._id === 0 ? SEND_NOT_OPEN : native.sendEncoded(this._id, bytes, token);
  return this._afterSend(result, token);
};

WebSocketConnection.prototype.close = function (reasonCode, description) {
  if (!this.connected) {
    return;
  }
  if (typeof reasonCode !== 'number') {
    reasonCode = WebSocketConnection.CLOSE_REASON_NORMAL;
  }
  if (!isValidCloseCode(reasonCode)) {
    throw new Error('Close code ' + reasonCode + ' is not valid.');
  }
  if (typeof description !== 'string') {
    description = WebSocketConnection.CLOSE_DESCRIPTIONS[reasonCode] || '';
  }
  this.closeReasonCode = reasonCode;
  this.closeDescription = description;
  this.waitingForCloseResponse = true;
  this.state = STATE_ENDING;
  this.connected = false;
  if (this._id !== 0) {
    native.close(this._id, reasonCode, description);
  }
};

WebSocketConnection.prototype.drop = function (reasonCode, description, skipCloseFrame) {
  if (typeof reasonCode !== 'number') {
    reasonCode = WebSocketConnection.CLOSE_REASON_PROTOCOL_ERROR;
  }
  if (typeof description !== 'string') {
    description = WebSocketConnection.CLOSE_DESCRIPTIONS[reasonCode];
  }
  this.closeReasonCode = reasonCode;
  this.closeDescription = description;
  this.connected = false;
  this.state = STATE_CLOSED;
  this._keepSocketDetails();
  if (this._id !== 0) {
    // A code that may not go on the wire (1005, 1006, ...) is never put in a close frame.
    const skip = Boolean(skipCloseFrame) || !isValidCloseCode(reasonCode);
    native.drop(this._id, reasonCode, description === undefined ? null : description, skip);
  }
  this._emitClose();
};

WebSocketConnection.prototype.pause = function () {
  if (this._bridge !== null) {
    this._bridge.pause();
  } else if (this._id !== 0) {
    native.setPaused(this._id, true);
  }
  this.inputPaused = true;
  this.emit('pause');
};

WebSocketConnection.prototype.resume = function () {
  if (this._bridge !== null) {
    this._bridge.resume();
  } else if (this._id !== 0) {
    native.setPaused(this._id, false);
  }
  this.inputPaused = false;
  this.emit('resume');
};

// The number of bytes queued and not yet written to the socket.
Object.defineProperty(WebSocketConnection.prototype, 'bufferedAmount', {
  get: function () {
    if (this._bridge !== null) {
      return this._id === 0 ? (this._socket.writableLength || 0) : this._bridge.buffered();
    }
    return this._id === 0 ? 0 : native.bufferedAmount(this._id);
  },
});

module.exports = WebSocketConnection;
