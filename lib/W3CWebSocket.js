'use strict';
// W3CWebSocket: the browser's WebSocket API in Node, on top of WebSocketClient (WebSocket-Node
// 1.0.35's API). Unlike the original, `bufferedAmount` reports the bytes really queued.
const WebSocketClient = require('./WebSocketClient');

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

// A DOM-style event: `type`, `target`, and whatever the event carries.
function makeEvent(type, fields) {
  const event = {
    type: type,
    isTrusted: false,
    target: null,
    currentTarget: null,
    defaultPrevented: false,
    cancelable: false,
    timeStamp: Date.now(),
    preventDefault: function () {
      this.defaultPrevented = true;
    },
    stopImmediatePropagation: function () {},
    stopPropagation: function () {},
  };
  return fields ? Object.assign(event, fields) : event;
}

function domError(name, message) {
  if (typeof DOMException === 'function') {
    return new DOMException(message, name);
  }
  const err = name === 'SyntaxError' ? new SyntaxError(message) : new Error(message);
  err.name = name;
  return err;
}

function W3CWebSocket(url, protocols, origin, headers, requestOptions, clientConfig) {
  clientConfig = Object.assign({}, clientConfig || {});
  clientConfig.assembleFragments = true; // the W3C API delivers whole messages only
  this._listeners = {};
  this._url = url;
  this._readyState = CONNECTING;
  this._protocol = undefined;
  this._extensions = '';
  this._binaryType = 'arraybuffer';
  this._connection = undefined;
  this._closeOnConnect = null;
  this.onopen = null;
  this.onmessage = null;
  this.onerror = null;
  this.onclose = null;

  const self = this;
  this._client = new WebSocketClient(clientConfig);
  this._client.on('connect', function (connection) {
    onConnect.call(self, connection);
  });
  this._client.on('connectFailed', function () {
    onConnectFailed.call(self);
  });
  this._client.connect(url, protocols, origin, headers, requestOptions);
}

const constants = { CONNECTING: CONNECTING, OPEN: OPEN, CLOSING: CLOSING, CLOSED: CLOSED };
for (const name of Object.keys(constants)) {
  Object.defineProperty(W3CWebSocket, name, { value: constants[name], enumerable: true });
  Object.defineProperty(W3CWebSocket.prototype, name, { value: constants[name], enumerable: true });
}

Object.defineProperties(W3CWebSocket.prototype, {
  url: { get: function () { return this._url; } },
  readyState: { get: function () { return this._readyState; } },
  protocol: { get: function () { return this._protocol; } },
  extensions: { get: function () { return this._extensions; } },
  // The bytes queued by send() and not yet written to the socket.
  bufferedAmount: {
    get: function () {
      return this._connection ? this._connection.bufferedAmount : 0;
    },
  },
  binaryType: {
    get: function () {
      return this._binaryType;
    },
    set: function (type) {
      if (type !== 'arraybuffer') {
        throw new SyntaxError('just "arraybuffer" type allowed for "binaryType" attribute');
      }
      this._binaryType = type;
    },
  },
});

W3CWebSocket.prototype.addEventListener = function (type, listener) {
  if (!type || typeof listener !== 'function') {
    return;
  }
  const list = this._listeners[type] || (this._listeners[type] = []);
  if (list.indexOf(listener) === -1) {
    list.push(listener);
  }
};

W3CWebSocket.prototype.removeEventListener = function (type, listener) {
  const list = this._listeners[type];
  if (!list) {
    return;
  }
  const i = list.indexOf(listener);
  if (i !== -1) {
    list.splice(i, 1);
  }
};

// Calls the `on<type>` handler, then the listeners in the order they were added.
W3CWebSocket.prototype.dispatchEvent = function (event) {
  if (!event || typeof event.type !== 'string') {
    throw new TypeError('`event` must have a valid `type` property');
  }
  try {
    event.target = this;
    event.currentTarget = this;
  } catch (e) {
    // a native Event's target is read-only
  }
  // stopImmediatePropagation() must stop the listeners after the current one, whatever kind
  // of event object this is.
  let stopped = false;
  const original = event.stopImmediatePropagation;
  try {
    event.stopImmediatePropagation = function () {
      stopped = true;
      if (typeof original === 'function') {
        original.call(this);
      }
    };
  } catch (e) {
    // a frozen event keeps its own method
  }
  const handler = this['on' + event.type];
  if (typeof handler === 'function') {
    handler.call(this, event);
  }
  const list = (this._listeners[event.type] || []).slice();
  for (const listener of list) {
    if (stopped) {
      break;
    }
    listener.call(this, event);
  }
  return !event.defaultPrevented;
};

