'use strict';
// WebSocketClient: opens connections to WebSocket servers (WebSocket-Node 1.0.35's API). The
// HTTP handshake is Node's `http.request` (so agents, request options and headers behave as
// usual); after a valid 101 the socket is handed to Rust, which masks every outgoing frame
// with a key from the OS's cryptographic generator.
const EventEmitter = require('events').EventEmitter;
const http = require('http');
const https = require('https');
const url = require('url');
const util = require('util');
const context = require('./context');
const deflate = require('./deflate');
const http2 = require('./http2');
const WebSocketConnection = require('./WebSocketConnection');

const native = context.native;

// Request options the TLS options may not override.
const excludedTlsOptions = ['hostname', 'port', 'method', 'path', 'headers'];

// Copies `source`'s own properties but the `excluded` names onto `target`; returns `target`.
function copyOwn(target, source, excluded) {
  for (const key in source) {
    if (Object.prototype.hasOwnProperty.call(source, key) && excluded.indexOf(key) === -1) {
      target[key] = source[key];
    }
  }
  return target;
}

function WebSocketClient(config) {
  EventEmitter.call(this);
  this.config = {
    maxReceivedFrameSize: 0x100000,
    maxReceivedMessageSize: 0x800000,
    fragmentOutgoingMessages: true,
    fragmentationThreshold: 0x4000,
    webSocketVersion: 13,
    assembleFragments: true,
    disableNagleAlgorithm: true,
    closeTimeout: 5000,
    tlsOptions: {},
  };
  if (config) {
    const tlsOptions = config.tlsOptions || {};
    for (const key in config) {
      if (key !== 'tlsOptions') {
        this.config[key] = config[key];
      }
    }
    Object.assign(this.config.tlsOptions, tlsOptions);
  }
  this._req = null;
  if (this.config.webSocketVersion !== 8 && this.config.webSocketVersion !== 13) {
    throw new Error('Requested webSocketVersion is not supported. Allowed values are 8 and 13.');
  }
  // permessage-deflate (websocket-rs extension, off unless asked for)
  this._deflate = deflate.normalize(this.config.perMessageDeflate);
  this._agreed = null;
}

util.inherits(WebSocketClient, EventEmitter);

