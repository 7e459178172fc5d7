'use strict';
// A socket Rust cannot take over (here: an http server on a Unix domain socket, whose handle is a
// pipe, not TCP) goes through the bridged transport: same protocol, same close codes.
const assert = require('assert');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const WebSocketServer = require('..').server;

function upgradeRequest() {
  return 'GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: ' + crypto.randomBytes(16).toString('base64') + '\r\n' +
    'Sec-WebSocket-Version: 13\r\n\r\n';
}

// A local socket path: a Unix domain socket, or a named pipe on Windows (Node's `\\?\pipe\` form).
function pipePath(dir, name) {
  return process.platform === 'win32' ? path.join('\\\\?\\pipe', dir, name) : path.join(dir, name);
}

describe('a socket that cannot be handed to Rust', function () {
  let dir;
  let httpServer;
  let wsServer;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsrs-'));
  });

  afterEach(function (done) {
    if (wsServer) {
      wsServer.shutDown();
    }
    const cleanup = () => {
      fs.rmSync(dir, { recursive: true, force: true });
      done();
    };
    if (httpServer && httpServer.listening) {
      httpServer.close(cleanup);
    } else {
      cleanup();
    }
  });

  it('is bridged: a ws client over a Unix socket echoes text and binary and closes cleanly', async function () {
    const sockPath = pipePath(dir, 'ws.sock');
    httpServer = http.createServer((req, res) => {
      res.end('plain http still works');
    });
    wsServer = new WebSocketServer({ httpServer });
    const closes = [];
    wsServer.on('request', (r) => {
      const conn = r.accept(null, r.origin);
      assert.strictEqual(conn.socket, r.socket, 'a bridged connection keeps Node\'s socket');
      conn.on('message', (m) => {
        if (m.type === 'utf8') conn.sendUTF(m.utf8Data);
        else conn.sendBytes(m.binaryData);
      });
      conn.on('close', (code) => closes.push(code));
    });
    const errors = [];
    wsServer.on('upgradeError', (e) => errors.push(e));
    await new Promise((resolve) => httpServer.listen(sockPath, resolve));

    const { WebSocket } = require('ws');
    const ws = new WebSocket('ws+unix://' + sockPath + ':/chat');
    await new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    const big = crypto.randomBytes(60 * 1024);
    const got = [];
    const done = new Promise((resolve) => {
      ws.on('message', (data, isBinary) => {
        got.push({ data: Buffer.from(data), isBinary });
        if (got.length === 2) resolve();
      });
    });
    ws.send('hello over a pipe');
    ws.send(big);
    await done;
    assert.strictEqual(got[0].isBinary, false);
    assert.strictEqual(got[0].data.toString(), 'hello over a pipe');
    assert.strictEqual(got[1].isBinary, true);
    assert.ok(got[1].data.equals(big), '60 KiB binary echoed intact');
    const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    ws.close(1000, 'bye');
    assert.strictEqual(await closed, 1000);
    assert.deepStrictEqual(closes, [1000]);
    assert.deepStrictEqual(errors, []);

    // The same server still serves plain HTTP on that socket.
    const body = await new Promise((resolve, reject) => {
      http.get({ socketPath: sockPath, path: '/' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.strictEqual(body, 'plain http still works');
  });

  it('a protocol violation on a bridged socket closes it with 1002', async function () {
    const sockPath = pipePath(dir, 'ws2.sock');
    httpServer = http.createServer();
    wsServer = new WebSocketServer({ httpServer });
    const closes = [];
    wsServer.on('request', (r) => {
      const conn = r.accept(null, r.origin);
      conn.on('close', (code, desc) => closes.push([code, desc]));
    });
    await new Promise((resolve) => httpServer.listen(sockPath, resolve));
    const reply = await new Promise((resolve, reject) => {
      const sock = net.connect(sockPath);
      const chunks = [];
      sock.on('connect', () => sock.write(upgradeRequest()));
      sock.on('data', (c) => {
        chunks.push(c);
        if (chunks.length === 1) {
          // an unmasked text frame from a client: a protocol error
          sock.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
        }
      });
      sock.on('error', reject);
      sock.on('close', () => resolve(Buffer.concat(chunks)));
    });
    const text = reply.toString('latin1');
    assert.match(text, /^HTTP\/1\.1 101 /);
    const frame = reply.subarray(reply.indexOf('\r\n\r\n') + 4);
    assert.strictEqual(frame[0], 0x88, 'a close frame follows the 101');
    assert.strictEqual(frame.readUInt16BE(2), 1002);
    assert.strictEqual(closes.length, 1);
    assert.strictEqual(closes[0][0], 1002);
  });

  it('works over any duplex stream: an in-memory pair injected into the http server', async function () {
    const { Duplex, PassThrough } = require('stream');
    const WebSocketClient = require('..').client;
    httpServer = http.createServer();
    wsServer = new WebSocketServer({ httpServer });
    const serverSeen = [];
    wsServer.on('request', (r) => {
      const conn = r.accept('chat', r.origin);
      conn.on('message', (m) => {
        serverSeen.push(m.type);
        if (m.type === 'utf8') conn.sendUTF('echo: ' + m.utf8Data);
        else conn.sendBytes(m.binaryData);
      });
    });
    // two streams joined back to back: what one side writes, the other reads
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    const clientSide = Duplex.from({ readable: toClient, writable: toServer });
    const serverSide = Duplex.from({ readable: toServer, writable: toClient });
    const agent = new http.Agent();
    agent.createConnection = function () {
      httpServer.emit('connection', serverSide);
      return clientSide;
    };
    const client = new WebSocketClient();
    const conn = await new Promise((resolve, reject) => {
      client.on('connect', resolve);
      client.on('connectFailed', reject);
      client.connect('ws://in-memory/chat', 'chat', null, null, { agent });
    });
    assert.strictEqual(conn.protocol, 'chat');
    const payload = crypto.randomBytes(20000);
    const replies = [];
    const done = new Promise((resolve) => {
      conn.on('message', (m) => {
        replies.push(m);
        if (replies.length === 2) resolve();
      });
    });
    conn.sendUTF('over a stream');
    conn.sendBytes(payload);
    await done;
    assert.strictEqual(replies[0].utf8Data, 'echo: over a stream');
    assert.ok(replies[1].binaryData.equals(payload));
    assert.deepStrictEqual(serverSeen, ['utf8', 'binary']);
    const closed = new Promise((resolve) => conn.on('close', (code) => resolve(code)));
    conn.close(1000);
    assert.strictEqual(await closed, 1000);
  });
});