W3CWebSocket.prototype.send = function (data) {
  if (this._readyState !== OPEN) {
    throw new Error('cannot call send() while not connected');
  }
  if (typeof data === 'string' || data instanceof String) {
    this._connection.sendUTF(String(data));
  } else if (Buffer.isBuffer(data)) {
    this._connection.sendBytes(data);
  } else if (data instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' &&
      data instanceof SharedArrayBuffer)) {
    this._connection.sendBytes(Buffer.from(data));
  } else if (ArrayBuffer.isView(data)) {
    this._connection.sendBytes(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  } else {
    throw new TypeError('send() takes a string, an ArrayBuffer, a typed array, a DataView or a Buffer');
  }
};

// As the original: a code is passed on to connection.close(), which refuses only codes that may
// not go on the wire (1004-1006, 1015, unassigned ones) with an Error; 1001 and 2000-2999 pass,
// unlike the browser rule (1000, 3000-4999). A missing or 0 code closes with 1000. The reason is
// checked against the 123 bytes a close frame has room for (the original would send an
// oversized control frame).
W3CWebSocket.prototype.close = function (code, reason) {
  if (code) {
    // WebIDL turns the argument into an integer first ('4000' closes with 4000).
    code = Math.trunc(Number(code));
  } else {
    code = undefined;
  }
  if (reason !== undefined && Buffer.byteLength(String(reason)) > 123) {
    throw domError('SyntaxError', 'The close reason must not be greater than 123 UTF-8 bytes.');
  }
  switch (this._readyState) {
    case CONNECTING:
      // Fail the connection now; if the handshake still completes, close at once.
      this._closeOnConnect = { code: code, reason: reason };
      onConnectFailed.call(this);
      break;
    case OPEN:
      this._readyState = CLOSING;
      if (code !== undefined) {
        this._connection.close(code, reason === undefined ? undefined : String(reason));
      } else {
        this._connection.close();
      }
      break;
    default:
      break;
  }
};

function onConnect(connection) {
  const self = this;
  this._readyState = OPEN;
  this._connection = connection;
  this._protocol = connection.protocol;
  this._extensions = connection.extensions;
  connection.on('close', function (code, reason) {
    onClose.call(self, code, reason);
  });
  connection.on('message', function (msg) {
    onMessage.call(self, msg);
  });
  this.dispatchEvent(makeEvent('open'));
}

function onConnectFailed() {
  if (this._readyState === CLOSED) {
    return;
  }
  const pendingClose = this._closeOnConnect;
  this._client.removeAllListeners();
  if (pendingClose) {
    this._client.on('connect', function (connection) {
      connection.close(pendingClose.code || 1000, pendingClose.reason);
    });
    this._client.on('connectFailed', function () {});
  }
  this._readyState = CLOSED;
  try {
    this.dispatchEvent(makeEvent('error'));
  } finally {
    this.dispatchEvent(makeEvent('close', { code: 1006, reason: 'connection failed', wasClean: false }));
  }
}

function onClose(code, reason) {
  this._client.removeAllListeners();
  if (this._connection) {
    this._connection.removeAllListeners();
  }
  this._readyState = CLOSED;
  this.dispatchEvent(makeEvent('close', {
    code: code,
    reason: reason || '',
    // As the original: only a close with 1000 (or none) is clean. Libraries built on it (e.g.
    // web3-providers-ws) reconnect after any other code, 1001 "going away" included.
    wasClean: code === undefined || code === 1000,
  }));
}

function onMessage(message) {
  if (message.type === 'utf8') {
    this.dispatchEvent(makeEvent('message', { data: message.utf8Data }));
  } else if (message.type === 'binary') {
    const b = message.binaryData;
    const data = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
    this.dispatchEvent(makeEvent('message', { data: data }));
  }
}

module.exports = W3CWebSocket;
