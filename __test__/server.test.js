'use strict';
// Tests for the server side: `server` (lib/WebSocketServer.js), `request` (lib/WebSocketRequest.js)
// and `connection` (lib/WebSocketConnection.js over the Rust core). Every test uses real sockets
// on 127.0.0.1 and real peers: the `ws` package, the original `websocket` package's client, or a
// raw TCP client when the test needs to see or shape the bytes on the wire. Expected behaviour
// is WebSocket-Node 1.0.35's (node_modules/websocket/lib) unless the README's "Differences"
// sections say otherwise.
const assert = require('assert');
const http = require('http');
const net = require('net');
const { EventEmitter, once } = require('events');
const WebSocket = require('ws');
const orig = require('websocket');
const ours = require('..');
const {
  defer, runCleanups, sleep, newKey, acceptFor, listen, wsConnect, wsRefused, origConnect, collect, next,
  nextText, hasFields, upgradeHeaders, rawRequest, maskedFrame, rawClient, utf8Text, bytesOf, withUncaught,
} = require('./helpers');

const WebSocketServer = ours.server;
const WebSocketConnection = ours.connection;
const eq = assert.strictEqual;
const deq = assert.deepStrictEqual;
const MIB = 1024 * 1024;

afterEach(runCleanups);

// Releases pending requests, drops every connection of `wss` and unmounts it.
function dropAll(wss) {
  wss.pendingRequests.slice().forEach((r) => r.socket.destroy());
  wss.connections.slice().forEach((c) => c.drop(1001, 'test over', true));
  return wss.config && wss.unmount();
}

// A WebSocketServer mounted on a fresh http server, with no request handler.
async function startServer(config) {
  const h = await listen();
  const wss = new WebSocketServer(Object.assign({ httpServer: h }, config));
  defer(() => dropAll(wss));
  const port = h.address().port;
  return { h, wss, port, url: 'ws://127.0.0.1:' + port + '/' };
}

// A server that accepts every request with its first requested protocol.
async function serve(config) {
  const srv = await startServer(config);
  srv.wss.on('request', (r) => r.accept(r.requestedProtocols[0], r.origin));
  return srv;
}

// A server that accepts everything, one `ws` client, and the server's connection.
async function pair(config, wsOptions, protocols) {
  const srv = await serve(config);
  const connP = once(srv.wss, 'connect');
  const ws = await wsConnect(srv.url, protocols, wsOptions);
  const [conn] = await connP;
  return Object.assign(srv, { ws, conn });
}

// ---------------------------------------------------------------------------------------------

