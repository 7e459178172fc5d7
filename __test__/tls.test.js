'use strict';
// Tests for WebSocket over TLS (wss://): this project's server mounted on https servers, its
// client and W3CWebSocket connecting to `ws` servers on https, certificate checks (untrusted,
// self-signed, wrong name, client certificates) and one server on http and https at once.
// Certificates are made at test time by ./certs.js (the openssl command line, no network).
// Everything runs on 127.0.0.1.
//
// The module under test is this project (`require('..')`), or the original `websocket` package
// when WEBSOCKET_RS_ORACLE is set, to check the tests themselves against it:
//   WEBSOCKET_RS_ORACLE=1 npx mocha __test__/tls.test.js
const assert = require('assert');
const http = require('http');
const https = require('https');
const { once } = require('events');
const WebSocket = require('ws');
const {
  defer, runCleanups, sleep, collect, next, utf8Text, bytesOf, wsConnect, wsRefused,
  clientConnect, clientFails, nothingThrown, closeAfter, listening,
} = require('./helpers');
const { requireCerts } = require('./certs');

const WS = process.env.WEBSOCKET_RS_ORACLE ? require('websocket') : require('..');

const eq = assert.strictEqual;
const deq = assert.deepStrictEqual;
const MIB = 1024 * 1024;
const SIZES = [0, 1, 125, 126, 65535, 65536, MIB];
// Node's messages for certificates it does not trust (OpenSSL 1.1 said "self signed").
const UNTRUSTED = /self[- ]signed certificate|unable to verify the first certificate|unable to get local issuer certificate/i;

afterEach(runCleanups);

// An https server on 127.0.0.1 (port 0) with `options` (key and cert by default: the server
// certificate), whose plain requests get 200 'plain https'.
async function httpsListen(certs, options) {
  const h = https.createServer(Object.assign({ key: certs.serverKey, cert: certs.serverCert }, options),
    (req, res) => res.end('plain https'));
  closeAfter(h);
  return listening(h);
}

async function httpListen() {
  const h = http.createServer((req, res) => res.end('plain http'));
  closeAfter(h);
  return listening(h);
}

const wssUrl = (h) => 'wss://127.0.0.1:' + h.address().port + '/';
const wsUrl = (h) => 'ws://127.0.0.1:' + h.address().port + '/';

// A WebSocketServer of the module under test mounted on `httpServer` (one or an array) that
// accepts every request and echoes every message (text as text, binary as binary). `requests`
// keeps every WebSocketRequest, `received` every message the server got.
function echoServer(httpServer, config) {
  const server = new WS.server(Object.assign({
    httpServer, maxReceivedFrameSize: 0x200000, maxReceivedMessageSize: 0x1000000,
  }, config));
  server.requests = [];
  server.received = [];
  server.accepted = [];
  server.on('request', (request) => {
    server.requests.push(request);
    if (server.beforeAccept) {
      server.beforeAccept(request);
    }
    const conn = request.accept(null, request.origin);
    server.accepted.push(conn);
    conn.on('error', () => {});
    conn.on('message', (m) => {
      server.received.push(m);
      if (m.type === 'utf8') {
        conn.sendUTF(m.utf8Data);
      } else {
        conn.sendBytes(m.binaryData);
      }
    });
    server.emit('test-accepted', conn);
  });
  defer(() => {
    server.connections.slice().forEach((c) => c.drop(1001, 'test over', true));
    server.unmount();
  });
  return server;
}

// A `ws` WebSocketServer on `httpServer` that echoes every message with its type.
function wsEchoServer(httpServer) {
  const wss = new WebSocket.Server({ server: httpServer });
  wss.received = [];
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      wss.received.push({ data, isBinary });
      ws.send(data, { binary: isBinary });
    });
  });
  wss.on('error', () => {});
  defer(() => {
    wss.clients.forEach((c) => c.terminate());
    return new Promise((resolve) => wss.close(() => resolve()));
  });
  return wss;
}

