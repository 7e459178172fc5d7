'use strict';
// permessage-deflate with Python's `websockets` (compression on by default there), as client
// and as server. Needs a Python with `websockets` 13 or later: WEBSOCKET_RS_PYTHON names the
// interpreter (default python3). Without one the suite is skipped with a notice; CI sets
// WEBSOCKET_RS_REQUIRE_PYTHON=1 (and installs it), which turns the skip into a failure.
const assert = require('assert');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const { runCleanups, defer, listen } = require('./helpers');
const { server: WebSocketServer, client: WebSocketClient } = require('..');

const PYTHON = process.env.WEBSOCKET_RS_PYTHON || 'python3';
const PEER = path.join(__dirname, 'fixtures', 'python_peer.py');

// The same payloads as python_peer.py's: i-th message, text for even i, bytes for odd.
function payload(i) {
  const size = [0, 10, 1023, 1024, 5000, 70000, 1 << 20][i % 7];
  let text = '';
  for (let k = 0; k < Math.floor(size / 20) + 1; k++) {
    text += JSON.stringify({ id: k + i, user: 'user' + ((k * 7919 + i) % 997) }).replace(/,/g, ', ').replace(/:/g, ': ');
  }
  text = text.slice(0, size);
  return i % 2 === 0 ? text : Buffer.from(text);
}
const N = 14;
const total = () => Array.from({ length: N }, (_, i) => Buffer.byteLength(payload(i))).reduce((a, b) => a + b, 0);

// Runs the peer; resolves with its child process and its first output line.
function startPeer(args) {
  const child = spawn(PYTHON, [PEER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  defer(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const i = out.indexOf('\n');
      if (i >= 0) resolve({ child, line: out.slice(0, i) });
    });
    child.on('exit', (code) => reject(new Error('python peer exited with ' + code + ':\n' + err)));
  });
}

describe('permessage-deflate interop with Python websockets', function () {
  this.timeout(30000);
  afterEach(runCleanups);

  before(function () {
    const probe = spawnSync(PYTHON, ['-c', 'import websockets.asyncio.server; print(websockets.__version__)'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      if (process.env.WEBSOCKET_RS_REQUIRE_PYTHON === '1') {
        throw new Error(`${PYTHON} cannot import websockets (13 or later): ${probe.stderr || probe.error}`);
      }
      console.warn(`\n    NOTICE: Python websockets tests skipped: ${PYTHON} has no websockets 13+ ` +
        '(pip install websockets, or set WEBSOCKET_RS_PYTHON; WEBSOCKET_RS_REQUIRE_PYTHON=1 makes this a failure)\n');
      this.skip();
    }
  });

  it('a Python client sends 14 messages (0 B to 1 MiB) compressed to this server and gets each back', async function () {
    const h = await listen();
    const wss = new WebSocketServer({ httpServer: h, perMessageDeflate: true, maxReceivedFrameSize: 4 << 20, maxReceivedMessageSize: 4 << 20 });
    defer(() => wss.shutDown());
    const seen = {};
    wss.on('request', (r) => {
      seen.offer = r.httpRequest.headers['sec-websocket-extensions'];
      const c = r.accept();
      seen.conn = c;
      c.on('message', (m) => (m.type === 'utf8' ? c.sendUTF(m.utf8Data) : c.sendBytes(m.binaryData)));
      c.on('close', () => (seen.bytesRead = c.socket.bytesRead));
    });
    const { line } = await startPeer(['client', 'ws://127.0.0.1:' + h.address().port + '/', String(N)]);
    const result = JSON.parse(line);
    assert.strictEqual(result.ok, N);
    assert.deepStrictEqual(result.extensions, ['PerMessageDeflate 15']);
    assert.match(seen.offer, /^permessage-deflate/);
    assert.strictEqual(seen.conn.extensions[0].name, 'permessage-deflate');
    for (let i = 0; i < 100 && seen.bytesRead === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(seen.bytesRead < total() / 3, `the client's messages came compressed: ${seen.bytesRead} bytes for ${total()}`);
  });

  it('this client sends 14 messages compressed to a Python server and gets each back', async function () {
    const { line } = await startPeer(['server']);
    const client = new WebSocketClient({ perMessageDeflate: true, maxReceivedMessageSize: 4 << 20 });
    const conn = await new Promise((resolve, reject) => {
      client.once('connect', resolve);
      client.once('connectFailed', reject);
      client.connect('ws://127.0.0.1:' + line.trim() + '/');
    });
    defer(() => conn.drop());
    assert.strictEqual(conn.extensions[0].name, 'permessage-deflate');
    const got = [];
    await new Promise((resolve) => {
      conn.on('message', (m) => {
        got.push(m.type === 'utf8' ? m.utf8Data : m.binaryData);
        if (got.length === N) resolve();
      });
      for (let i = 0; i < N; i++) conn.send(payload(i));
    });
    for (let i = 0; i < N; i++) assert.deepStrictEqual(got[i], payload(i), 'message ' + i);
    assert.ok(conn.socket.bytesRead < total() / 3, `the echoes came compressed: ${conn.socket.bytesRead} bytes for ${total()}`);
  });
});
