'use strict';
// websocket-rs demo: a small chat + shared whiteboard (examples/chat/app.js), one process.
//
//   npm start                       # http://localhost:8080/
//   PORT=0 HOST=127.0.0.1 npm start # any free port, loopback only
//   ALLOWED_ORIGINS=https://example.org npm start   # also accept pages served elsewhere
//
// examples/cluster-chat/ runs the same app on several cluster workers through Redis.
const { createChat } = require('./app');

const { httpServer, wsServer } = createChat();

httpServer.listen(Number(process.env.PORT || 8080), process.env.HOST || undefined, () => {
  const { port } = httpServer.address();
  console.log(`websocket-rs demo: http://localhost:${port}/`);
});

function shutdown() {
  wsServer.shutDown(); // stop accepting, send a close frame to everyone
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