describe('server', function () {
  this.timeout(10000);

  const DEFAULTS = {
    maxReceivedFrameSize: 0x10000, maxReceivedMessageSize: 0x100000, fragmentOutgoingMessages: true,
    fragmentationThreshold: 0x4000, keepalive: true, keepaliveInterval: 20000,
    dropConnectionOnKeepaliveTimeout: true, keepaliveGracePeriod: 10000, useNativeKeepalive: false,
    assembleFragments: true, autoAcceptConnections: false, ignoreXForwardedFor: false, parseCookies: true,
    parseExtensions: true, disableNagleAlgorithm: true, closeTimeout: 5000,
  };

  it('has the original 17 config options with their defaults after mount', async function () {
    const h = await listen();
    const wss = new WebSocketServer({ httpServer: h });
    defer(() => wss.unmount());
    const o = new orig.server({ httpServer: h });
    defer(() => o.unmount());
    deq(Object.keys(wss.config).sort(), Object.keys(o.config).sort());
    eq(Object.keys(wss.config).length, 17);
    deq(wss.config.httpServer, [h]);
    for (const key of Object.keys(DEFAULTS)) {
      eq(wss.config[key], DEFAULTS[key], key);
      eq(wss.config[key], o.config[key], key + ' (original)');
    }
  });

  it('can be constructed without config and mounted later with mount()', async function () {
    const wss = new WebSocketServer();
    deq(wss.connections, []);
    deq(wss.pendingRequests, []);
    const h = await listen();
    wss.mount({ httpServer: h, keepaliveInterval: 1234, closeTimeout: 42 });
    defer(() => dropAll(wss));
    eq(wss.config.keepaliveInterval, 1234);
    eq(wss.config.closeTimeout, 42);
    eq(wss.config.maxReceivedFrameSize, 0x10000);
    wss.on('request', (r) => r.accept());
    const connP = once(wss, 'connect');
    const ws = await wsConnect('ws://127.0.0.1:' + h.address().port + '/');
    const [conn] = await connP;
    conn.sendUTF('mounted later');
    eq(await nextText(ws), 'mounted later');
  });

  it('mount throws without an httpServer', function () {
    const message = /^Error: You must specify an httpServer on which to mount the WebSocket server\.$/;
    assert.throws(() => new WebSocketServer({}), message);
    assert.throws(() => new WebSocketServer({ keepalive: false }), message);
    assert.throws(() => new WebSocketServer().mount({ httpServer: null }), message);
  });

  it('serves two http servers at once', async function () {
    const [h1, h2] = [await listen(), await listen()];
    const wss = new WebSocketServer({ httpServer: [h1, h2] });
    defer(() => dropAll(wss));
    deq(wss.config.httpServer, [h1, h2]);
    wss.on('request', (r) => {
      const c = r.accept();
      c.on('message', (m) => c.sendUTF('echo ' + m.utf8Data));
    });
    const ws1 = await wsConnect('ws://127.0.0.1:' + h1.address().port + '/');
    const ws2 = await wsConnect('ws://127.0.0.1:' + h2.address().port + '/');
    eq(wss.connections.length, 2);
    ws1.send('one');
    ws2.send('two');
    deq(await Promise.all([nextText(ws1), nextText(ws2)]), ['echo one', 'echo two']);
    eq(wss.connections[0].socket.localPort, h1.address().port);
    eq(wss.connections[1].socket.localPort, h2.address().port);
  });

  it('unmount stops handling new upgrades and leaves open connections alone', async function () {
    const { wss, url, conn, ws } = await pair();
    let requests = 0;
    wss.on('request', () => requests++);
    wss.unmount();
    const res = await wsRefused(url);
    // With no 'upgrade' listener, Node hands the request to the plain HTTP handler (200).
    assert.ok(res === null || res.statusCode === 200, 'refused');
    eq(requests, 0);
    conn.sendUTF('still here');
    eq(await nextText(ws), 'still here');
  });

  it('rejects with 404 and X-WebSocket-Reject-Reason when nobody listens for requests', async function () {
    const { wss, url } = await startServer();
    const res = await wsRefused(url);
    eq(res.statusCode, 404);
    eq(res.headers['x-websocket-reject-reason'], 'No handler is configured to accept the connection.');
    eq(wss.pendingRequests.length, 0);
    eq(wss.connections.length, 0);
  });

  it('autoAcceptConnections accepts with the first requested protocol and emits connect', async function () {
    const { wss, url } = await startServer({ autoAcceptConnections: true });
    let requests = 0;
    wss.on('request', () => requests++);
    const connP = once(wss, 'connect');
    wss.on('connect', (c) => c.sendUTF('welcome')); // sent right away, it follows the 101
    const ws = new WebSocket(url, ['First', 'second'], { origin: 'http://o.example' });
    defer(() => ws.terminate());
    eq(await nextText(ws), 'welcome');
    const [conn] = await connP;
    eq(ws.protocol, 'First');
    eq(conn.protocol, 'first');
    eq(requests, 0);
    deq(wss.connections, [conn]);
  });

  it("emits 'upgradeError' for a bad handshake: 400, or 426 with Sec-WebSocket-Version: 13", async function () {
    const { wss, port } = await startServer();
    let requests = 0;
    wss.on('request', () => requests++);
    const cases = [
      ['Sec-WebSocket-Key', undefined, 400, /^Client must provide a value for Sec-WebSocket-Key\.$/],
      ['Sec-WebSocket-Version', undefined, 400, /^Client must provide a value for Sec-WebSocket-Version\.$/],
      ['Sec-WebSocket-Version', '12', 426, /^Unsupported websocket client version: 12/],
    ];
    for (const [name, value, status, message] of cases) {
      const headers = upgradeHeaders({ [name]: value });
      if (value === undefined) {
        delete headers[name];
      }
      const errP = once(wss, 'upgradeError');
      const { res } = await rawRequest(port, headers);
      const [err] = await errP;
      assert.match(err.message, message);
      eq(res.statusCode, status);
      eq(res.headers['x-websocket-reject-reason'], err.message);
      eq(res.headers['sec-websocket-version'], status === 426 ? '13' : undefined);
    }
    eq(requests, 0);
    eq(wss.pendingRequests.length, 0);
  });

  it('keeps pendingRequests and connections up to date', async function () {
    const { wss, url } = await startServer();
    const seen = [];
    wss.on('request', (r) => {
      seen.push(wss.pendingRequests.slice());
      if (r.resource === '/reject') {
        r.reject(403);
        seen.push(wss.pendingRequests.slice());
        return;
      }
      const c = r.accept();
      seen.push(wss.pendingRequests.slice(), wss.connections.slice(), c, r);
    });
    await wsConnect(url);
    const [before, after, conns, conn, req] = seen.splice(0);
    deq(before, [req]);
    assert.ok(req instanceof ours.request);
    deq(after, []);
    deq(conns, [conn]);
    eq((await wsRefused(url + 'reject')).statusCode, 403);
    eq(seen[0].length, 1);
    deq(seen[1], []);
    const closeP = once(wss, 'close');
    conn.close();
    await closeP;
    deq(wss.connections, []);
  });

  it('closeAllConnections closes every connection with 1000 and rejects pending requests with 503', async function () {
    const { wss, url } = await startServer();
    wss.on('request', (r) => r.resource === '/pending' || r.accept());
    const [ws1, ws2] = [await wsConnect(url), await wsConnect(url)];
    const pendingP = once(wss, 'request');
    const refusedP = wsRefused(url + 'pending');
    await pendingP;
    eq(wss.pendingRequests.length, 1);
    const serverCloses = collect(wss, 'close', 2);
    const clientCloses = Promise.all([once(ws1, 'close'), once(ws2, 'close')]);
    wss.closeAllConnections();
    for (const [code, reason] of await clientCloses) {
      deq([code, reason.toString()], [1000, 'Normal connection closure']);
    }
    deq((await serverCloses).map((args) => args[1]), [1000, 1000]);
    eq((await refusedP).statusCode, 503);
    deq(wss.connections, []);
    deq(wss.pendingRequests, []);
  });

  it('shutDown closes connections with 1000 and stops accepting', async function () {
    const { wss, url } = await serve();
    const [ws1, ws2] = [await wsConnect(url), await wsConnect(url)];
    const closes = Promise.all([once(ws1, 'close'), once(ws2, 'close')]);
    wss.shutDown();
    deq((await closes).map((args) => args[0]), [1000, 1000]);
    const res = await wsRefused(url);
    assert.ok(res === null || res.statusCode === 200);
  });

  it('broadcastUTF, broadcastBytes and broadcast reach every connection', async function () {
    const { wss, url } = await serve();
    const clients = [await wsConnect(url), await wsConnect(url), await wsConnect(url)];
    const received = clients.map((ws) => collect(ws, 'message', 5));
    wss.broadcastUTF('hello all');
    wss.broadcastBytes(Buffer.from([1, 2, 3]));
    wss.broadcast(Buffer.from('buf'));
    wss.broadcast('text ✓');
    wss.broadcast(42);
    for (const msgs of await Promise.all(received)) {
      deq(msgs.map(([d, bin]) => [bin, bin ? d.toString('hex') : d.toString()]),
        [[false, 'hello all'], [true, '010203'], [true, '627566'], [false, 'text ✓'], [false, '42']]);
    }
  });

  it('broadcast: large messages arrive whole and in order, behind and ahead of other sends', async function () {
    const { wss, url } = await serve();
    const clients = [await wsConnect(url, undefined, { maxPayload: 8 * 1024 * 1024 }),
      await wsConnect(url, undefined, { maxPayload: 8 * 1024 * 1024 })];
    while (wss.connections.length < 2) await sleep(5);
    const big = require('crypto').randomBytes(3 * 1024 * 1024);
    const received = clients.map((ws) => collect(ws, 'message', 3));
    wss.connections[0].sendUTF('first, to one');
    wss.broadcastBytes(big); // queued behind a pending send on one, alone on the other
    wss.broadcastUTF('after the big one');
    wss.connections[1].sendUTF('last, to the other');
    const [a, b] = await Promise.race([Promise.all(received), sleep(15000).then(() => null)]) ||
      assert.fail('the broadcasts did not all arrive');
    deq(a.map(([d, bin]) => bin ? d.equals(big) : d.toString()), ['first, to one', true, 'after the big one']);
    deq(b.map(([d, bin]) => bin ? d.equals(big) : d.toString()), [true, 'after the big one', 'last, to the other']);
  });

  it('broadcast checks its argument as sendBytes/sendUTF do, and sets outputBufferFull on a slow connection', async function () {
    const { wss, url } = await serve();
    // no connections: nothing is checked, as in a loop over none
    wss.broadcastBytes('not a buffer');
    const ws = await wsConnect(url);
    while (wss.connections.length < 1) await sleep(5);
    assert.throws(() => wss.broadcastBytes('not a buffer'),
      /^Error: You must pass a Node Buffer object to WebSocketConnection.prototype.sendBytes\(\)$/);
    assert.throws(() => wss.broadcastUTF(null), TypeError);
    const conn = wss.connections[0];
    ws._socket.pause(); // the peer stops reading
    const chunk = Buffer.alloc(256 * 1024, 1);
    for (let i = 0; i < 200 && !conn.outputBufferFull; i++) {
      wss.broadcastBytes(chunk);
      await sleep(1);
    }
    assert.strictEqual(conn.outputBufferFull, true);
    const drained = once(conn, 'drain');
    ws._socket.resume();
    await drained;
    assert.strictEqual(conn.outputBufferFull, false);
  });

  it("emits 'close' with the connection, code and description", async function () {
    const { wss, conn, ws } = await pair();
    const closeP = once(wss, 'close');
    ws.close(4001, 'bye now');
    const [c, code, description] = await closeP;
    assert.ok(c === conn);
    deq([code, description], [4001, 'bye now']);
    deq(wss.connections, []);
  });
});