WebSocketClient.prototype.connect = function (requestUrl, protocols, origin, headers, extraRequestOptions) {
  const self = this;
  if (typeof protocols === 'string') {
    protocols = protocols.length > 0 ? [protocols] : [];
  }
  if (!Array.isArray(protocols)) {
    protocols = [];
  }
  this.protocols = protocols;
  this.origin = origin;
  this.url = typeof requestUrl === 'string' ? url.parse(requestUrl) : requestUrl;
  if (!this.url || !this.url.protocol) {
    throw new Error('You must specify a full WebSocket URL, including protocol.');
  }
  if (!this.url.host) {
    throw new Error('You must specify a full WebSocket URL, including hostname. ' +
      'Relative URLs are not supported.');
  }
  if (this.url.protocol !== 'ws:' && this.url.protocol !== 'wss:') {
    throw new Error('Unsupported URL scheme "' + this.url.protocol + '": use ws: or wss:.');
  }
  this.secure = this.url.protocol === 'wss:';

  for (const protocol of this.protocols) {
    const text = String(protocol);
    for (let i = 0; i < text.length; i++) {
      if (!native.isToken(text.charAt(i))) {
        throw new Error('Protocol list contains invalid character "' + text.charAt(i) + '"');
      }
    }
  }

  if (!this.url.port) {
    this.url.port = this.secure ? '443' : '80';
  }
  this.base64nonce = native.generateKey();

  let host = this.url.hostname;
  if ((!this.secure && this.url.port !== '80') || (this.secure && this.url.port !== '443')) {
    host += ':' + this.url.port;
  }
  const reqHeaders = {};
  if (this.secure && Object.prototype.hasOwnProperty.call(this.config.tlsOptions, 'headers')) {
    Object.assign(reqHeaders, this.config.tlsOptions.headers);
  }
  if (headers) {
    Object.assign(reqHeaders, headers);
  }
  Object.assign(reqHeaders, {
    'Upgrade': 'websocket',
    'Connection': 'Upgrade',
    'Sec-WebSocket-Version': this.config.webSocketVersion.toString(10),
    'Sec-WebSocket-Key': this.base64nonce,
    'Host': reqHeaders.Host || host,
  });
  if (this.protocols.length > 0) {
    reqHeaders['Sec-WebSocket-Protocol'] = this.protocols.join(', ');
  }
  if (this._deflate) {
    reqHeaders['Sec-WebSocket-Extensions'] = deflate.offer(this._deflate);
  }
  if (this.origin) {
    if (this.config.webSocketVersion === 13) {
      reqHeaders['Origin'] = this.origin;
    } else {
      reqHeaders['Sec-WebSocket-Origin'] = this.origin;
    }
  }

  let path;
  if (this.url.pathname) {
    path = this.url.path;
  } else if (this.url.path) {
    path = '/' + this.url.path;
  } else {
    path = '/';
  }

  if (extraRequestOptions && extraRequestOptions.http2 === true) {
    this._connectHttp2(host, path, reqHeaders, extraRequestOptions);
    return;
  }

  const requestOptions = { agent: false };
  if (extraRequestOptions) {
    Object.assign(requestOptions, extraRequestOptions);
  }
  Object.assign(requestOptions, {
    hostname: this.url.hostname,
    port: this.url.port,
    method: 'GET',
    path: path,
    headers: reqHeaders,
  });
  if (this.secure) {
    copyOwn(requestOptions, this.config.tlsOptions, excludedTlsOptions);
  }

  let settled = false;
  function fail(error) {
    if (!settled) {
      settled = true;
      self._req = null;
      self.emit('connectFailed', error);
    }
  }

  const req = this._req = (this.secure ? https : http).request(requestOptions);
  req.on('upgrade', function (response, socket, head) {
    if (settled) {
      socket.destroy();
      return;
    }
    settled = true;
    self._req = null;
    self.socket = socket;
    self.response = response;
    self.firstDataChunk = head;
    self.validateHandshake();
  });
  req.on('error', fail);
  req.on('response', function (response) {
    if (settled) {
      return;
    }
    settled = true;
    self._req = null;
    if (response.statusCode === 101) {
      // Node's parser only treats a 101 as an upgrade when it carries Upgrade and Connection.
      response.resume();
      self.socket = response.socket;
      self.failHandshake(!response.headers['upgrade']
        ? 'Expected an Upgrade: websocket header from the server'
        : 'Expected a Connection: Upgrade header from the server');
      return;
    }
    if (self.listenerCount('httpResponse') > 0) {
      self.emit('httpResponse', response, self);
      if (response.socket) {
        response.socket.end();
      }
    } else {
      const lines = [];
      for (const name in response.headers) {
        lines.push(name + ': ' + response.headers[name]);
      }
      response.resume();
      self.failHandshake('Server responded with a non-101 status: ' + response.statusCode + ' ' +
        response.statusMessage + '\nResponse Headers Follow:\n' + lines.join('\n') + '\n');
    }
  });
  req.end();
};