// Text and binary messages of every size in SIZES.
const textsAndBinaries = () => SIZES.map((n) => utf8Text(n)).concat(SIZES.map((n) => bytesOf(n, n & 0xFF)));

// Sends every message of `msgs` on a WebSocketConnection of the module under test and checks
// that exactly the same messages, with the same types, come back in order.
async function echoThrough(conn, msgs) {
  const got = collect(conn, 'message', msgs.length);
  msgs.forEach((m) => (typeof m === 'string' ? conn.sendUTF(m) : conn.sendBytes(m)));
  const back = (await got).map(([m]) => m);
  deq(back.map((m) => m.type), msgs.map((m) => (typeof m === 'string' ? 'utf8' : 'binary')));
  back.forEach((m, i) => {
    if (typeof msgs[i] === 'string') {
      assert.ok(m.utf8Data === msgs[i], 'text message ' + i + ' (' + Buffer.byteLength(msgs[i]) + ' B) differs');
    } else {
      assert.ok(Buffer.isBuffer(m.binaryData) && m.binaryData.equals(msgs[i]),
        'binary message ' + i + ' (' + msgs[i].length + ' B) differs');
    }
  });
}

// An https server with the echo server on it and one `ws` client over TLS: the pieces a test
// needs, once the server has accepted. `beforeAccept(request)` runs before the accept.
async function tlsPair(certs, beforeAccept) {
  const h = await httpsListen(certs);
  const server = echoServer(h);
  if (beforeAccept) {
    server.beforeAccept = beforeAccept;
  }
  const accepted = next(server, 'test-accepted');
  const ws = await wsConnect(wssUrl(h), undefined, { ca: certs.ca });
  const [conn] = await accepted;
  return { h, server, ws, conn };
}

// ---------------------------------------------------------------------------------------------