// ---------------------------------------------------------------------------------------------

describe('request', function () {
  this.timeout(10000);

  // One raw upgrade request; the server's request listener `onRequest(request)` decides.
  async function requestWith(config, headers, path, onRequest) {
    const srv = await startServer(config);
    let request = null;
    srv.wss.on('request', (r) => onRequest((request = r)));
    const result = await rawRequest(srv.port, headers, path);
    return Object.assign(result, { request, srv });
  }

  // Resolves with what accept(...args) threw (null if it did not) on the next request.
  const acceptError = (wss, ...args) => new Promise((resolve) => wss.once('request', (r) => {
    try { r.accept(...args); resolve(null); } catch (e) { resolve(e); }
  }));

  it('has every property of the handshake (version 13)', async function () {
    const key = newKey();
    const extensions = 'permessage-deflate; client_max_window_bits, X-Foo; a=1; B=2, bare';
    const cookie = 'a=1; b="two%20words"; c; d=%E2%82%AC';
    const headers = upgradeHeaders({
      'Sec-WebSocket-Key': key, Origin: 'http://app.example', 'Sec-WebSocket-Protocol': 'Chat, SuperChat',
      'Sec-WebSocket-Extensions': extensions, Cookie: cookie, 'X-Forwarded-For': '10.0.0.1, 10.0.0.2',
    });
    const { request: r, res, srv } = await requestWith({}, headers, '/path/x?foo=bar&n=1', (q) => q.reject(400));
    eq(res.statusCode, 400);
    assert.ok(r.httpRequest instanceof http.IncomingMessage);
    assert.ok(r.socket instanceof net.Socket);
    hasFields(r, {
      host: '127.0.0.1:' + srv.port, resource: '/path/x?foo=bar&n=1', key, origin: 'http://app.example',
      webSocketVersion: 13, requestedProtocols: ['chat', 'superchat'], remoteAddress: '10.0.0.1',
      remoteAddresses: ['10.0.0.1', '10.0.0.2', '127.0.0.1'],
    });
    eq(r.resourceURL.pathname, '/path/x');
    deq(Object.assign({}, r.resourceURL.query), { foo: 'bar', n: '1' });
    deq(r.requestedExtensions, [
      { name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: undefined }] },
      { name: 'x-foo', params: [{ name: 'a', value: '1' }, { name: 'b', value: '2' }] },
      { name: 'bare', params: [] },
    ]);
    deq(r.requestedExtensions, orig.request.prototype.parseExtensions(extensions));
    deq(r.cookies, [
      { name: 'a', value: '1' }, { name: 'b', value: 'two words' }, { name: 'c', value: null }, { name: 'd', value: '€' },
    ]);
    deq(r.cookies, orig.request.prototype.parseCookies(cookie));
  });

  it('ignores X-Forwarded-For with ignoreXForwardedFor, and parses nothing when told not to', async function () {
    const headers = upgradeHeaders({ 'X-Forwarded-For': '10.0.0.1', Cookie: 'a=1', 'Sec-WebSocket-Extensions': 'x' });
    const config = { ignoreXForwardedFor: true, parseCookies: false, parseExtensions: false };
    const { request: r } = await requestWith(config, headers, '/', (q) => q.reject());
    hasFields(r, {
      remoteAddress: '127.0.0.1', remoteAddresses: ['127.0.0.1'], cookies: [], requestedExtensions: [],
      requestedProtocols: [], origin: undefined,
    });
  });

  it('takes the origin from Sec-WebSocket-Origin for version 8 and answers with it', async function () {
    const headers = upgradeHeaders({
      'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Origin': 'http://v8.example', Origin: 'http://not-this.example',
    });
    const { request: r, res } = await requestWith({}, headers, '/', (q) => q.accept(null, q.origin));
    hasFields(r, { webSocketVersion: 8, origin: 'http://v8.example' });
    eq(res.statusCode, 101);
    eq(res.headers['sec-websocket-origin'], 'http://v8.example');
    eq(res.headers['origin'], undefined);
  });

  it('accepts a requested protocol: the client sees it in the case it sent', async function () {
    const srv = await startServer();
    srv.wss.on('request', (r) => r.accept(r.resource === '/upper' ? 'SUPERCHAT' : 'superchat'));
    for (const [path, protocol] of [['', 'superchat'], ['upper', 'SUPERCHAT']]) {
      // Matched case-insensitively (for 'SUPERCHAT' the original 1.0.35 would throw: it compares
      // the caller's string with the lower-cased list).
      const connP = once(srv.wss, 'connect');
      const ws = await wsConnect(srv.url + path, ['Chat', 'SuperChat']);
      const [conn] = await connP;
      eq(ws.protocol, 'SuperChat');
      eq(conn.protocol, protocol);
    }
  });

  it('throws when accepting a protocol the client did not request, and the client gets 500', async function () {
    const srv = await startServer();
    const errP = acceptError(srv.wss, 'other');
    const res = await wsRefused(srv.url, ['chat']);
    eq((await errP).message, 'Specified protocol was not requested by the client.');
    eq(res.statusCode, 500);
    eq(srv.wss.connections.length, 0);
  });

  it('accepts with an origin and cookies: Set-Cookie headers reach the client', async function () {
    const headers = upgradeHeaders({ Origin: 'http://app.example' });
    const cookies = [
      { name: 'sid', value: 'abc123', path: '/', domain: 'Example.COM', maxage: 60, secure: true, httponly: true },
      { name: 'b', value: '"quoted"', expires: new Date(0) },
    ];
    let conn = null;
    const { res, socket } = await requestWith({}, headers, '/', (r) => {
      conn = r.accept(null, 'http://allowed.example', cookies);
    });
    eq(res.statusCode, 101);
    eq(res.headers['sec-websocket-accept'], acceptFor(headers['Sec-WebSocket-Key']));
    eq(res.headers['origin'], 'http://allowed.example');
    eq(res.headers['sec-websocket-protocol'], undefined);
    deq(res.headers['set-cookie'], [
      'sid=abc123;Path=/;Domain=example.com;Max-Age=60;Secure;HttpOnly',
      'b="quoted";Expires=Thu, 01 Jan 1970 00:00:00 GMT',
    ]);
    // The connection works over the socket http.request handed us.
    const msgP = once(conn, 'message');
    socket.write(maskedFrame(1, 'raw hello'));
    deq((await msgP)[0], { type: 'utf8', utf8Data: 'raw hello' });
  });

  it('throws on invalid cookies and answers 500', async function () {
    const a1 = { name: 'a', value: '1' };
    const cases = [
      ['nope', 'Value supplied for "cookies" argument must be an array.'],
      [[{ name: 'a' }], 'Each cookie to set must at least provide a "name" and "value"'],
      [[a1, { name: 'a', value: '2' }], 'You may not specify the same cookie name twice.'],
      [[{ name: 'a(b', value: '1' }], 'Illegal character ( in cookie name'],
      [[{ name: 'a', value: 'x"y' }], 'Illegal character " in cookie value'],
      [[{ ...a1, domain: 5 }], 'Domain must be specified and must be a string.'],
      [[{ ...a1, expires: 'tomorrow' }], 'Value supplied for cookie "expires" must be a vaild date object'],
      [[{ ...a1, maxage: -5 }], 'Value supplied for cookie "maxage" must be a non-zero number'],
      [[{ ...a1, secure: 'yes' }], 'Value supplied for cookie "secure" must be of type boolean'],
      [[{ ...a1, httponly: 1 }], 'Value supplied for cookie "httponly" must be of type boolean'],
    ];
    const srv = await startServer();
    for (const [cookies, message] of cases) {
      const errP = acceptError(srv.wss, null, null, cookies);
      const { res } = await rawRequest(srv.port, upgradeHeaders());
      const err = await errP;
      assert.ok(err, 'accept threw for ' + JSON.stringify(cookies));
      eq(err.message, message);
      eq(res.statusCode, 500, message);
    }
    eq(srv.wss.connections.length, 0);
    eq(srv.wss.pendingRequests.length, 0);
  });

  it('reject(status, reason, extraHeaders) is what the client sees', async function () {
    const srv = await startServer();
    srv.wss.on('request', (r) => (r.resource === '/default' ? r.reject()
      : r.reject(401, 'Who are you?\r\nInjected: 1', { 'WWW-Authenticate': 'Basic realm="x"', 'X-Count': 3 })));
    const res = await wsRefused(srv.url + 'x');
    eq(res.statusCode, 401);
    eq(res.headers['x-websocket-reject-reason'], 'Who are you?Injected: 1');
    eq(res.headers['injected'], undefined);
    eq(res.headers['www-authenticate'], 'Basic realm="x"');
    eq(res.headers['x-count'], '3');
    const res2 = await wsRefused(srv.url + 'default');
    eq(res2.statusCode, 403);
    eq(res2.headers['x-websocket-reject-reason'], undefined);
  });

  it('accept or reject a second time throws', async function () {
    const srv = await startServer();
    const message = /^Error: WebSocketRequest may only be accepted or rejected one time\.$/;
    let checked = 0;
    srv.wss.on('request', (r) => {
      if (r.resource === '/accept') {
        r.accept();
      } else {
        r.reject(403);
      }
      assert.throws(() => r.accept(), message);
      assert.throws(() => r.reject(403), message);
      checked++;
    });
    await wsConnect(srv.url + 'accept');
    eq((await wsRefused(srv.url + 'reject')).statusCode, 403);
    eq(checked, 2);
  });

  it('accepts later, from a timer (async accept)', async function () {
    const srv = await startServer();
    srv.wss.on('request', (r) => setTimeout(() => {
      const c = r.accept();
      c.on('message', (m) => c.sendUTF('late ' + m.utf8Data));
    }, 50));
    const ws = await wsConnect(srv.url);
    ws.send('hi');
    eq(await nextText(ws), 'late hi');
  });

  it('keeps frames the client sent before a delayed accept', async function () {
    const srv = await startServer();
    const connP = new Promise((resolve) => srv.wss.on('request', (r) => setTimeout(() => resolve(r.accept()), 50)));
    const early = Buffer.concat([maskedFrame(1, 'early one'), maskedFrame(2, Buffer.from([9, 8, 7]))]);
    const client = await rawClient(srv.port, { early });
    const msgs = await collect(await connP, 'message', 2);
    deq(msgs[0][0], { type: 'utf8', utf8Data: 'early one' });
    deq([...msgs[1][0].binaryData], [9, 8, 7]);
    assert.match(await client.head, /^HTTP\/1\.1 101 /);
  });

  // The client goes away ('end': FIN, 'reset': RST) before the server accepts it.
  async function goneBeforeAccept(how) {
    const srv = await startServer();
    const requestP = next(srv.wss, 'request');
    const client = await rawClient(srv.port);
    const [r] = await requestP;
    defer(() => r.socket.destroy());
    const gone = Promise.race([next(r.socket, 'end'), next(r.socket, 'close')]);
    if (how === 'end') {
      client.socket.end();
    } else {
      client.socket.resetAndDestroy();
    }
    await gone;
    const closeP = once(srv.wss, 'close');
    const conn = r.accept();
    const events = [];
    conn.on('error', (e) => events.push(['error', e.message]));
    conn.on('close', (code, description) => events.push(['close', code, description]));
    await closeP;
    await sleep(20);
    deq(events, [['close', 1006, 'TCP connection lost before handshake completed.']]);
    deq(srv.wss.connections, []);
    eq(r.socket.destroyed, true, 'the socket was released');
  }

  it('a client reset before a delayed accept gives one close (1006), no error, no crash', async function () {
    await goneBeforeAccept('reset');
  });

  it('a client that ended before a delayed accept gives one close (1006) and its socket is released', async function () {
    await goneBeforeAccept('end');
  });

  it('emits requestResolved then requestAccepted or requestRejected', async function () {
    const srv = await startServer();
    const order = [];
    srv.wss.on('request', (r) => {
      r.on('requestResolved', (q) => order.push(['resolved', q === r]));
      r.on('requestAccepted', (c) => order.push(['accepted', c instanceof WebSocketConnection]));
      r.on('requestRejected', (q) => order.push(['rejected', q === r]));
      if (r.resource === '/no') {
        r.reject(403);
      } else {
        order.push(['returned', srv.wss.connections.includes(r.accept())]);
      }
    });
    await wsConnect(srv.url);
    deq(order.splice(0), [['resolved', true], ['accepted', true], ['returned', true]]);
    await wsRefused(srv.url + 'no');
    deq(order, [['resolved', true], ['rejected', true]]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('connection', function () {
  this.timeout(15000);

  it('has the original properties, open and then closed', async function () {
    const { conn, ws, port } = await pair({}, {}, ['Proto']);
    assert.ok(conn instanceof WebSocketConnection && conn instanceof EventEmitter);
    hasFields(conn, {
      closeReasonCode: -1, closeDescription: null, protocol: 'proto', extensions: [], remoteAddress: '127.0.0.1',
      webSocketVersion: 13, connected: true, state: 'open', outputBufferFull: false,
    });
    eq(conn.config.maxReceivedFrameSize, 0x10000);
    eq(conn.socket.localPort, port);
    const closeP = once(conn, 'close');
    ws.close(1000, 'done');
    deq(await closeP, [1000, 'done']);
    hasFields(conn, { closeReasonCode: 1000, closeDescription: 'done', connected: false, state: 'closed' });
  });

  it('exposes a socket object with addresses, ports, byte counts and options', async function () {
    const { conn, ws, port } = await pair();
    const s = conn.socket;
    hasFields(s, { remoteAddress: '127.0.0.1', remotePort: ws._socket.localPort, localAddress: '127.0.0.1', localPort: port });
    const read0 = s.bytesRead;
    const written0 = s.bytesWritten;
    eq(typeof read0, 'number');
    assert.ok(written0 > 0, 'the 101 response was written');
    const msgP = once(conn, 'message');
    ws.send('x'.repeat(1000));
    await msgP;
    conn.sendUTF('y'.repeat(2000));
    await once(ws, 'message');
    assert.ok(s.bytesRead >= read0 + 1000, 'bytesRead grew: ' + read0 + ' -> ' + s.bytesRead);
    assert.ok(s.bytesWritten >= written0 + 2000, 'bytesWritten grew: ' + written0 + ' -> ' + s.bytesWritten);
    s.setNoDelay(false);
    s.setNoDelay(true);
    s.setKeepAlive(true, 1000);
    s.setKeepAlive(false);
    conn.sendUTF('after options');
    eq(await nextText(ws), 'after options');
  });

  it('sendUTF, sendBytes, send and sendFrame deliver text and binary; send(12345) is "12345"', async function () {
    const { conn, ws } = await pair();
    const msgsP = collect(ws, 'message', 6);
    conn.sendUTF('héllo');
    conn.sendBytes(Buffer.from([0, 255, 1]));
    conn.send(Buffer.from('buf'));
    conn.send(12345);
    conn.send({ toString: () => 'custom' });
    const frame = new ours.frame(Buffer.alloc(4), Buffer.alloc(10), {}); // the original's constructor arguments
    conn.sendFrame(Object.assign(frame, { fin: true, opcode: 1, binaryPayload: Buffer.from('own frame') }));
    deq((await msgsP).map(([d, bin]) => [bin, bin ? d.toString('hex') : d.toString()]), [
      [false, 'héllo'], [true, '00ff01'], [true, '627566'], [false, '12345'], [false, 'custom'], [false, 'own frame'],
    ]);
  });

  it('calls each send callback once, without an error, once written', async function () {
    const { conn, ws } = await pair({ fragmentationThreshold: 1000 });
    const calls = [];
    const done = new Promise((resolve) => {
      const cb = (name) => (err) => calls.push([name, err || null]) === 5 && resolve();
      conn.sendUTF('one', cb('utf'));
      conn.sendBytes(Buffer.alloc(10), cb('bytes'));
      conn.send('two', cb('send'));
      conn.sendUTF(utf8Text(10000), cb('fragmented'));
      conn.sendBytes(Buffer.alloc(5000), cb('fragmented bytes'));
    });
    await collect(ws, 'message', 5);
    await done;
    // A round trip later, no callback was called again.
    const pongP = once(conn, 'pong');
    conn.ping('sync');
    await pongP;
    deq(calls.map((c) => c[0]).sort(), ['bytes', 'fragmented', 'fragmented bytes', 'send', 'utf']);
    assert.ok(calls.every((c) => c[1] === null), 'no errors');
  });

  it('sendBytes throws for a non-Buffer; a send after close calls back with an error', async function () {
    const { conn, ws } = await pair();
    const message = /You must pass a Node Buffer object to WebSocketConnection.prototype.sendBytes\(\)/;
    assert.throws(() => conn.sendBytes('string'), message);
    assert.throws(() => conn.sendBytes(new Uint16Array(2)), message);
    conn.sendUTF('still open');
    eq(await nextText(ws), 'still open');
    conn.drop(1000, 'gone');
    const [err] = await new Promise((resolve) => conn.sendUTF('late', (...args) => resolve(args)));
    assert.ok(err instanceof Error);
  });

  it('carries text (multi-byte UTF-8) and binary messages of many sizes both ways', async function () {
    this.timeout(30000);
    const { conn, ws } = await pair({ maxReceivedFrameSize: 4 * MIB, maxReceivedMessageSize: 4 * MIB });
    conn.on('message', (m) => (m.type === 'utf8' ? conn.sendUTF(m.utf8Data) : conn.sendBytes(m.binaryData)));
    for (const n of [0, 1, 125, 126, 127, 65535, 65536, 65537, MIB, MIB + 3]) {
      const text = utf8Text(n);
      eq(Buffer.byteLength(text), n);
      ws.send(text);
      let [d, bin] = await once(ws, 'message');
      eq(bin, false, 'text ' + n);
      assert.ok(d.toString() === text, 'text of ' + n + ' bytes came back equal');
      const bytes = bytesOf(n, n);
      ws.send(bytes);
      [d, bin] = await once(ws, 'message');
      eq(bin, true, 'binary ' + n);
      assert.ok(d.equals(bytes), 'binary of ' + n + ' bytes came back equal');
    }
  });

  it('assembles fragmented messages from the client (with a ping between fragments)', async function () {
    const { conn, ws } = await pair();
    const msgsP = collect(conn, 'message', 2);
    const text = Buffer.from('fragmented ✓');
    ws.send(text.subarray(0, 4), { binary: false, fin: false });
    ws.send(text.subarray(4, 12), { binary: false, fin: false }); // splits the ✓ across fragments
    ws.ping('in between');
    ws.send(text.subarray(12), { binary: false, fin: true });
    ws.send(Buffer.from([1, 2]), { binary: true, fin: false });
    ws.send(Buffer.from([3]), { binary: true, fin: true });
    const [[m1], [m2]] = await msgsP;
    deq(m1, { type: 'utf8', utf8Data: 'fragmented ✓' });
    eq(m2.type, 'binary');
    deq([...m2.binaryData], [1, 2, 3]);
  });

  // The server's connection and an original client (which emits 'frame' events when it does not assemble).
  async function origPair(config, clientConfig) {
    const { wss, url } = await serve(config);
    const connP = once(wss, 'connect');
    const client = await origConnect(url, null, clientConfig);
    return { client, conn: (await connP)[0] };
  }

  it('fragments outgoing messages by fragmentationThreshold (seen by the original client)', async function () {
    const { client, conn } = await origPair({ fragmentationThreshold: 1000 }, { assembleFragments: false });
    const text = utf8Text(3500);
    const framesP = collect(client, 'frame', 4);
    conn.sendUTF(text);
    const frames = (await framesP).map(([f]) => f);
    deq(frames.map((f) => [f.opcode, f.fin, f.binaryPayload.length]),
      [[1, false, 1000], [0, false, 1000], [0, false, 1000], [0, true, 500]]);
    eq(Buffer.concat(frames.map((f) => f.binaryPayload)).toString(), text);
    // An assembling client gets the whole message.
    const b = await origPair({ fragmentationThreshold: 1000 });
    const msgP = once(b.client, 'message');
    b.conn.sendBytes(bytesOf(2500));
    const [m] = await msgP;
    eq(m.type, 'binary');
    assert.ok(m.binaryData.equals(bytesOf(2500)));
  });

  it('sends one frame per message when fragmentOutgoingMessages is false', async function () {
    const config = { fragmentOutgoingMessages: false, fragmentationThreshold: 1000 };
    const { client, conn } = await origPair(config, { assembleFragments: false });
    const framesP = collect(client, 'frame', 2);
    conn.sendUTF(utf8Text(3500));
    conn.sendUTF('end');
    deq((await framesP).map(([f]) => [f.opcode, f.fin, f.binaryPayload.length]), [[1, true, 3500], [1, true, 3]]);
  });

  it("assembleFragments: false emits 'frame' events and no 'message' events", async function () {
    const { conn, ws } = await pair({ assembleFragments: false });
    let messages = 0;
    conn.on('message', () => messages++);
    const framesP = collect(conn, 'frame', 5);
    const pongP = once(ws, 'pong');
    ws.send('hello');
    ws.send('ab', { fin: false });
    ws.send('cd', { fin: true });
    ws.send(Buffer.from([7, 7]), { binary: true });
    ws.ping('p');
    const frames = (await framesP).map(([f]) => f);
    deq(frames.map((f) => [f.opcode, f.fin, f.binaryPayload.toString('latin1')]),
      [[1, true, 'hello'], [1, false, 'ab'], [0, true, 'cd'], [2, true, '\x07\x07'], [9, true, 'p']]);
    assert.ok(frames.every((f) => f instanceof ours.frame), 'frames are WebSocketFrame objects');
    eq((await pongP)[0].toString(), 'p', 'the ping was still answered');
    eq(messages, 0);
  });

  it("pings: the server's reach the client and its pong emits 'pong'; the client's are answered", async function () {
    const { conn, ws } = await pair();
    const pingP = once(ws, 'ping');
    const pongP = once(conn, 'pong');
    conn.ping('are you there');
    eq((await pingP)[0].toString(), 'are you there');
    const [data] = await pongP;
    assert.ok(Buffer.isBuffer(data));
    eq(data.toString(), 'are you there');
    const clientPong = once(ws, 'pong');
    ws.ping(Buffer.from('ping-1'));
    eq((await clientPong)[0].toString(), 'ping-1');
    // An unsolicited pong reaches the client too.
    const clientPong2 = once(ws, 'pong');
    conn.pong(Buffer.from('heartbeat'));
    eq((await clientPong2)[0].toString(), 'heartbeat');
    // A ping payload over 125 bytes is cut, not sent as an invalid frame.
    const bigPing = once(ws, 'ping');
    conn.ping(Buffer.alloc(200, 1));
    assert.ok((await bigPing)[0].length <= 125);
    conn.sendUTF('still open');
    eq(await nextText(ws), 'still open');
  });

  it("a 'ping' listener gets (cancel, data) and cancel() holds the pong back", async function () {
    const { conn, ws } = await pair();
    const seen = [];
    const listener = (cancel, data) => {
      eq(typeof cancel, 'function');
      seen.push(data.toString());
      if (data.toString() === 'cancel me') {
        cancel();
      }
    };
    conn.on('ping', listener);
    const pongs = [];
    ws.on('pong', (d) => pongs.push(d.toString()));
    const pong1 = once(ws, 'pong');
    ws.ping('cancel me');
    ws.ping('answer me');
    await pong1;
    deq(seen, ['cancel me', 'answer me']);
    deq(pongs, ['answer me']);
    // Without a listener, pings are answered automatically again.
    conn.removeListener('ping', listener);
    const pong2 = once(ws, 'pong');
    ws.ping('auto again');
    await pong2;
    deq(pongs, ['answer me', 'auto again']);
    deq(seen, ['cancel me', 'answer me']);
  });

  it('close(code, description): both sides see them, after the messages sent before', async function () {
    const { conn, ws } = await pair();
    const serverClose = once(conn, 'close');
    const clientClose = once(ws, 'close');
    const received = [];
    ws.on('message', (d, bin) => received.push(bin ? d.length : d.toString()));
    conn.sendBytes(bytesOf(MIB)); // fragmented: the close frame must not go between its fragments
    conn.sendUTF('last words');
    conn.close(4001, 'server bye');
    eq(conn.connected, false);
    eq(conn.state, 'ending');
    const [code, reason] = await clientClose;
    deq([code, reason.toString()], [4001, 'server bye']);
    deq(received, [MIB, 'last words']);
    deq(await serverClose, [4001, 'server bye']);
    eq(conn.state, 'closed');
    eq(conn.closeReasonCode, 4001);
    // Without arguments: 1000 with the standard description.
    const b = await pair();
    const clientClose2 = once(b.ws, 'close');
    const serverClose2 = once(b.conn, 'close');
    b.conn.close();
    const [code2, reason2] = await clientClose2;
    deq([code2, reason2.toString()], [1000, 'Normal connection closure']);
    deq(await serverClose2, [1000, 'Normal connection closure']);
  });

  it('after close(), messages the peer sent meanwhile are not emitted (as in the original)', async function () {
    const { conn, ws } = await pair();
    const msgs = [];
    conn.on('message', (m) => msgs.push(m.utf8Data));
    const closeP = once(conn, 'close');
    conn.close();
    ws.send('too late');
    await closeP;
    deq(msgs, []);
  });

  it('close with an invalid code throws and leaves the connection open', async function () {
    const { conn, ws } = await pair();
    for (const code of [0, 999, 1004, 1005, 1006, 1016, 2000, 2999, 5000]) {
      assert.throws(() => conn.close(code), new RegExp('^Error: Close code ' + code + ' is not valid\\.$'));
    }
    eq(conn.connected, true);
    eq(conn.state, 'open');
    conn.sendUTF('open');
    eq(await nextText(ws), 'open');
  });

  it('drop(code, description) emits close synchronously; the client gets the close frame', async function () {
    const { conn, ws, wss } = await pair();
    const clientClose = once(ws, 'close');
    const events = [];
    conn.on('close', (code, description) => events.push([code, description]));
    conn.drop(4002, 'dropped');
    deq(events, [[4002, 'dropped']]);
    eq(conn.connected, false);
    eq(conn.state, 'closed');
    deq(wss.connections, []);
    const [code, reason] = await clientClose;
    deq([code, reason.toString()], [4002, 'dropped']);
    await sleep(20);
    eq(events.length, 1, 'one close event only');
  });

  it('drop() defaults to 1002; drop(code, description, true) sends no close frame', async function () {
    const a = await pair();
    const clientClose = once(a.ws, 'close');
    a.conn.drop();
    deq([a.conn.closeReasonCode, a.conn.closeDescription], [1002, 'Protocol error']);
    const [code, reason] = await clientClose;
    deq([code, reason.toString()], [1002, 'Protocol error']);
    const b = await pair();
    const clientClose2 = once(b.ws, 'close');
    const closeP = once(b.conn, 'close');
    b.conn.drop(1000, 'quietly', true);
    deq(await closeP, [1000, 'quietly']);
    eq((await clientClose2)[0], 1006);
  });

  it("a peer's close frame gives its code and reason, after the messages sent before it", async function () {
    const { conn, ws } = await pair();
    const received = [];
    conn.on('message', (m) => received.push(m.utf8Data));
    const closeP = once(conn, 'close');
    ws.send('before close');
    ws.close(4003, 'client bye ✓');
    deq(await closeP, [4003, 'client bye ✓']);
    deq(received, ['before close']);
    eq(conn.closeReasonCode, 4003);
    eq(conn.closeDescription, 'client bye ✓');
    // A code without a reason gets the standard description.
    const b = await pair();
    const closeP2 = once(b.conn, 'close');
    b.ws.close(1001);
    deq(await closeP2, [1001, 'Remote peer is going away']);
    eq(b.conn.socket.remoteAddress, '127.0.0.1', 'connection.socket read first after the close');
  });

  it('a peer that goes away without a close frame gives 1006', async function () {
    const { conn, ws } = await pair();
    const closeP = once(conn, 'close');
    ws.terminate();
    deq(await closeP, [1006, 'Connection dropped by remote peer.']);
    eq(conn.connected, false);
  });

  it("a peer connection reset gives 'error' (ECONNRESET) then close 1006", async function () {
    const { conn, ws } = await pair();
    const events = [];
    conn.on('error', (e) => events.push(['error', e instanceof Error, e.code]));
    const closeP = next(conn, 'close');
    conn.on('close', (code) => events.push(['close', code]));
    ws._socket.resetAndDestroy();
    const [, description] = await closeP;
    deq(events, [['error', true, 'ECONNRESET'], ['close', 1006]]);
    eq(description, 'Socket Error: read ECONNRESET');
  });

  it('a frame over maxReceivedFrameSize or a message over maxReceivedMessageSize closes with 1009', async function () {
    for (const fragmented of [false, true]) {
      const { conn, ws } = await pair({ maxReceivedFrameSize: 1000, maxReceivedMessageSize: 2500 });
      const serverClose = once(conn, 'close');
      const clientClose = once(ws, 'close');
      const messages = [];
      conn.on('message', (m) => messages.push(m.binaryData.length));
      ws.send(Buffer.alloc(1000));
      if (fragmented) {
        [1000, 1000, 1000].forEach((n) => ws.send(Buffer.alloc(n), { binary: true, fin: false }));
        ws.send(Buffer.alloc(10), { binary: true, fin: true });
      } else {
        ws.send(Buffer.alloc(1001));
      }
      eq((await clientClose)[0], 1009, 'fragmented: ' + fragmented);
      eq((await serverClose)[0], 1009);
      deq(messages, [1000]);
    }
  });

  it('a limit changed in server.config after mount applies to the connections that come next', async function () {
    // the original reads its config for every connection; websocket-rs prepares the options once
    // per config and must notice the change
    const srv = await serve({ maxReceivedFrameSize: 5000, maxReceivedMessageSize: 5000 });
    const sizesSeen = async (size) => {
      const connP = once(srv.wss, 'connect');
      const ws = await wsConnect(srv.url);
      const [conn] = await connP;
      const got = new Promise((resolve) => {
        conn.once('message', (m) => resolve(m.binaryData.length));
        conn.once('close', (code) => resolve('close ' + code));
      });
      ws.send(Buffer.alloc(size));
      const r = await got;
      ws.terminate();
      return r;
    };
    eq(await sizesSeen(3000), 3000);
    srv.wss.config.maxReceivedFrameSize = 2000;
    eq(await sizesSeen(3000), 'close 1009');
    srv.wss.config.maxReceivedFrameSize = 5000;
    eq(await sizesSeen(3000), 3000);
  });

  it('default limits: a 64 KiB frame and a 1 MiB message pass, one byte more closes with 1009', async function () {
    const sendFragmented = (ws, sizes) => sizes.forEach((n, i) => ws.send(Buffer.alloc(n), { fin: i === sizes.length - 1 }));
    const { conn, ws } = await pair();
    const msgs = collect(conn, 'message', 2);
    ws.send(Buffer.alloc(65536));
    sendFragmented(ws, Array(16).fill(65536));
    deq((await msgs).map(([m]) => m.binaryData.length), [65536, MIB]);
    for (const sizes of [[65537], [...Array(16).fill(65536), 1]]) {
      const b = await pair();
      const closeP = once(b.conn, 'close');
      sendFragmented(b.ws, sizes);
      eq((await closeP)[0], 1009, 'sizes ' + sizes.length);
    }
  });

  describe('keepalive and timers', function () {
    it('pings an idle client after keepaliveInterval and stays open while it answers', async function () {
      const { conn, ws } = await pair({ keepaliveInterval: 100, keepaliveGracePeriod: 100 });
      await collect(ws, 'ping', 3);
      eq(conn.connected, true);
    });

    it("drops a client that does not answer with 1006 'Peer not responding.'", async function () {
      const { conn, ws } = await pair({ keepaliveInterval: 100, keepaliveGracePeriod: 100 }, { autoPong: false });
      const pingP = once(ws, 'ping');
      const clientClose = once(ws, 'close');
      deq(await once(conn, 'close'), [1006, 'Peer not responding.']);
      await pingP;
      eq((await clientClose)[0], 1006, 'no close frame was sent');
    });

    it('keeps a silent client with dropConnectionOnKeepaliveTimeout false', async function () {
      const config = { keepaliveInterval: 100, keepaliveGracePeriod: 50, dropConnectionOnKeepaliveTimeout: false };
      const { conn, ws } = await pair(config, { autoPong: false });
      await collect(ws, 'ping', 3);
      eq(conn.connected, true);
      conn.sendUTF('alive');
      eq(await nextText(ws), 'alive');
    });

    it('sends no pings with keepalive false, nor with useNativeKeepalive', async function () {
      const quiet = await pair({ keepalive: false, keepaliveInterval: 50 });
      const native = await pair({ useNativeKeepalive: true, keepaliveInterval: 50, keepaliveGracePeriod: 50 },
        { autoPong: false });
      let pings = 0;
      quiet.ws.on('ping', () => pings++);
      native.ws.on('ping', () => pings++);
      // A server with keepalive on is the clock: its three pings take several of the others' intervals.
      const loud = await pair({ keepaliveInterval: 100 });
      await collect(loud.ws, 'ping', 3);
      eq(pings, 0);
      eq(quiet.conn.connected, true);
      eq(native.conn.connected, true);
    });

    // A raw client that keeps its side open after the server's FIN, and the server's connection.
    async function rawPair(config) {
      const srv = await startServer(config);
      const connP = new Promise((resolve) => srv.wss.on('request', (r) => resolve(r.accept())));
      const client = await rawClient(srv.port, { allowHalfOpen: true });
      return { client, conn: await connP };
    }

    it('closeTimeout: a peer that never answers the close frame is closed after it', async function () {
      const { client, conn } = await rawPair({ closeTimeout: 200 });
      assert.match(await client.head, /^HTTP\/1\.1 101 /);
      const closeP = once(conn, 'close');
      const endP = once(client.socket, 'end');
      conn.close(4000, 'please answer');
      const frame = await client.nextFrame();
      eq(frame.opcode, 8);
      eq(frame.payload.readUInt16BE(0), 4000);
      deq(await closeP, [4000, 'please answer']);
      eq(conn.state, 'closed');
      await endP;
    });

    it('a peer that answers the close frame completes the close handshake (no closeTimeout wait)', async function () {
      const { client, conn } = await rawPair({ closeTimeout: 60000 });
      const closeP = once(conn, 'close');
      const endP = once(client.socket, 'end');
      conn.close(1001, 'going');
      const frame = await client.nextFrame();
      eq(frame.opcode, 8);
      eq(frame.payload.subarray(2).toString(), 'going');
      client.send(8, Buffer.from([0x03, 0xE9]));
      deq(await closeP, [1001, 'going']);
      await endP;
    });
  });

  describe('flow control', function () {
    it('outputBufferFull and drain follow a client that stops reading', async function () {
      this.timeout(30000);
      const { conn, ws } = await pair();
      ws._socket.pause();
      const chunk = bytesOf(64 * 1024);
      const count = 512; // 32 MiB: more than the kernel buffers of both sides hold
      let resumed = false;
      let drainBeforeResume = false;
      conn.on('drain', () => { drainBeforeResume = drainBeforeResume || !resumed; });
      const received = collect(ws, 'message', count);
      for (let i = 0; i < count; i++) {
        conn.sendBytes(chunk);
      }
      eq(conn.outputBufferFull, true);
      await sleep(150);
      eq(conn.outputBufferFull, true, 'still full while the client does not read');
      assert.ok(conn.bufferedAmount > 0, 'bytes wait in the buffer: ' + conn.bufferedAmount);
      eq(drainBeforeResume, false);
      const drainP = once(conn, 'drain');
      resumed = true;
      ws._socket.resume();
      await drainP;
      eq(conn.outputBufferFull, false);
      eq(conn.bufferedAmount, 0);
      const msgs = await received;
      eq(msgs.length, count);
      assert.ok(msgs.every(([d]) => d.equals(chunk)));
    });

    it("pause() and resume() emit 'pause'/'resume' and hold messages back meanwhile", async function () {
      const { conn, ws } = await pair();
      const events = [];
      conn.on('pause', () => events.push('pause'));
      conn.on('resume', () => events.push('resume'));
      const msgs = [];
      conn.on('message', (m) => msgs.push(m.utf8Data));
      conn.pause();
      deq(events, ['pause']);
      await new Promise((resolve) => {
        ws.send('a');
        ws.send('b');
        ws.send('c', resolve);
      });
      await sleep(100);
      deq(msgs, [], 'no message while paused');
      const allP = collect(conn, 'message', 3);
      const resumeP = once(conn, 'resume'); // the original emits it on a later tick
      conn.resume();
      await resumeP;
      deq(events, ['pause', 'resume']);
      await allP;
      deq(msgs, ['a', 'b', 'c']);
    });

    it('a listener that throws does not stop other connections or later events', async function () {
      const { wss, url } = await serve();
      const connsP = collect(wss, 'connect', 2);
      const [ws1, ws2] = [await wsConnect(url), await wsConnect(url)];
      const [[c1], [c2]] = await connsP;
      await withUncaught(async (caught) => {
        const got1 = [];
        const got2 = [];
        c1.on('message', (m) => {
          if (m.utf8Data === 'boom') {
            throw new Error('listener failure');
          }
          got1.push(m.utf8Data);
        });
        c2.on('message', (m) => got2.push(m.utf8Data));
        const after1 = once(c1, 'pong');
        const after2 = collect(c2, 'message', 2);
        ws1.send('boom');
        ws1.send('after');
        ws2.send('x');
        ws2.send('y');
        c1.ping('sync');
        eq((await caught).message, 'listener failure');
        await after2;
        await after1;
        deq(got1, ['after']);
        deq(got2, ['x', 'y']);
        eq(c1.connected, true);
      });
      c1.sendUTF('still fine');
      eq(await nextText(ws1), 'still fine');
    });
  });

  it('fifty clients at once each get their own echoes, in order', async function () {
    const { wss, url } = await serve();
    wss.on('connect', (c) => c.on('message', (m) => c.sendUTF(m.utf8Data)));
    const clients = await Promise.all(Array.from({ length: 50 }, () => wsConnect(url)));
    const echoes = clients.map((ws) => collect(ws, 'message', 20));
    clients.forEach((ws, i) => {
      for (let j = 0; j < 20; j++) {
        ws.send(i + ':' + j);
      }
    });
    (await Promise.all(echoes)).forEach((msgs, i) => {
      deq(msgs.map(([d]) => d.toString()), Array.from({ length: 20 }, (_, j) => i + ':' + j));
    });
    eq(wss.connections.length, 50);
  });

  it('has the CLOSE_REASON_* constants and CLOSE_DESCRIPTIONS of the original', function () {
    const O = orig.connection;
    const names = Object.keys(O).filter((k) => k.startsWith('CLOSE_REASON_'));
    assert.ok(names.length >= 13);
    for (const name of names) {
      eq(WebSocketConnection[name], O[name], name);
    }
    eq(WebSocketConnection.CLOSE_REASON_NORMAL, 1000);
    eq(WebSocketConnection.CLOSE_REASON_MESSAGE_TOO_BIG, 1009);
    deq(WebSocketConnection.CLOSE_DESCRIPTIONS, O.CLOSE_DESCRIPTIONS);
  });

  it('carries mixed text, binary and fragmented traffic with pings both ways', async function () {
    this.timeout(30000);
    const { conn, ws } = await pair({ fragmentationThreshold: 700 });
    let serverPongs = 0;
    conn.on('pong', () => serverPongs++);
    conn.on('message', (m) => {
      conn.ping('s');
      return m.type === 'utf8' ? conn.sendUTF(m.utf8Data) : conn.sendBytes(m.binaryData);
    });
    let clientPings = 0;
    ws.on('ping', () => clientPings++);
    const rounds = 40;
    const clientPongs = collect(ws, 'pong', rounds);
    const echoes = collect(ws, 'message', rounds);
    const expected = [];
    for (let i = 0; i < rounds; i++) {
      // Even rounds text, odd rounds binary; every other pair fragmented by the client (split
      // by bytes, so UTF-8 sequences straddle fragments) with a ping between the fragments.
      const binary = i % 2 === 1;
      const data = binary ? bytesOf(1000 + i * 97, i) : Buffer.from(utf8Text(10 + i * 53));
      expected.push(binary ? data : data.toString());
      if (i % 4 < 2) {
        ws.send(data, { binary });
        ws.ping('r' + i);
      } else {
        ws.send(data.subarray(0, 101 + i), { binary, fin: false });
        ws.ping('c' + i);
        ws.send(data.subarray(101 + i), { binary, fin: true });
      }
    }
    const got = await echoes;
    for (let i = 0; i < rounds; i++) {
      const [d, bin] = got[i];
      eq(bin, typeof expected[i] !== 'string', 'type of message ' + i);
      assert.ok(bin ? d.equals(expected[i]) : d.toString() === expected[i], 'message ' + i);
    }
    deq((await clientPongs).map(([d]) => d.toString()),
      expected.map((e, i) => (i % 4 < 2 ? 'r' : 'c') + i));
    eq(clientPings, rounds);
    while (serverPongs < rounds) {
      await once(conn, 'pong');
    }
    eq(serverPongs, rounds);
  });
});
