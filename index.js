'use strict';
// websocket-rs: the same module surface as `websocket` (WebSocket-Node 1.0.35).
const notYet = require('./lib/notYet');

module.exports = {
  server: notYet('WebSocketServer'),
  client: notYet('WebSocketClient'),
  router: notYet('WebSocketRouter'),
  frame: require('./lib/WebSocketFrame'),
  request: notYet('WebSocketRequest'),
  connection: notYet('WebSocketConnection'),
  w3cwebsocket: notYet('W3CWebSocket'),
  deprecation: require('./lib/Deprecation'),
  version: require('./lib/version'),
};