describe('tls', function () {
  this.timeout(20000);
  let certs;

  before(function () {
    certs = requireCerts();
  });

  describe('server on https', function () {
    it('a `ws` client echoes text and binary of 0 B to 1 MiB both ways; exact bytes and types', async function () {
      const h = await httpsListen(certs);
      const server = echoServer(h);
      const ws = await wsConnect(wssUrl(h), undefined, { ca: certs.ca });
      const msgs = textsAndBinaries();
      const got = collect(ws, 'message', msgs.length);
      msgs.forEach((m) => ws.send(m, { binary: typeof m !== 'string' }));
      const back = (await got).map(([data, isBinary]) => ({ data, isBinary }));
      deq(back.map((m) => m.isBinary), msgs.map((m) => typeof m !== 'string'));
      back.forEach((m, i) => {
        const expected = typeof msgs[i] === 'string' ? Buffer.from(msgs[i]) : msgs[i];
        assert.ok(m.data.equals(expected), 'message ' + i + ' (' + expected.length + ' B) differs');
      });
      // What the server's connection saw.
      deq(server.received.map((m) => m.type), msgs.map((m) => (typeof m === 'string' ? 'utf8' : 'binary')));
      server.received.forEach((m, i) => {
        if (typeof msgs[i] === 'string') {
          assert.ok(m.utf8Data === msgs[i], 'server text ' + i);
        } else {
          assert.ok(m.binaryData.equals(msgs[i]), 'server binary ' + i);
        }
      });
      eq(server.connections.length, 1);
      eq(server.accepted[0].connected, true);
      eq(server.accepted[0].remoteAddress, '127.0.0.1');
    });

    it('the request is seen as on a TLS socket; many messages in a burst arrive in order', async function () {
      let encrypted = null;
      const { ws, conn } = await tlsPair(certs, (request) => { encrypted = request.httpRequest.socket.encrypted; });
      eq(encrypted, true);
      const n = 300;
      const got = collect(ws, 'message', n);
      for (let i = 0; i < n; i++) {
        conn.sendUTF('message ' + i + ' ' + 'x'.repeat(i * 37));
      }
      const back = (await got).map(([data]) => data.toString());
      deq(back, Array.from({ length: n }, (_, i) => 'message ' + i + ' ' + 'x'.repeat(i * 37)));
    });

    it('ping from the server reaches the `ws` client, whose pong comes back', async function () {
      const { ws, conn } = await tlsPair(certs);
      const pinged = next(ws, 'ping');
      const ponged = next(conn, 'pong');
      conn.ping(Buffer.from('are you there'));
      eq((await pinged)[0].toString(), 'are you there');
      eq((await ponged)[0].toString(), 'are you there');
    });

    it('a clean close from the `ws` client: the server sees its code and reason, the client 1000', async function () {
      const { server, ws, conn } = await tlsPair(certs);
      const serverClosed = next(conn, 'close');
      const clientClosed = next(ws, 'close');
      ws.close(1000, 'bye over tls');
      deq(await serverClosed, [1000, 'bye over tls']);
      eq((await clientClosed)[0], 1000); // the server's reply need not repeat the reason
      eq(conn.connected, false);
      eq(server.connections.length, 0);
    });

    it('a clean close from the server: code and reason seen by both sides', async function () {
      const { server, ws, conn } = await tlsPair(certs);
      const serverClosed = next(conn, 'close');
      const clientClosed = next(ws, 'close');
      conn.close(1000, 'server done');
      const [code, reason] = await clientClosed;
      eq(code, 1000);
      eq(reason.toString(), 'server done');
      eq((await serverClosed)[0], 1000);
      eq(server.connections.length, 0);
    });

    it('a `ws` client that drops its TLS socket: the server connection closes with 1006', async function () {
      const { server, ws, conn } = await tlsPair(certs);
      const serverClosed = next(conn, 'close');
      ws.terminate();
      eq((await serverClosed)[0], 1006);
      eq(conn.connected, false);
      eq(server.connections.length, 0);
    });
  });

  describe('client to wss://', function () {
    it('echoes text and binary of 0 B to 1 MiB with a `ws` server, then closes cleanly (1000 both sides)', async function () {
      const h = await httpsListen(certs);
      const wss = wsEchoServer(h);
      const peerP = once(wss, 'connection');
      const conn = await clientConnect([wssUrl(h)], { tlsOptions: { ca: certs.ca, servername: 'localhost' } }, WS);
      const [peer] = await peerP;
      eq(conn.connected, true);
      eq(conn.remoteAddress, '127.0.0.1');
      const msgs = textsAndBinaries();
      await echoThrough(conn, msgs);
      // The `ws` server got them with their types too.
      deq(wss.received.map((m) => m.isBinary), msgs.map((m) => typeof m !== 'string'));
      wss.received.forEach((m, i) => {
        const expected = typeof msgs[i] === 'string' ? Buffer.from(msgs[i]) : msgs[i];
        assert.ok(m.data.equals(expected), 'server message ' + i);
      });
      const peerClosed = next(peer, 'close');
      const closed = next(conn, 'close');
      conn.close();
      eq((await peerClosed)[0], 1000);
      eq((await closed)[0], 1000);
      eq(conn.connected, false);
    });

    it('the `ws` server closing with 1000 and a reason: the client sees both', async function () {
      const h = await httpsListen(certs);
      const wss = wsEchoServer(h);
      const peerP = once(wss, 'connection');
      const conn = await clientConnect([wssUrl(h)], { tlsOptions: { ca: certs.ca, servername: 'localhost' } }, WS);
      const [peer] = await peerP;
      const closed = next(conn, 'close');
      const peerClosed = next(peer, 'close');
      peer.close(1000, 'server says bye');
      deq(await closed, [1000, 'server says bye']);
      eq((await peerClosed)[0], 1000);
    });

    it('the `ws` server dropping the TLS socket: the client closes with 1006', async function () {
      const h = await httpsListen(certs);
      const wss = wsEchoServer(h);
      const peerP = once(wss, 'connection');
      const conn = await clientConnect([wssUrl(h)], { tlsOptions: { ca: certs.ca, servername: 'localhost' } }, WS);
      const [peer] = await peerP;
      const closed = next(conn, 'close');
      peer.terminate();
      eq((await closed)[0], 1006);
      eq(conn.connected, false);
    });

    it('TLS options given in connect()\'s request options are used too', async function () {
      const h = await httpsListen(certs);
      wsEchoServer(h);
      const conn = await clientConnect([wssUrl(h), null, null, null, { ca: certs.ca, servername: 'localhost' }], {}, WS);
      await echoThrough(conn, ['through requestOptions', bytesOf(1000)]);
    });

    it('an untrusted server certificate: connectFailed with the TLS error, nothing thrown', async function () {
      const h = await httpsListen(certs);
      const wss = wsEchoServer(h);
      const err = await nothingThrown(() => clientFails([wssUrl(h)], {}, WS));
      assert.ok(err instanceof Error, String(err));
      assert.match(err.message, UNTRUSTED);
      eq(wss.clients.size, 0);
    });

    it('a self-signed server certificate: connectFailed with the TLS error, nothing thrown', async function () {
      const h = await httpsListen(certs, { key: certs.selfSignedKey, cert: certs.selfSignedCert });
      wsEchoServer(h);
      const err = await nothingThrown(() => clientFails([wssUrl(h)], {}, WS));
      assert.ok(err instanceof Error, String(err));
      assert.match(err.message, /self[- ]signed certificate/i);
    });

    it('a certificate for another name: connectFailed naming the mismatch', async function () {
      const h = await httpsListen(certs);
      wsEchoServer(h);
      const err = await nothingThrown(() => clientFails([wssUrl(h)],
        { tlsOptions: { ca: certs.ca, servername: 'elsewhere.example' } }, WS));
      assert.ok(err instanceof Error, String(err));
      assert.match(err.message, /elsewhere\.example/);
      assert.match(err.message, /altnames/);
    });

    it('an untrusted certificate is accepted with tlsOptions.rejectUnauthorized false', async function () {
      const h = await httpsListen(certs);
      wsEchoServer(h);
      const conn = await clientConnect([wssUrl(h)], { tlsOptions: { rejectUnauthorized: false } }, WS);
      eq(conn.connected, true);
      await echoThrough(conn, ['not verified, still encrypted', bytesOf(70000)]);
    });

    it('a wss:// URL to a plain (non-TLS) server: connectFailed, nothing thrown', async function () {
      const h = await httpListen();
      wsEchoServer(h);
      const err = await nothingThrown(() => clientFails([wssUrl(h)], { tlsOptions: { ca: certs.ca } }, WS));
      assert.ok(err instanceof Error, String(err));
    });
  });

  describe('client certificates', function () {
    const mtlsOptions = () => ({ requestCert: true, rejectUnauthorized: true, ca: certs.ca });

    it('the client presents its certificate; the server reads its CN before accepting', async function () {
      const h = await httpsListen(certs, mtlsOptions());
      const server = echoServer(h);
      const seen = [];
      server.beforeAccept = (request) => {
        const socket = request.httpRequest.socket;
        seen.push({ authorized: socket.authorized, cn: socket.getPeerCertificate().subject.CN });
      };
      const conn = await clientConnect([wssUrl(h)], {
        tlsOptions: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, servername: 'localhost' },
      }, WS);
      deq(seen, [{ authorized: true, cn: certs.clientCN }]);
      await echoThrough(conn, ['mutual tls', bytesOf(65536)]);
      eq(server.connections.length, 1);
    });

    it('without a client certificate: connectFailed, no request reaches the server', async function () {
      const h = await httpsListen(certs, mtlsOptions());
      const server = echoServer(h);
      const err = await nothingThrown(() => clientFails([wssUrl(h)],
        { tlsOptions: { ca: certs.ca, servername: 'localhost' } }, WS));
      assert.ok(err instanceof Error, String(err));
      eq(server.requests.length, 0);
    });
  });

  describe('one server on http and https', function () {
    it('serves a `ws` client on each; connections.length is 2; shutDown() closes both', async function () {
      const plain = await httpListen();
      const secure = await httpsListen(certs);
      const server = echoServer([plain, secure]);
      const a = await wsConnect(wsUrl(plain));
      const b = await wsConnect(wssUrl(secure), undefined, { ca: certs.ca });
      const echoes = Promise.all([next(a, 'message'), next(b, 'message')]);
      a.send('over http');
      b.send(bytesOf(3000), { binary: true });
      const [[da, ba], [db, bb]] = await echoes;
      eq(ba, false);
      eq(da.toString(), 'over http');
      eq(bb, true);
      assert.ok(db.equals(bytesOf(3000)));
      eq(server.connections.length, 2);
      deq(server.requests.map((r) => Boolean(r.httpRequest.socket.encrypted)).sort(), [false, true]);

      const closed = Promise.all([next(a, 'close'), next(b, 'close')]);
      server.shutDown();
      const codes = (await closed).map(([code]) => code);
      deq(codes, [1000, 1000]);
      await sleep(50);
      eq(server.connections.length, 0);
      // Unmounted from both: new upgrades are not answered with a WebSocket any more.
      await wsRefused(wsUrl(plain));
      await wsRefused(wssUrl(secure), undefined, { ca: certs.ca });
      eq(server.requests.length, 2);
    });
  });

  describe('w3cwebsocket to wss://', function () {
    // A W3CWebSocket of the module under test, closed after the test if still open.
    function w3c(args) {
      const w = new WS.w3cwebsocket(...args);
      defer(() => {
        if (w.readyState === w.OPEN) {
          w._connection.drop(1001, 'test over', true);
        }
      });
      return w;
    }
    const event = (w, type) => new Promise((resolve) => {
      const f = (e) => {
        w.removeEventListener(type, f);
        resolve(e);
      };
      w.addEventListener(type, f);
    });

    it('tlsOptions in clientConfig (6th argument): opens, echoes text and binary, closes with 1000', async function () {
      const h = await httpsListen(certs);
      wsEchoServer(h);
      const w = w3c([wssUrl(h), null, null, null, null, { tlsOptions: { ca: certs.ca, servername: 'localhost' } }]);
      await new Promise((resolve, reject) => {
        w.addEventListener('open', resolve);
        w.addEventListener('error', () => reject(new Error('error event instead of open')));
      });
      eq(w.readyState, w.OPEN);
      const text = event(w, 'message');
      w.send('hello over wss');
      eq((await text).data, 'hello over wss');
      const bin = event(w, 'message');
      w.send(bytesOf(2000));
      const data = (await bin).data;
      assert.ok(data instanceof ArrayBuffer);
      assert.ok(Buffer.from(new Uint8Array(data)).equals(bytesOf(2000)));
      const closed = event(w, 'close');
      w.close();
      const e = await closed;
      eq(e.code, 1000);
      eq(e.wasClean, true);
      eq(w.readyState, w.CLOSED);
    });

    it('an untrusted certificate: error then close 1006, never open', async function () {
      const h = await httpsListen(certs);
      wsEchoServer(h);
      let opened = false;
      const w = await nothingThrown(async () => {
        const s = w3c([wssUrl(h)]);
        s.addEventListener('open', () => { opened = true; });
        const errored = event(s, 'error');
        const closed = event(s, 'close');
        await errored;
        const e = await closed;
        eq(e.code, 1006);
        eq(e.wasClean, false);
        return s;
      });
      eq(opened, false);
      eq(w.readyState, w.CLOSED);
    });
  });
});
