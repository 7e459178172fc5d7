'use strict';
// The consumer app's check: the module installed as `websocket` (an alias of websocket-rs) serves
// and connects; a text and a binary message make the round trip. Exits 0 with one line on success.
const assert = require('assert');
const http = require('http');
const websocket = require('websocket');

assert.strictEqual(require('websocket/package.json').name, 'websocket-rs');
// The addon the loader picked (the platform package, or a from-source build).
const binary = Object.keys(require.cache).find((f) => f.endsWith('.node'));
setTimeout(() => {
  console.error('echo: no round trip within 10 s');
  process.exit(1);
}, 10000).unref();

const httpServer = http.createServer();
const server = new websocket.server({ httpServer });
server.on('request', (request) => {
  const connection = request.accept('echo', request.origin);
  connection.on('message', (m) => (m.type === 'utf8' ? connection.sendUTF(m.utf8Data) : connection.sendBytes(m.binaryData)));
});
httpServer.listen(0, '127.0.0.1', () => {
  const client = new websocket.client();
  client.on('connectFailed', (err) => {
    console.error('echo: connect failed: ' + err);
    process.exit(1);
  });
  client.on('connect', (connection) => {
    const got = [];
    connection.on('message', (m) => {
      got.push(m);
      if (got.length < 2) return;
      assert.strictEqual(got[0].utf8Data, 'héllo from a consumer');
      assert.deepStrictEqual(got[1].binaryData, Buffer.from([0, 1, 2, 255]));
      connection.close();
    });
    connection.on('close', () => {
      httpServer.close();
      server.shutDown();
      console.log(`echo ok on Node ${process.version}: websocket ${websocket.version}, binary ${binary}`);
    });
    connection.sendUTF('héllo from a consumer');
    connection.sendBytes(Buffer.from([0, 1, 2, 255]));
  });
  client.connect(`ws://127.0.0.1:${httpServer.address().port}/`, 'echo');
});
