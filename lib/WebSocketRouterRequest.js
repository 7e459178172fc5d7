'use strict';
// The request a router handler receives: the WebSocketRequest's details, and accept/reject
// with the protocol the route resolved.
const EventEmitter = require('events').EventEmitter;
const util = require('util');

function WebSocketRouterRequest(webSocketRequest, resolvedProtocol) {
  EventEmitter.call(this);
  this.webSocketRequest = webSocketRequest;
  this.protocol = resolvedProtocol === '____no_protocol____' ? null : resolvedProtocol;
  this.origin = webSocketRequest.origin;
  this.resource = webSocketRequest.resource;
  this.resourceURL = webSocketRequest.resourceURL;
  this.httpRequest = webSocketRequest.httpRequest;
  this.remoteAddress = webSocketRequest.remoteAddress;
  this.webSocketVersion = webSocketRequest.webSocketVersion;
  this.requestedExtensions = webSocketRequest.requestedExtensions;
  this.cookies = webSocketRequest.cookies;
}

util.inherits(WebSocketRouterRequest, EventEmitter);

WebSocketRouterRequest.prototype.accept = function (origin, cookies) {
  const connection = this.webSocketRequest.accept(this.protocol, origin, cookies);
  this.emit('requestAccepted', connection);
  return connection;
};

WebSocketRouterRequest.prototype.reject = function (status, reason, extraHeaders) {
  this.webSocketRequest.reject(status, reason, extraHeaders);
  this.emit('requestRejected', this);
};

module.exports = WebSocketRouterRequest;
