'use strict';
// websocket-rs demo on several processes: the chat + whiteboard of examples/chat on Node's
// cluster workers sharing one port, their topics joined through Redis (the `pubsub` option), so
// a message sent to any worker reaches the pages connected to every worker.
//
//   redis-server --port 6379 &            # or any Redis 6+; REDIS_URL=redis://host:port
//   node examples/cluster-chat/server.js  # WORKERS=4 PORT=8080 HOST=127.0.0.1
//
// PM2's cluster mode runs the worker part the same way (pm2 start server.js -i 4). What stays per
// worker: the whiteboard history shown to late joiners and the user counts.
const cluster = require('cluster');
const os = require('os');
const { createChat } = require('../chat/app');

const WORKERS = Number(process.env.WORKERS || Math.min(4, os.availableParallelism ? os.availableParallelism() : os.cpus().length));
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

if (cluster.isPrimary) {
  for (let i = 0; i < WORKERS; i++) {
    cluster.fork();
  }
  cluster.on('exit', (worker, code, signal) => {
    if (!worker.exitedAfterDisconnect) {
      console.log(`worker ${worker.process.pid} ended (${signal || code}); starting another`);
      cluster.fork();
    }
  });
  const stop = () => {
    for (const w of Object.values(cluster.workers)) w.disconnect();
    setTimeout(() => process.exit(0), 1500).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} else {
  const { httpServer, wsServer } = createChat({ pubsub: { redis: REDIS_URL, prefix: 'cluster-chat:' } });
  wsServer.on('pubsubReady', () => console.log(`worker ${process.pid}: connected to ${REDIS_URL}`));
  httpServer.listen(Number(process.env.PORT || 8080), process.env.HOST || undefined, () => {
    const { port } = httpServer.address();
    console.log(`websocket-rs cluster demo, worker ${process.pid}: http://localhost:${port}/`);
  });
  process.on('disconnect', () => {
    wsServer.shutDown();
    httpServer.close(() => process.exit(0));
  });
}
