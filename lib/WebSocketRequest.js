'use strict';
// WebSocketRequest: a client's upgrade request, to accept or reject (WebSocket-Node 1.0.35's
// API). The HTTP part of the handshake stays here; on accept the socket goes to Rust, which
// writes the 101 response and runs the connection.
const EventEmitter = require('events').EventEmitter;
const http = require('http');
const url = require('url');
const util = require('util');
const native = require('./native');
const context = require('./context');
const deflate = require('./deflate');
const WebSocketConnection = require('./WebSocketConnection');
const http2 = require('./http2');

const headerValueSplit = /,\s*/;
const headerParamSplit = /;\s*/;
const lineBreaks = /[\r\n]/g;
const cookieSeparator = /[;,] */;
// Cookie name and value characters (RFC 6265 §4.1.1).
const badCookieNameChar = /([\x00-\x20\x22\x28\x29\x2c\x2f\x3a-\x3f\x40\x5b-\x5e\x7b\x7d\x7f])/;
const badCookieValueChar = /[^\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]/;
const quotedCookieValue = /^"[^"]*"$/;
const controlCharsAndSemicolon = /[\x00-\x20\x3b]/g;


function WebSocketRequest(socket, httpRequest, serverConfig, http2Stream) {
  EventEmitter.call(this);
  this.socket = socket;
  this.httpRequest = httpRequest;
  this.resource = httpRequest.url;
  // An extended CONNECT over HTTP/2 (RFC 8441): `socket` is the stream; the address is its
  // session's socket's.
  this._http2 = http2Stream === true;
  this.remoteAddress = this._http2 ? http2.remoteAddressOf(socket) : socket.remoteAddress;
  this.serverConfig = serverConfig;
  this._socketIsClosing = false;
  this._resolved = false;
  this._head = null;
  this._received = [];

  // Until accept() or reject(), keep reading the socket so that a peer that goes away is
  // noticed (and its bytes kept), and keep an error listener so that a reset cannot become an
  // uncaught exception (which kills the original).
  this._socketCloseHandler = this._handleSocketCloseBeforeAccept.bind(this);
  this._socketDataHandler = this._handleSocketDataBeforeAccept.bind(this);
  this._socketErrorHandler = function () {};
  socket.on('end', this._socketCloseHandler);
  socket.on('close', this._socketCloseHandler);
  socket.on('error', this._socketErrorHandler);
  socket.on('data', this._socketDataHandler);
}

util.inherits(WebSocketRequest, EventEmitter);


WebSocketRequest.prototype.readHandshake = function () {
  const headers = this.httpRequest.headers;
  if (this._http2) {
    // RFC 8441 section 4: the host is :authority, and there is no key to answer
    this.host = headers[':authority'];
    if (!this.host) {
      throw new Error('Client must provide an :authority pseudo-header.');
    }
  } else {
    this.host = headers['host'];
    if (!this.host) {
      throw new Error('Client must provide a Host header.');
    }
    this.key = headers['sec-websocket-key'];
    if (!this.key) {
      throw new Error('Client must provide a value for Sec-WebSocket-Key.');
    }
    if (!native.isValidKey(String(this.key))) {
      throw new Error('Sec-WebSocket-Key must be the base64 encoding of 16 bytes.');
    }
  }
  this.webSocketVersion = parseInt(headers['sec-websocket-version'], 10);
  if (!this.webSocketVersion || isNaN(this.webSocketVersion)) {
    throw new Error('Client must provide a value for Sec-WebSocket-Version.');
  }
  if ((this.webSocketVersion !== 8 || this._http2) && this.webSocketVersion !== 13) {
    const e = new Error('Unsupported websocket client version: ' + this.webSocketVersion +
      (this._http2 ? '. Only version 13 is supported over HTTP/2.'
        : '. Only versions 8 and 13 are supported.'));
    e.httpCode = 426;
    e.headers = { 'Sec-WebSocket-Version': '13' };
    throw e;
  }
  this.origin = this.webSocketVersion === 13 ? headers['origin'] : headers['sec-websocket-origin'];

  this.protocolFullCaseMap = {};
  this.requestedProtocols = [];
  const protocols = headers['sec-websocket-protocol'];
  if (protocols) {
    for (const protocol of protocols.split(headerValueSplit)) {
      const lower = protocol.toLocaleLowerCase();
      this.requestedProtocols.push(lower);
      this.protocolFullCaseMap[lower] = protocol;
    }
  }

  if (!this.serverConfig.ignoreXForwardedFor && headers['x-forwarded-for']) {
    const peer = this.remoteAddress;
    this.remoteAddresses = headers['x-forwarded-for'].split(headerValueSplit);
    this.remoteAddresses.push(peer);
    this.remoteAddress = this.remoteAddresses[0];
  }

  // resourceURL, requestedExtensions and cookies are parsed when first read (see below).
  this._parsed = true;
};

