'use strict';
// A socket Rust cannot take over (here: an http server on a Unix domain socket, whose handle is a
// pipe, not TCP) must not hang or crash anything: until the bridged transport exists, the
// request is refused with 501 and a clear `upgradeError`, and the server keeps serving.
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

// Sends an upgrade request over `connect()` and resolves with everything the server sent
// before closing the connection.
function rawUpgrade(connect) {
  return new Promise((resolve, reject) => {
    const sock = connect();
    const chunks = [];
    sock.on('connect', () => sock.write(upgradeRequest()));
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
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

  it('is refused with 501 and an upgradeError, and the server keeps answering', async function () {
    const sockPath = path.join(dir, 'ws.sock');
    httpServer = http.createServer((req, res) => {
      res.end('plain http still works');
    });
    wsServer = new WebSocketServer({ httpServer });
    const requests = [];
    wsServer.on('request', (r) => requests.push(r));
    const errors = [];
    wsServer.on('upgradeError', (e) => errors.push(e));
    await new Promise((resolve) => httpServer.listen(sockPath, resolve));

    const reply = await rawUpgrade(() => net.connect(sockPath));
    assert.match(reply, /^HTTP\/1\.1 501 /);
    assert.match(reply, /X-WebSocket-Reject-Reason: [^\r\n]*bridged transport/);
    assert.strictEqual(errors.length, 1);
    assert.match(errors[0].message, /cannot take over this socket/);
    assert.strictEqual(requests.length, 0, 'no request event for a socket that cannot be accepted');
    assert.deepStrictEqual(wsServer.pendingRequests, []);

    // The same process and server still serve plain HTTP on that socket.
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

  it('accept() on such a request throws a clear error and answers 500', async function () {
    const sockPath = path.join(dir, 'ws2.sock');
    httpServer = http.createServer();
    const WebSocketRequest = require('..').request;
    let thrown = null;
    httpServer.on('upgrade', (req, socket) => {
      const request = new WebSocketRequest(socket, req, { parseCookies: true, parseExtensions: true });
      request.readHandshake();
      try {
        request.accept(null, null);
      } catch (e) {
        thrown = e;
      }
    });
    wsServer = null;
    await new Promise((resolve) => httpServer.listen(sockPath, resolve));
    const reply = await rawUpgrade(() => net.connect(sockPath));
    assert.match(reply, /^HTTP\/1\.1 500 /);
    assert.ok(thrown, 'accept() threw');
    assert.match(thrown.message, /cannot be handed to the native transport/);
  });
});
