'use strict';
// Tests for connections made through an HTTP CONNECT proxy: the client is given an agent (in
// connect()'s request options) whose createConnection opens a tunnel through a small proxy
// written here, so the socket the handshake runs on is one Node got from the proxy (a plain
// socket for ws://, a TLS socket over it for wss://). Everything runs on 127.0.0.1.
//
// The module under test is this project (`require('..')`), or the original `websocket` package
// when WEBSOCKET_RS_ORACLE is set, to check the tests themselves against it:
//   WEBSOCKET_RS_ORACLE=1 npx mocha __test__/proxy.test.js
const assert = require('assert');
const http = require('http');
const https = require('https');
const net = require('net');
const tls = require('tls');
const { once } = require('events');
const WebSocket = require('ws');
const {
  defer, runCleanups, sleep, collect, next, bytesOf, clientConnect, clientFails,
  nothingThrown, closeAfter, listening,
} = require('./helpers');
const { requireCerts } = require('./certs');

const WS = process.env.WEBSOCKET_RS_ORACLE ? require('websocket') : require('..');

const eq = assert.strictEqual;
const deq = assert.deepStrictEqual;
const KIB = 1024;

afterEach(runCleanups);

// An HTTP CONNECT proxy on 127.0.0.1. Every CONNECT request's target ('host:port') is pushed to
// `tunnels`; with `refuse` (a status code) every tunnel is refused with it, otherwise the proxy
// connects to the target (127.0.0.1 only), answers 200 and pipes both ways. `dropTunnels()`
// destroys every open tunnel (both of its sockets).
async function connectProxy(options) {
  const opts = options || {};
  const proxy = http.createServer((req, res) => {
    res.statusCode = 405;
    res.end();
  });
  proxy.tunnels = [];
  const open = new Set();
  proxy.on('connect', (req, clientSocket, head) => {
    proxy.tunnels.push(req.url);
    clientSocket.on('error', () => {});
    const colon = req.url.lastIndexOf(':');
    const host = req.url.slice(0, colon);
    const port = Number(req.url.slice(colon + 1));
    if (opts.refuse || (host !== '127.0.0.1' && host !== 'localhost')) {
      const status = opts.refuse || 403;
      clientSocket.end('HTTP/1.1 ' + status + ' ' + http.STATUS_CODES[status] + '\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = net.connect(port, '127.0.0.1');
    const pair = [clientSocket, upstream];
    open.add(pair);
    upstream.on('error', () => clientSocket.destroy());
    clientSocket.on('error', () => upstream.destroy());
    upstream.on('close', () => clientSocket.destroy());
    clientSocket.on('close', () => {
      upstream.destroy();
      open.delete(pair);
    });
    upstream.on('connect', () => {
      clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head && head.length > 0) {
        upstream.write(head);
      }
      upstream.pipe(clientSocket);
      clientSocket.pipe(upstream);
    });
  });
  proxy.dropTunnels = () => open.forEach((pair) => pair.forEach((s) => s.destroy()));
  closeAfter(proxy);
  defer(() => proxy.dropTunnels());
  return listening(proxy);
}

// Opens a tunnel to host:port through the proxy on `proxyPort`: cb(null, socket) once the proxy
// answered 200, cb(error) otherwise.
function openTunnel(proxyPort, host, port, cb) {
  const target = host + ':' + port;
  const req = http.request({
    host: '127.0.0.1', port: proxyPort, method: 'CONNECT', path: target, agent: false, headers: { Host: target },
  });
  let done = false;
  const finish = (err, socket) => {
    if (!done) {
      done = true;
      cb(err, socket);
    }
  };
  req.on('connect', (res, socket, head) => {
    if (res.statusCode !== 200) {
      socket.destroy();
      finish(new Error('the proxy refused the tunnel: ' + res.statusCode + ' ' + res.statusMessage));
      return;
    }
    if (head && head.length > 0) {
      socket.unshift(head);
    }
    finish(null, socket);
  });
  req.on('response', (res) => {
    res.resume();
    finish(new Error('the proxy refused the tunnel: ' + res.statusCode + ' ' + res.statusMessage));
  });
  req.on('error', (err) => finish(err));
  req.end();
}

// An http.Agent that opens every connection as a tunnel through the proxy on `proxyPort`.
class TunnelAgent extends http.Agent {
  constructor(proxyPort) {
    super({ keepAlive: false });
    this.proxyPort = proxyPort;
  }

  createConnection(options, cb) {
    openTunnel(this.proxyPort, options.host, options.port, cb);
  }
}

// An https.Agent that opens a tunnel through the proxy on `proxyPort`, then TLS over it, for
// server name `servername` trusting `ca`.
class TlsTunnelAgent extends https.Agent {
  constructor(proxyPort, ca, servername) {
    super({ keepAlive: false });
    this.proxyPort = proxyPort;
    this.tunnelCa = ca;
    this.tunnelServername = servername;
  }

  createConnection(options, cb) {
    openTunnel(this.proxyPort, options.host, options.port, (err, socket) => {
      if (err) {
        cb(err);
        return;
      }
      cb(null, tls.connect({ socket, servername: this.tunnelServername, ca: this.tunnelCa }));
    });
  }
}

function agentFor(agent) {
  defer(() => agent.destroy());
  return agent;
}

// A `ws` WebSocketServer on `httpServer` that echoes every message with its type; `upgrades`
// keeps every upgrade request.
function wsEchoServer(httpServer) {
  const wss = new WebSocket.Server({ server: httpServer });
  wss.upgrades = [];
  httpServer.on('upgrade', (req) => wss.upgrades.push(req));
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  wss.on('error', () => {});
  defer(() => {
    wss.clients.forEach((c) => c.terminate());
    return new Promise((resolve) => wss.close(() => resolve()));
  });
  return wss;
}

async function httpTarget() {
  const h = http.createServer((req, res) => res.end('plain http'));
  closeAfter(h);
  await listening(h);
  const wss = wsEchoServer(h);
  return { h, wss, port: h.address().port, url: 'ws://127.0.0.1:' + h.address().port + '/' };
}

async function httpsTarget(certs) {
  const h = https.createServer({ key: certs.serverKey, cert: certs.serverCert }, (req, res) => res.end('plain https'));
  closeAfter(h);
  await listening(h);
  const wss = wsEchoServer(h);
  return { h, wss, port: h.address().port, url: 'wss://127.0.0.1:' + h.address().port + '/' };
}

// Sends text and a 64 KiB binary message and checks both come back exactly, with their types.
async function echoTextAndBinary(conn) {
  const text = 'through the tunnel: héllo €';
  const bin = bytesOf(64 * KIB, 5);
  const got = collect(conn, 'message', 2);
  conn.sendUTF(text);
  conn.sendBytes(bin);
  const [[m1], [m2]] = await got;
  deq(m1, { type: 'utf8', utf8Data: text });
  eq(m2.type, 'binary');
  assert.ok(Buffer.isBuffer(m2.binaryData) && m2.binaryData.equals(bin), 'the 64 KiB binary message differs');
}

// ---------------------------------------------------------------------------------------------

describe('proxy (HTTP CONNECT tunnels via requestOptions.agent)', function () {
  this.timeout(20000);
  let certs;

  before(function () {
    certs = requireCerts();
  });

  it('ws:// through the proxy: echoes text and 64 KiB binary; exactly one tunnel; clean close', async function () {
    const proxy = await connectProxy();
    const target = await httpTarget();
    const agent = agentFor(new TunnelAgent(proxy.address().port));
    const conn = await clientConnect([target.url, null, null, null, { agent }], {}, WS);
    eq(conn.connected, true);
    await echoTextAndBinary(conn);
    deq(proxy.tunnels, ['127.0.0.1:' + target.port]);
    eq(target.wss.upgrades.length, 1);
    eq(target.wss.upgrades[0].headers.host, '127.0.0.1:' + target.port);
    const [peer] = target.wss.clients;
    const peerClosed = next(peer, 'close');
    const closed = next(conn, 'close');
    conn.close(1000, 'done');
    eq((await peerClosed)[0], 1000);
    eq((await closed)[0], 1000);
    deq(proxy.tunnels, ['127.0.0.1:' + target.port]);
  });

  it('wss:// through the proxy (TLS over the tunnel): echoes text and 64 KiB binary; one tunnel', async function () {
    const proxy = await connectProxy();
    const target = await httpsTarget(certs);
    const agent = agentFor(new TlsTunnelAgent(proxy.address().port, certs.ca, 'localhost'));
    const conn = await clientConnect([target.url, null, null, null, { agent }], {}, WS);
    eq(conn.connected, true);
    await echoTextAndBinary(conn);
    deq(proxy.tunnels, ['127.0.0.1:' + target.port]);
    eq(target.wss.upgrades.length, 1);
    eq(target.wss.upgrades[0].socket.encrypted, true);
    const closed = next(conn, 'close');
    conn.close();
    eq((await closed)[0], 1000);
  });

  it('wss:// through the proxy to this module\'s own server on https', async function () {
    const proxy = await connectProxy();
    const h = https.createServer({ key: certs.serverKey, cert: certs.serverCert }, (req, res) => res.end('x'));
    closeAfter(h);
    await listening(h);
    const server = new WS.server({ httpServer: h, autoAcceptConnections: false });
    defer(() => {
      server.connections.slice().forEach((c) => c.drop(1001, 'test over', true));
      server.unmount();
    });
    server.on('request', (request) => {
      const c = request.accept(null, request.origin);
      c.on('error', () => {});
      c.on('message', (m) => (m.type === 'utf8' ? c.sendUTF(m.utf8Data) : c.sendBytes(m.binaryData)));
    });
    const agent = agentFor(new TlsTunnelAgent(proxy.address().port, certs.ca, 'localhost'));
    const conn = await clientConnect(['wss://127.0.0.1:' + h.address().port + '/', null, null, null, { agent }], {}, WS);
    await echoTextAndBinary(conn);
    eq(server.connections.length, 1);
    eq(proxy.tunnels.length, 1);
  });

  it('a proxy that answers 403 to CONNECT: connectFailed, no upgrade reaches the target, nothing thrown', async function () {
    const proxy = await connectProxy({ refuse: 403 });
    const target = await httpTarget();
    const agent = agentFor(new TunnelAgent(proxy.address().port));
    const err = await nothingThrown(() => clientFails([target.url, null, null, null, { agent }], {}, WS));
    assert.ok(err instanceof Error, String(err));
    assert.match(err.message, /403/);
    deq(proxy.tunnels, ['127.0.0.1:' + target.port]);
    eq(target.wss.upgrades.length, 0);
  });

  it('wss:// and a proxy that answers 403: connectFailed, nothing thrown', async function () {
    const proxy = await connectProxy({ refuse: 403 });
    const target = await httpsTarget(certs);
    const agent = agentFor(new TlsTunnelAgent(proxy.address().port, certs.ca, 'localhost'));
    const err = await nothingThrown(() => clientFails([target.url, null, null, null, { agent }], {}, WS));
    assert.ok(err instanceof Error, String(err));
    assert.match(err.message, /403/);
    eq(target.wss.upgrades.length, 0);
  });

  it('the proxy dropping an open tunnel: the connection closes with 1006', async function () {
    const proxy = await connectProxy();
    const target = await httpTarget();
    const agent = agentFor(new TunnelAgent(proxy.address().port));
    const conn = await clientConnect([target.url, null, null, null, { agent }], {}, WS);
    const closed = next(conn, 'close');
    proxy.dropTunnels();
    eq((await closed)[0], 1006);
    eq(conn.connected, false);
  });

  it('the proxy dropping an open wss:// tunnel: the connection closes with 1006', async function () {
    const proxy = await connectProxy();
    const target = await httpsTarget(certs);
    const agent = agentFor(new TlsTunnelAgent(proxy.address().port, certs.ca, 'localhost'));
    const conn = await clientConnect([target.url, null, null, null, { agent }], {}, WS);
    const closed = next(conn, 'close');
    proxy.dropTunnels();
    eq((await closed)[0], 1006);
    eq(conn.connected, false);
  });

  it('w3cwebsocket with requestOptions.agent (5th argument) goes through the proxy', async function () {
    const proxy = await connectProxy();
    const target = await httpsTarget(certs);
    const agent = agentFor(new TlsTunnelAgent(proxy.address().port, certs.ca, 'localhost'));
    const w = new WS.w3cwebsocket(target.url, null, null, null, { agent });
    defer(() => {
      if (w.readyState === w.OPEN) {
        w._connection.drop(1001, 'test over', true);
      }
    });
    await new Promise((resolve, reject) => {
      w.onopen = resolve;
      w.onerror = () => reject(new Error('error event instead of open'));
    });
    const message = new Promise((resolve) => { w.onmessage = resolve; });
    w.send('w3c through the tunnel');
    eq((await message).data, 'w3c through the tunnel');
    deq(proxy.tunnels, ['127.0.0.1:' + target.port]);
    const closed = new Promise((resolve) => { w.onclose = resolve; });
    w.close();
    const e = await closed;
    eq(e.code, 1000);
    eq(e.wasClean, true);
  });
});