// [remoteAddress] unless X-Forwarded-For said more; made on first read.
Object.defineProperty(WebSocketRequest.prototype, 'remoteAddresses', {
  configurable: true,
  enumerable: true,
  get: function () {
    if (this._remoteAddresses === undefined && this.remoteAddress !== undefined) {
      this._remoteAddresses = [this.remoteAddress];
    }
    return this._remoteAddresses;
  },
  set: function (value) {
    this._remoteAddresses = value;
  },
});

// Parsed on first read, then kept: most handlers never look at them, and parsing them for
// every handshake was a measurable part of its cost. They can still be assigned.
function lazy(name, compute) {
  const slot = '_' + name;
  Object.defineProperty(WebSocketRequest.prototype, name, {
    configurable: true,
    enumerable: true,
    get: function () {
      if (this[slot] === undefined && this._parsed) {
        this[slot] = compute.call(this);
      }
      return this[slot];
    },
    set: function (value) {
      this[slot] = value;
    },
  });
}

lazy('resourceURL', function () {
  return url.parse(this.resource, true);
});
lazy('requestedExtensions', function () {
  return this.serverConfig.parseExtensions
    ? this.parseExtensions(this.httpRequest.headers['sec-websocket-extensions'])
    : [];
});
lazy('cookies', function () {
  return this.serverConfig.parseCookies ? this.parseCookies(this.httpRequest.headers['cookie']) : [];
});

// "a; x=1, b" → [{name: 'a', params: [{name: 'x', value: '1'}]}, {name: 'b', params: []}]
WebSocketRequest.prototype.parseExtensions = function (extensionsString) {
  if (!extensionsString || extensionsString.length === 0) {
    return [];
  }
  return extensionsString.toLocaleLowerCase().split(headerValueSplit).map(function (extension) {
    const parts = extension.split(headerParamSplit);
    return {
      name: parts[0],
      params: parts.slice(1).map(function (raw) {
        const pair = raw.split('=');
        return { name: pair[0], value: pair[1] };
      }),
    };
  });
};

WebSocketRequest.prototype.parseCookies = function (str) {
  if (!str || typeof str !== 'string') {
    return [];
  }
  const cookies = [];
  for (const pair of str.split(cookieSeparator)) {
    const eq = pair.indexOf('=');
    if (eq === -1) {
      cookies.push({ name: pair, value: null });
      continue;
    }
    const name = pair.substr(0, eq).trim();
    let value = pair.substr(eq + 1).trim();
    if (value[0] === '"') {
      value = value.slice(1, -1);
    }
    let decoded;
    try {
      decoded = decodeURIComponent(value);
    } catch (e) {
      decoded = value;
    }
    cookies.push({ name: name, value: decoded });
  }
  return cookies;
};

