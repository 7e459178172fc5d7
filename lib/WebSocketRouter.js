'use strict';
// WebSocketRouter: dispatches a server's requests to handlers by path (string or RegExp) and
// subprotocol, with '*' as a wildcard for either (WebSocket-Node 1.0.35's API).
const EventEmitter = require('events').EventEmitter;
const util = require('util');
const WebSocketRouterRequest = require('./WebSocketRouterRequest');

// Stands for "no subprotocol requested" in the handler table.
const NO_PROTOCOL = '____no_protocol____';

function WebSocketRouter(config) {
  EventEmitter.call(this);
  this.config = { server: null };
  if (config) {
    Object.assign(this.config, config);
  }
  this.handlers = [];
  this._requestHandler = this.handleRequest.bind(this);
  if (this.config.server) {
    this.attachServer(this.config.server);
  }
}

util.inherits(WebSocketRouter, EventEmitter);

WebSocketRouter.prototype.attachServer = function (server) {
  if (!server) {
    throw new Error('You must specify a WebSocketServer instance to attach to.');
  }
  this.server = server;
  this.server.on('request', this._requestHandler);
};

WebSocketRouter.prototype.detachServer = function () {
  if (!this.server) {
    throw new Error('Cannot detach from server: not attached.');
  }
  this.server.removeListener('request', this._requestHandler);
  this.server = null;
};

WebSocketRouter.prototype.mount = function (path, protocol, callback) {
  if (!path) {
    throw new Error('You must specify a path for this handler.');
  }
  if (!protocol) {
    protocol = NO_PROTOCOL;
  }
  if (!callback) {
    throw new Error('You must specify a callback for this handler.');
  }
  path = this.pathToRegExp(path);
  if (!(path instanceof RegExp)) {
    throw new Error('Path must be specified as either a string or a RegExp.');
  }
  const pathString = path.toString();
  protocol = protocol.toLocaleLowerCase();
  if (this.findHandlerIndex(pathString, protocol) !== -1) {
    throw new Error('You may only mount one handler per path/protocol combination.');
  }
  this.handlers.push({ path: path, pathString: pathString, protocol: protocol, callback: callback });
};

WebSocketRouter.prototype.unmount = function (path, protocol) {
  const index = this.findHandlerIndex(this.pathToRegExp(path).toString(), protocol || NO_PROTOCOL);
  if (index === -1) {
    throw new Error('Unable to find a route matching the specified path and protocol.');
  }
  this.handlers.splice(index, 1);
};

WebSocketRouter.prototype.findHandlerIndex = function (pathString, protocol) {
  protocol = protocol.toLocaleLowerCase();
  return this.handlers.findIndex(function (h) {
    return h.pathString === pathString && h.protocol === protocol;
  });
};

// '*' matches every path; another string matches exactly that path.
WebSocketRouter.prototype.pathToRegExp = function (path) {
  if (typeof path !== 'string') {
    return path;
  }
  if (path === '*') {
    return /^.*$/;
  }
  return new RegExp('^' + path.replace(/[-[\]{}()*+?.,\\^$|#\s]/g, '\\$&') + '$');
};

// The first handler, in mount order, whose path matches and whose protocol is one the client
// asked for (in the client's order of preference), or '*'.
WebSocketRouter.prototype.handleRequest = function (request) {
  let requested = request.requestedProtocols;
  if (!requested || requested.length === 0) {
    requested = [NO_PROTOCOL];
  }
  const pathname = request.resourceURL.pathname;
  for (const wanted of requested) {
    const protocol = wanted.toLocaleLowerCase();
    for (const handler of this.handlers) {
      if (handler.path.test(pathname) && (handler.protocol === protocol || handler.protocol === '*')) {
        handler.callback(new WebSocketRouterRequest(request, protocol));
        return;
      }
    }
  }
  request.reject(404, 'No handler is available for the given request.');
};

WebSocketRouter.NO_PROTOCOL = NO_PROTOCOL;

module.exports = WebSocketRouter;