// The WebSocket as a stream of an HTTP/2 session (RFC 8441; websocket-rs extension, asked for
// with `{ http2: true }` as the request options): one session per origin and TLS options, shared
// by its WebSockets; the server must have sent SETTINGS_ENABLE_CONNECT_PROTOCOL.
WebSocketClient.prototype._connectHttp2 = function (authority, path, reqHeaders, extraRequestOptions) {
  const self = this;
  const sessionOptions = copyOwn({}, extraRequestOptions, ['http2', 'agent', 'headers', 'method', 'path']);
  if (this.secure) {
    copyOwn(sessionOptions, this.config.tlsOptions, excludedTlsOptions);
  }
  const origin = (this.secure ? 'https://' : 'http://') + this.url.hostname.replace(/^([^[].*:.*)$/, '[$1]') +
    ':' + this.url.port;
  this._req = http2.connect(origin, sessionOptions, authority, this.secure ? 'https' : 'http', path,
    http2.requestHeaders(reqHeaders), function (err, stream, headers) {
      self._req = null;
      if (err) {
        self.emit('connectFailed', err);
        return;
      }
      self.socket = stream;
      self.response = { statusCode: headers[':status'], headers: headers, http2: true };
      if (headers[':status'] !== 200) {
        const lines = [];
        for (const name in headers) {
          lines.push(name + ': ' + headers[name]);
        }
        self.failHandshake('Server responded with a non-200 status: ' + headers[':status'] +
          '\nResponse Headers Follow:\n' + lines.join('\n') + '\n');
        return;
      }
      self.validateHandshake();
    });
};

WebSocketClient.prototype.validateHandshake = function () {
  const headers = this.response.headers;
  if (this.protocols.length > 0) {
    this.protocol = headers['sec-websocket-protocol'];
    if (this.protocol) {
      if (this.protocols.indexOf(this.protocol) === -1) {
        this.failHandshake('Server did not respond with a requested protocol.');
        return;
      }
    } else {
      this.failHandshake('Expected a Sec-WebSocket-Protocol header.');
      return;
    }
  } else if (headers['sec-websocket-protocol']) {
    this.failHandshake('Server responded with a subprotocol (' + headers['sec-websocket-protocol'] +
      ') that was not requested.');
    return;
  }
  if (this.response.http2) {
    // RFC 8441: a 200 to the extended CONNECT, with no Upgrade, Connection or accept key
    this._checkExtensions(headers);
    return;
  }
  if (!(headers['connection'] && /(^|,)\s*upgrade\s*(,|$)/i.test(headers['connection']))) {
    this.failHandshake('Expected a Connection: Upgrade header from the server');
    return;
  }
  if (!(headers['upgrade'] && headers['upgrade'].toLocaleLowerCase() === 'websocket')) {
    this.failHandshake('Expected an Upgrade: websocket header from the server');
    return;
  }
  const expected = native.acceptKey(this.base64nonce);
  if (!headers['sec-websocket-accept']) {
    this.failHandshake('Expected Sec-WebSocket-Accept header from server');
    return;
  }
  if (headers['sec-websocket-accept'] !== expected) {
    this.failHandshake('Sec-WebSocket-Accept header from server didn\'t match expected value of ' +
      expected);
    return;
  }
  this._checkExtensions(headers);
};

// The last check of a handshake, on the extensions the server agreed to; then the connection.
WebSocketClient.prototype._checkExtensions = function (headers) {
  this._agreed = null;
  if (this._deflate) {
    try {
      this._agreed = deflate.checkAnswer(this._deflate, headers['sec-websocket-extensions']);
    } catch (err) {
      this.failHandshake(err.message);
      return;
    }
  }
  this.succeedHandshake();
};

WebSocketClient.prototype.failHandshake = function (errorDescription) {
  if (this.socket) {
    this.socket.on('error', function () {});
    this.socket.destroy();
  }
  this.emit('connectFailed', new Error(errorDescription));
};

WebSocketClient.prototype.succeedHandshake = function () {
  const socket = this.socket;
  const agreed = this._agreed;
  const options = Object.assign({}, this.config, { client: true });
  const connection = new WebSocketConnection(socket, agreed ? agreed.extensions : [],
    this.protocol, true, this.config);
  connection.webSocketVersion = this.config.webSocketVersion;
  const chunks = this.firstDataChunk && this.firstDataChunk.length > 0 ? [this.firstDataChunk] : [];
  this.firstDataChunk = null;
  try {
    context.attach(socket, chunks, EMPTY, options, agreed ? agreed.agreed : null, connection);
  } catch (err) {
    this.failHandshake('websocket-rs could not take over the socket: ' + err.message);
    return;
  }
  this.emit('connect', connection);
};

const EMPTY = Buffer.alloc(0);

// As the original's `req.abort()`: once the TCP connection is up (the handshake is waiting for
// the server), Node reports "socket hang up" and that becomes `connectFailed`; before the socket
// connects, Node reports nothing and no event follows.
WebSocketClient.prototype.abort = function () {
  if (this._req) {
    const req = this._req;
    this._req = null;
    // abort(), not destroy(): only abort() stays silent for a request whose socket is not yet
    // connected, and the original relies on both behaviours.
    req.abort();
  }
};

module.exports = WebSocketClient;
