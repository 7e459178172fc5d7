'use strict';
// A send made outside a batch is flushed by native.flush(), which delivers the events it
// causes at once, a few rounds deep; what a longer chain leaves queued must still be
// delivered (it once stayed queued with no wake-up, stalling the environment).
const assert = require('assert');
const WebSocketServer = require('..').server;
const { listen, wsConnect, runCleanups, defer } = require('./helpers');

describe('chained sends from send callbacks', function () {
  this.timeout(10000);
  afterEach(runCleanups);

  it('delivers every send callback when each callback sends the next message', async function () {
    const h = await listen();
    const wsServer = new WebSocketServer({ httpServer: h });
    defer(() => wsServer.shutDown());
    let serverConn;
    const accepted = new Promise((resolve) => wsServer.on('request', (r) => {
      serverConn = r.accept(null, r.origin);
      resolve();
    }));
    const ws = await wsConnect('ws://127.0.0.1:' + h.address().port + '/');
    await accepted;
    const N = 20;
    let got = 0;
    const all = new Promise((resolve) => ws.on('message', () => { if (++got === N) resolve(); }));
    let sent = 0;
    const callbacks = [];
    await new Promise((resolve) => setTimeout(resolve, 50));
    // outside any batch: the first flush comes from the microtask (native.flush)
    (function next(err) {
      if (err) throw err;
      if (sent > 0) callbacks.push(sent);
      if (sent < N) {
        sent++;
        serverConn.sendUTF('m' + sent, next);
      }
    })();
    const timeout = new Promise((resolve) => setTimeout(resolve, 2000, 'timeout'));
    const r = await Promise.race([all.then(() => 'ok'), timeout]);
    assert.strictEqual(r, 'ok', 'only ' + got + ' of ' + N + ' messages arrived, ' +
      callbacks.length + ' callbacks ran');
    assert.strictEqual(callbacks.length, N);
  });
});
