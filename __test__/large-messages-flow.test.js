'use strict';
// Messages of 1 MiB and more, one after another: reading stops while JS has not taken
// delivered bytes (READ_BLOCKED) and must always start again. In the bridged transport the
// status that says so once came from before the chunk's events were delivered, and a socket
// paused on it was never resumed.
const assert = require('assert');
const WebSocketServer = require('..').server;
const { listen, wsConnect, runCleanups, defer, sleep } = require('./helpers');

describe('large messages in a row', function () {
  this.timeout(20000);
  afterEach(runCleanups);

  for (const echo of [true, false]) {
    it('keeps reading after large messages (' + (echo ? 'echo' : 'no reply') + ')', async function () {
      const h = await listen();
      const wsServer = new WebSocketServer({
        httpServer: h, maxReceivedFrameSize: 8 << 20, maxReceivedMessageSize: 8 << 20,
      });
      defer(() => wsServer.shutDown());
      let got = 0;
      const N = 30;
      const all = new Promise((resolve) => wsServer.on('request', (r) => {
        const c = r.accept(null, r.origin);
        c.on('message', (m) => {
          if (echo) c.sendUTF('ok');
          if (++got === N) resolve('ok');
        });
      }));
      const ws = await wsConnect('ws://127.0.0.1:' + h.address().port + '/');
      const big = Buffer.alloc(2 << 20, 7);
      for (let i = 0; i < N; i++) ws.send(big);
      const r = await Promise.race([all, sleep(10000).then(() => 'timeout')]);
      assert.strictEqual(r, 'ok', 'only ' + got + ' of ' + N + ' messages arrived');
    });
  }
});
