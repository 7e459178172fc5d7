'use strict';
// WebSocketServer: mounts on one or several http servers and turns their upgrade requests into
// WebSocketRequests (WebSocket-Node 1.0.35's API, same defaults).
const EventEmitter = require('events').EventEmitter;
const util = require('util');
const WebSocketRequest = require('./WebSocketRequest');
const context = require('./context');
const deflate = require('./deflate');
const http2 = require('./http2');

const DEFAULTS = {
  httpServer: null,
  maxReceivedFrameSize: 0x10000,
  maxReceivedMessageSize: 0x100000,
  fragmentOutgoingMessages: true,
  fragmentationThreshold: 0x4000,
  keepalive: true,
  keepaliveInterval: 20000,
  dropConnectionOnKeepaliveTimeout: true,
  keepaliveGracePeriod: 10000,
  useNativeKeepalive: false,
  assembleFragments: true,
  autoAcceptConnections: false,
  ignoreXForwardedFor: false,
  parseCookies: true,
  parseExtensions: true,
  disableNagleAlgorithm: true,
  closeTimeout: 5000,
};

function WebSocketServer(config) {
  EventEmitter.call(this);
  this._handlers = {
    upgrade: this.handleUpgrade.bind(this),
    requestAccepted: this.handleRequestAccepted.bind(this),
    requestResolved: this.handleRequestResolved.bind(this),
    connectionClosed: this.handleConnectionClose.bind(this),
  };
  // HTTP/2 servers' listeners (lib/http2.js), by server, for unmount.
  this._http2 = [];
  this.connections = [];
  this.pendingRequests = [];
  // The topic hub's number (src/binding/topics.rs), made on first use, and whether it has a
  // Redis backplane.
  this._hub = 0;
  this._pubsub = false;
  if (config) {
    this.mount(config);
  }
}

util.inherits(WebSocketServer, EventEmitter);

WebSocketServer.prototype.mount = function (config) {
  this.config = Object.assign({}, DEFAULTS);
  for (const key in config) {
    this.config[key] = config[key];
  }
  if (!this.config.httpServer) {
    throw new Error('You must specify an httpServer on which to mount the WebSocket server.');
  }
  if (!Array.isArray(this.config.httpServer)) {
    this.config.httpServer = [this.config.httpServer];
  }
  // permessage-deflate (websocket-rs extension, off unless asked for), checked here so that a
  // bad option throws at once; requests read the checked form.
  Object.defineProperty(this.config, deflate.CHECKED, {
    value: deflate.normalize(this.config.perMessageDeflate),
  });
  const upgrade = this._handlers.upgrade;
  const self = this;
  this.config.httpServer.forEach(function (httpServer) {
    // an HTTP/2 server with allowHTTP1 emits 'upgrade' for its HTTP/1.1 clients
    httpServer.on('upgrade', upgrade);
    if (http2.isHttp2Server(httpServer)) {
      self._http2.push({ server: httpServer, listeners: http2.mount(httpServer, self) });
    }
  });
  if (this.config.pubsub !== undefined && this.config.pubsub !== null) {
    this._startPubsub(this.config.pubsub);
  }
};

// pubsub: { redis: 'redis://host:port' | 'rediss://host:port' | 'redis+unix:///path',
//          prefix: 'websocket-rs:', tls: { ca, cert, key } (PEM, for rediss://) }
// (websocket-rs extension): topics published here reach subscribers in other processes and
// machines through Redis, and theirs reach this server's subscribers.
WebSocketServer.prototype._startPubsub = function (pubsub) {
  if (typeof pubsub !== 'object' || typeof pubsub.redis !== 'string') {
    throw new TypeError("pubsub must be an object like { redis: 'redis://127.0.0.1:6379' }");
  }
  const prefix = pubsub.prefix === undefined ? 'websocket-rs:' : pubsub.prefix;
  if (typeof prefix !== 'string') {
    throw new TypeError('pubsub.prefix must be a string');
  }
  if (this._pubsub) {
    throw new Error('this server already has a pubsub backplane');
  }
  let tls;
  if (pubsub.tls !== undefined) {
    const pem = (v, name) => {
      if (v === undefined) return undefined;
      if (typeof v === 'string') return Buffer.from(v);
      if (Buffer.isBuffer(v)) return v;
      throw new TypeError('pubsub.tls.' + name + ' must be a PEM string or Buffer');
    };
    if (typeof pubsub.tls !== 'object' || pubsub.tls === null) {
      throw new TypeError('pubsub.tls must be an object like { ca }');
    }
    tls = { ca: pem(pubsub.tls.ca, 'ca'), cert: pem(pubsub.tls.cert, 'cert'), key: pem(pubsub.tls.key, 'key') };
  }
  context.startBackplane(this, this._topicHub(), pubsub.redis, prefix, tls);
  this._pubsub = true;
};

// Counters of the Redis backplane (null without one): connected, published, publishDropped,
// received, receivedOwn, receivedInvalid, delivered, reconnects.
WebSocketServer.prototype.pubsubStats = function () {
  return this._hub === 0 ? null : context.native.topicBackplaneStats(this._hub);
};

