'use strict';
// websocket-rs: the same module surface as `websocket` (WebSocket-Node 1.0.35).

module.exports = {
  server: require('./lib/WebSocketServer'),
  client: require('./lib/WebSocketClient'),
  router: require('./lib/WebSocketRouter'),
  frame: require('./lib/WebSocketFrame'),
  request: require('./lib/WebSocketRequest'),
  connection: require('./lib/WebSocketConnection'),
  w3cwebsocket: require('./lib/W3CWebSocket'),
  deprecation: require('./lib/Deprecation'),
  version: require('./lib/version'),
};