// Builds one Set-Cookie header value; throws (after rejecting with 500) on invalid input.
WebSocketRequest.prototype._cookieLine = function (cookie, seen) {
  const fail = (message) => {
    this.reject(500);
    throw new Error(message);
  };
  if (!cookie || !cookie.name || !cookie.value) {
    fail('Each cookie to set must at least provide a "name" and "value"');
  }
  const name = String(cookie.name).replace(controlCharsAndSemicolon, '');
  const value = String(cookie.value).replace(controlCharsAndSemicolon, '');
  if (seen[name]) {
    fail('You may not specify the same cookie name twice.');
  }
  seen[name] = true;
  let bad = name.match(badCookieNameChar);
  if (bad) {
    fail('Illegal character ' + bad[0] + ' in cookie name');
  }
  bad = quotedCookieValue.test(value)
    ? value.slice(1, -1).match(badCookieValueChar)
    : value.match(badCookieValueChar);
  if (bad) {
    fail('Illegal character ' + bad[0] + ' in cookie value');
  }
  const parts = [name + '=' + value];
  if (cookie.path) {
    bad = String(cookie.path).match(controlCharsAndSemicolon);
    if (bad) {
      fail('Illegal character ' + bad[0] + ' in cookie path');
    }
    parts.push('Path=' + cookie.path);
  }
  if (cookie.domain) {
    if (typeof cookie.domain !== 'string') {
      fail('Domain must be specified and must be a string.');
    }
    bad = cookie.domain.match(controlCharsAndSemicolon);
    if (bad) {
      fail('Illegal character ' + bad[0] + ' in cookie domain');
    }
    parts.push('Domain=' + cookie.domain.toLowerCase());
  }
  if (cookie.expires) {
    if (!(cookie.expires instanceof Date)) {
      fail('Value supplied for cookie "expires" must be a vaild date object');
    }
    parts.push('Expires=' + cookie.expires.toUTCString());
  }
  if (cookie.maxage) {
    let maxage = cookie.maxage;
    if (typeof maxage === 'string') {
      maxage = parseInt(maxage, 10);
    }
    if (isNaN(maxage) || maxage <= 0) {
      fail('Value supplied for cookie "maxage" must be a non-zero number');
    }
    parts.push('Max-Age=' + Math.round(maxage).toString(10));
  }
  if (cookie.secure) {
    if (typeof cookie.secure !== 'boolean') {
      fail('Value supplied for cookie "secure" must be of type boolean');
    }
    parts.push('Secure');
  }
  if (cookie.httponly) {
    if (typeof cookie.httponly !== 'boolean') {
      fail('Value supplied for cookie "httponly" must be of type boolean');
    }
    parts.push('HttpOnly');
  }
  return parts.join(';');
};

WebSocketRequest.prototype.accept = function (acceptedProtocol, allowedOrigin, cookies) {
  this._verifyResolution();

  // The response's header fields, in order, as [name, value]: the 101's lines over HTTP/1.1, the
  // 200's headers over HTTP/2 (where there is no key to answer).
  const fields = this._http2 ? [] : [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Accept', native.acceptKey(String(this.key))],
  ];

  if (acceptedProtocol) {
    const lower = String(acceptedProtocol).toLocaleLowerCase();
    let fullCase = this.protocolFullCaseMap ? this.protocolFullCaseMap[lower] : undefined;
    if (fullCase === undefined) {
      fullCase = String(acceptedProtocol);
    }
    if (!native.isToken(fullCase)) {
      let bad = '';
      for (let i = 0; i < fullCase.length && bad === ''; i++) {
        if (!native.isToken(fullCase.charAt(i))) {
          bad = fullCase.charAt(i);
        }
      }
      this.reject(500);
      throw new Error('Illegal character "' + bad + '" in subprotocol.');
    }
    if (!this.requestedProtocols || this.requestedProtocols.indexOf(lower) === -1) {
      this.reject(500);
      throw new Error('Specified protocol was not requested by the client.');
    }
    fields.push(['Sec-WebSocket-Protocol', fullCase.replace(lineBreaks, '')]);
  }
  this.protocolFullCaseMap = null;
  this.requestedProtocols = null;

  if (allowedOrigin) {
    const origin = String(allowedOrigin).replace(lineBreaks, '');
    if (this.webSocketVersion === 13) {
      fields.push(['Origin', origin]);
    } else if (this.webSocketVersion === 8) {
      fields.push(['Sec-WebSocket-Origin', origin]);
    }
  }

  if (cookies) {
    if (!Array.isArray(cookies)) {
      this.reject(500);
      throw new Error('Value supplied for "cookies" argument must be an array.');
    }
    const seen = {};
    for (const cookie of cookies) {
      fields.push(['Set-Cookie', this._cookieLine(cookie, seen)]);
    }
  }
  const compression = deflate.accept(deflate.serverOptions(this.serverConfig),
    this.httpRequest.headers['sec-websocket-extensions']);
  if (compression) {
    fields.push(['Sec-WebSocket-Extensions', compression.header]);
  }
  const response = this._http2 ? http2.responseHeaders(200, fields)
    : 'HTTP/1.1 101 Switching Protocols\r\n' + fields.map(headerLine).join('') + '\r\n';

  const socket = this.socket;
  this._resolved = true;
  this.emit('requestResolved', this);

  const connection = new WebSocketConnection(socket, compression ? compression.extensions : [],
    acceptedProtocol, false, this.serverConfig);
  connection.webSocketVersion = this.webSocketVersion;
  connection.remoteAddress = this.remoteAddress;
  if (this._remoteAddresses !== undefined) {
    connection.remoteAddresses = this._remoteAddresses;
  }

  if (this._socketIsClosing) {
    this._abandonSocket();
    failedBeforeAccept(connection);
  } else {
    try {
      this._handOff(connection, response, compression && compression.agreed);
    } catch (err) {
      this._abandonSocket();
      failedBeforeAccept(connection);
    }
  }
  this.emit('requestAccepted', connection);
  return connection;
};