WebSocketServer.prototype.unmount = function () {
  const upgrade = this._handlers.upgrade;
  this.config.httpServer.forEach(function (httpServer) {
    httpServer.removeListener('upgrade', upgrade);
  });
  for (const h of this._http2) {
    http2.unmount(h.server, h.listeners);
  }
  this._http2 = [];
};

WebSocketServer.prototype.closeAllConnections = function () {
  this.connections.slice().forEach(function (connection) {
    connection.close();
  });
  this.pendingRequests.slice().forEach(function (request) {
    process.nextTick(function () {
      if (!request._resolved) {
        request.reject(503);
      }
    });
  });
};

WebSocketServer.prototype.broadcast = function (data) {
  if (Buffer.isBuffer(data)) {
    this.broadcastBytes(data);
  } else if (typeof data.toString === 'function') {
    this.broadcastUTF(data);
  }
};

// One native call for every connection: the frame is encoded once in Rust and queued on each
// (same checks and errors as a loop of sendUTF / sendBytes would give).
WebSocketServer.prototype.broadcastUTF = function (utfData) {
  if (this.connections.length === 0) {
    return;
  }
  if (utfData === null || utfData === undefined || typeof utfData.toString !== 'function') {
    throw new TypeError('sendUTF() needs a string or an object that implements toString()');
  }
  context.broadcast(this.connections, typeof utfData === 'string' ? utfData : utfData.toString(), false);
};

WebSocketServer.prototype.broadcastBytes = function (binaryData) {
  if (this.connections.length === 0) {
    return;
  }
  if (!Buffer.isBuffer(binaryData)) {
    throw new Error('You must pass a Node Buffer object to WebSocketConnection.prototype.sendBytes()');
  }
  context.broadcast(this.connections, binaryData, true);
};

// Topics (websocket-rs extension): the hub of this server's topics, made on first use.
WebSocketServer.prototype._topicHub = function () {
  if (this._hub === 0) {
    this._hub = context.native.topicHub();
  }
  return this._hub;
};

// Sends `data` to every connection of this server subscribed to `topic`: a string as a text
// message, a Buffer as a binary one, encoded once. Returns the number of connections it was
// queued on.
WebSocketServer.prototype.publish = function (topic, data) {
  context.checkTopic(topic);
  context.checkPublishData(data);
  return this._hub === 0 ? 0 : context.publish(this._hub, topic, data, 0);
};

// The number of this server's connections subscribed to `topic`.
WebSocketServer.prototype.subscriberCount = function (topic) {
  context.checkTopic(topic);
  return this._hub === 0 ? 0 : context.native.topicCount(this._hub, topic);
};

WebSocketServer.prototype.shutDown = function () {
  this.unmount();
  this.closeAllConnections();
  if (this._pubsub) {
    context.native.topicBackplaneStop(this._hub);
    this._pubsub = false;
  }
};

WebSocketServer.prototype.handleUpgrade = function (request, socket, head) {
  const wsRequest = new WebSocketRequest(socket, request, this.config);
  wsRequest._head = head;
  this._handleRequest(wsRequest, socket);
};

// An extended CONNECT stream with :protocol websocket on a mounted HTTP/2 server (RFC 8441): the
// same request as an upgrade, its httpRequest the http2 compatibility request.
WebSocketServer.prototype.handleHttp2Stream = function (stream, headers, rawHeaders) {
  const request = new http2.Http2ServerRequest(stream, headers, undefined, rawHeaders);
  this._handleRequest(new WebSocketRequest(stream, request, this.config, true), stream);
};

WebSocketServer.prototype._handleRequest = function (wsRequest, socket) {
  const self = this;
  try {
    wsRequest.readHandshake();
  } catch (e) {
    wsRequest.reject(e.httpCode ? e.httpCode : 400, e.message, e.headers);
    this.emit('upgradeError', e);
    return;
  }

  this.pendingRequests.push(wsRequest);
  wsRequest.once('requestAccepted', this._handlers.requestAccepted);
  wsRequest.once('requestResolved', this._handlers.requestResolved);
  socket.once('close', function () {
    self._handlers.requestResolved(wsRequest);
  });

  if (!this.config.autoAcceptConnections && this.listenerCount('request') > 0) {
    this.emit('request', wsRequest);
  } else if (this.config.autoAcceptConnections) {
    wsRequest.accept(wsRequest.requestedProtocols[0], wsRequest.origin);
  } else {
    wsRequest.reject(404, 'No handler is configured to accept the connection.');
  }
};

WebSocketServer.prototype.handleRequestAccepted = function (connection) {
  // Runs before the connection's own 'close' listeners, as the original's first listener did.
  connection._server = this;
  this.connections.push(connection);
  this.emit('connect', connection);
};

WebSocketServer.prototype.handleConnectionClose = function (connection, closeReason, description) {
  const index = this.connections.indexOf(connection);
  if (index !== -1) {
    this.connections.splice(index, 1);
  }
  this.emit('close', connection, closeReason, description);
};

WebSocketServer.prototype.handleRequestResolved = function (request) {
  const index = this.pendingRequests.indexOf(request);
  if (index !== -1) {
    this.pendingRequests.splice(index, 1);
  }
};

module.exports = WebSocketServer;
