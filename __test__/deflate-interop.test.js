'use strict';
// permessage-deflate between this project and `ws` (perMessageDeflate), each as server and as
// client, with ws's option combinations: messages of many sizes both ways arrive intact, what
// crosses the wire is compressed, and both sides agree on what was negotiated.
const assert = require('assert');
const http = require('http');
const WebSocket = require('ws');
const { runCleanups, defer, listen } = require('./helpers');
const { server: WebSocketServer, client: WebSocketClient } = require('..');

const eq = assert.strictEqual;

// JSON-like text: keys repeat, values vary (compresses as real traffic does).
function json(n, seed) {
  let s = '';
  for (let i = 0; s.length < n; i++) {
    s += JSON.stringify({ id: i + seed, user: 'user' + ((i * 7919 + seed) % 997), tags: ['a', 'b', String(i % 13)] });
  }
  return s.slice(0, n);
}
const SIZES = [0, 10, 1023, 1024, 5000, 70000, 1 << 20];
const messages = () => SIZES.map((n, i) => (i % 2 ? Buffer.from(json(n, i)) : json(n, i)));
const total = (list) => list.reduce((a, m) => a + Buffer.byteLength(m), 0);

const OPTION_SETS = [
  true,
  { threshold: 0 },
  { serverNoContextTakeover: true, clientNoContextTakeover: true },
  { serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
  { serverMaxWindowBits: 8, clientMaxWindowBits: 8, threshold: 100 },
];

// ws as a client sends `list` in order and collects the echoes.
function wsExchange(ws, list) {
  return new Promise((resolve, reject) => {
    const got = [];
    ws.on('message', (data, isBinary) => {
      got.push(isBinary ? Buffer.from(data) : data.toString());
      if (got.length === list.length) resolve(got);
    });
    ws.on('error', reject);
    for (const m of list) ws.send(m);
  });
}

describe('permessage-deflate interop with ws', function () {
  this.timeout(20000);
  afterEach(runCleanups);

  for (const options of OPTION_SETS) {
    it('ws client → this server, perMessageDeflate ' + JSON.stringify(options) + ' on both', async function () {
      const h = await listen();
      const wss = new WebSocketServer({ httpServer: h, perMessageDeflate: options, maxReceivedFrameSize: 4 << 20, maxReceivedMessageSize: 4 << 20 });
      defer(() => wss.shutDown());
      let serverExtensions;
      wss.on('request', (r) => {
        const c = r.accept();
        serverExtensions = c.extensions;
        c.on('message', (m) => (m.type === 'utf8' ? c.sendUTF(m.utf8Data) : c.sendBytes(m.binaryData)));
      });
      const ws = new WebSocket('ws://127.0.0.1:' + h.address().port, { perMessageDeflate: options });
      defer(() => ws.terminate());
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
      assert.match(ws.extensions, /^permessage-deflate/);
      eq(serverExtensions[0].name, 'permessage-deflate');
      const list = messages();
      // twice: the second round refers back to the first where context is kept
      for (let round = 0; round < 2; round++) {
        const got = await wsExchange(ws, list);
        assert.deepStrictEqual(got, list);
        ws.removeAllListeners('message');
      }
      const wire = ws._socket.bytesRead;
      assert.ok(wire < total(list) / 2, `echoes came compressed: ${wire} bytes on the wire for ${2 * total(list)}`);
    });

    it('this client → ws server, perMessageDeflate ' + JSON.stringify(options) + ' on both', async function () {
      const h = http.createServer();
      await new Promise((resolve) => h.listen(0, '127.0.0.1', resolve));
      const wss = new WebSocket.Server({ server: h, perMessageDeflate: options });
      defer(() => wss.close() || h.close());
      let serverSocket;
      wss.on('connection', (ws) => {
        serverSocket = ws._socket;
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      });
      const client = new WebSocketClient({ perMessageDeflate: options, maxReceivedMessageSize: 4 << 20 });
      const conn = await new Promise((resolve, reject) => {
        client.once('connect', resolve);
        client.once('connectFailed', reject);
        client.connect('ws://127.0.0.1:' + h.address().port + '/');
      });
      defer(() => conn.drop());
      eq(conn.extensions[0].name, 'permessage-deflate');
      const list = messages();
      for (let round = 0; round < 2; round++) {
        const got = await new Promise((resolve) => {
          const out = [];
          const onMessage = (m) => {
            out.push(m.type === 'utf8' ? m.utf8Data : m.binaryData);
            if (out.length === list.length) {
              conn.removeListener('message', onMessage);
              resolve(out);
            }
          };
          conn.on('message', onMessage);
          for (const m of list) conn.send(m);
        });
        assert.deepStrictEqual(got, list);
      }
      const wire = serverSocket.bytesRead;
      assert.ok(wire < total(list) / 2, `our messages went compressed: ${wire} bytes on the wire for ${2 * total(list)}`);
    });
  }

  it('a ws client without perMessageDeflate gets plain messages from a compressing server', async function () {
    const h = await listen();
    const wss = new WebSocketServer({ httpServer: h, perMessageDeflate: true });
    defer(() => wss.shutDown());
    wss.on('request', (r) => {
      const c = r.accept();
      c.on('message', (m) => c.sendUTF(m.utf8Data));
    });
    const ws = new WebSocket('ws://127.0.0.1:' + h.address().port, { perMessageDeflate: false });
    defer(() => ws.terminate());
    await new Promise((resolve) => ws.once('open', resolve));
    eq(ws.extensions, '');
    const [got] = await wsExchange(ws, [json(5000, 1)]);
    eq(got, json(5000, 1));
  });

  for (const serverNoContextTakeover of [true, false]) {
    it('broadcastUTF and publish to 3 ws clients: ' + (serverNoContextTakeover
      ? 'compressed once for all (serverNoContextTakeover)' : 'uncompressed (each client has its own context)'), async function () {
      const h = await listen();
      const wss = new WebSocketServer({ httpServer: h, perMessageDeflate: { serverNoContextTakeover } });
      defer(() => wss.shutDown());
      wss.on('request', (r) => r.accept().subscribe('room'));
      const clients = [];
      for (let i = 0; i < 3; i++) {
        const ws = new WebSocket('ws://127.0.0.1:' + h.address().port, { perMessageDeflate: true });
        defer(() => ws.terminate());
        await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
        clients.push(ws);
      }
      while (wss.connections.length < 3) await new Promise((resolve) => setImmediate(resolve));
      const text = json(10000, 3); // under 16 KiB: larger broadcasts are not compressed on the sending thread
      const received = clients.map((ws) => new Promise((resolve) => {
        const got = [];
        ws.on('message', (d) => got.push(d.toString()) === 2 && resolve(got));
      }));
      wss.broadcastUTF(text);
      wss.publish('room', text);
      for (const got of await Promise.all(received)) assert.deepStrictEqual(got, [text, text]);
      for (const ws of clients) {
        if (serverNoContextTakeover) {
          assert.ok(ws._socket.bytesRead < text.length / 2, `compressed: ${ws._socket.bytesRead} bytes for 2 x ${text.length}`);
        } else {
          assert.ok(ws._socket.bytesRead > 2 * text.length, `uncompressed: ${ws._socket.bytesRead} bytes`);
        }
      }
    });
  }

  it('w3cwebsocket takes perMessageDeflate in its client config and reports the agreement', async function () {
    const { w3cwebsocket: W3CWebSocket } = require('..');
    const h = http.createServer();
    await new Promise((resolve) => h.listen(0, '127.0.0.1', resolve));
    const wss = new WebSocket.Server({ server: h, perMessageDeflate: true });
    defer(() => wss.close() || h.close());
    let serverSocket;
    wss.on('connection', (ws) => {
      serverSocket = ws._socket;
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    const w3c = new W3CWebSocket('ws://127.0.0.1:' + h.address().port + '/', undefined, undefined, undefined, undefined,
      { perMessageDeflate: true });
    defer(() => w3c.close());
    await new Promise((resolve, reject) => { w3c.onopen = resolve; w3c.onerror = reject; });
    eq(w3c.extensions[0].name, 'permessage-deflate');
    const text = json(20000, 7);
    const echo = await new Promise((resolve) => {
      w3c.onmessage = (e) => resolve(e.data);
      w3c.send(text);
    });
    eq(echo, text);
    assert.ok(serverSocket.bytesRead < text.length / 2, 'sent compressed: ' + serverSocket.bytesRead + ' bytes');
  });
});