// Hands the socket to Rust (or bridges it) with the 101 response and every byte received after
// the request.
WebSocketRequest.prototype._handOff = function (connection, response, agreedDeflate) {
  this._removeSocketListeners();
  const chunks = [];
  if (this._head && this._head.length > 0) {
    chunks.push(this._head);
  }
  for (const chunk of this._received) {
    chunks.push(chunk);
  }
  this._received = [];
  if (this._http2) {
    // the stream carries the connection from here: respond, then bridge it
    this.socket.respond(response);
    context.attach(this.socket, chunks, EMPTY, this.serverConfig, agreedDeflate, connection);
  } else {
    context.attach(this.socket, chunks, Buffer.from(response, 'latin1'), this.serverConfig,
      agreedDeflate, connection);
  }
};

const EMPTY = Buffer.alloc(0);

function headerLine(field) {
  return field[0] + ': ' + field[1] + '\r\n';
}

function noop() {}

// The peer went away (or half-closed) before accept(): let the socket go entirely, so neither
// the descriptor nor the http server's count keeps it.
WebSocketRequest.prototype._abandonSocket = function () {
  this._removeSocketListeners();
  this.socket.on('error', noop);
  this.socket.destroy();
};

function failedBeforeAccept(connection) {
  process.nextTick(function () {
    connection.drop(1006, 'TCP connection lost before handshake completed.', true);
  });
}

WebSocketRequest.prototype.reject = function (status, reason, extraHeaders) {
  this._verifyResolution();
  this._resolved = true;
  this.emit('requestResolved', this);
  if (typeof status !== 'number') {
    status = 403;
  }
  if (this._http2) {
    this._removeSocketListeners();
    this.socket.on('error', noop);
    http2.reject(this.socket, status, reason, extraHeaders);
    this.emit('requestRejected', this);
    return;
  }
  let response = 'HTTP/1.1 ' + status + ' ' + (http.STATUS_CODES[status] || 'Unknown') + '\r\n' +
    'Connection: close\r\n';
  if (reason) {
    response += 'X-WebSocket-Reject-Reason: ' + String(reason).replace(lineBreaks, '') + '\r\n';
  }
  if (extraHeaders) {
    for (const key in extraHeaders) {
      const value = String(extraHeaders[key]).replace(lineBreaks, '');
      response += key.replace(lineBreaks, '') + ': ' + value + '\r\n';
    }
  }
  response += '\r\n';
  this._removeSocketListeners();
  this.socket.on('error', noop);
  if (!this.socket.destroyed) {
    this.socket.end(response, 'ascii');
  }
  this.emit('requestRejected', this);
};

WebSocketRequest.prototype._handleSocketCloseBeforeAccept = function () {
  this._socketIsClosing = true;
  this._removeSocketListeners();
};

// Bytes a client sends before it is accepted are kept for the connection, up to a bound:
// past it the socket stops being read (the kernel holds the rest until the hand-off).
const MAX_EARLY_BYTES = 64 * 1024;

WebSocketRequest.prototype._handleSocketDataBeforeAccept = function (chunk) {
  this._received.push(chunk);
  this._receivedBytes = (this._receivedBytes || 0) + chunk.length;
  if (this._receivedBytes >= MAX_EARLY_BYTES) {
    this.socket.removeListener('data', this._socketDataHandler);
    this.socket.pause();
  }
};

WebSocketRequest.prototype._removeSocketListeners = function () {
  this.socket.removeListener('end', this._socketCloseHandler);
  this.socket.removeListener('close', this._socketCloseHandler);
  this.socket.removeListener('data', this._socketDataHandler);
};

WebSocketRequest.prototype._verifyResolution = function () {
  if (this._resolved) {
    throw new Error('WebSocketRequest may only be accepted or rejected one time.');
  }
};

module.exports = WebSocketRequest;
