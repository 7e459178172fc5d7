'use strict';
// WebSockets over HTTP/2 (RFC 8441) on Node's http2 servers: extended CONNECT streams become the
// same 'request' as HTTP/1.1 upgrades and run on the bridged transport. The peer here is Node's
// own http2 client speaking frames by hand (raw-peer.js on the stream).
const assert = require('assert');
const deepEq = assert.deepStrictEqual;
const http2 = require('http2');
const WebSocketServer = require('..').server;
const WebSocketClient = require('..').client;
const { defer, runCleanups } = require('./helpers');
const { RawPeer, OP, within } = require('./raw-peer');
const { requireCerts } = require('./certs');

let certs;

// An HTTP/2 server (TLS with HTTP/1.1 fallback, or cleartext h2c) on 127.0.0.1 with a WebSocket
// server mounted; `onRequest` (optional) is the application's own 'request' listener.
async function h2Server(opts) {
  const o = opts || {};
  const server = o.cleartext
    ? http2.createServer()
    : http2.createSecureServer({ key: certs.serverKey, cert: certs.serverCert, allowHTTP1: true });
  if (o.onRequest) server.on('request', o.onRequest);
  const sessions = new Set();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const wss = new WebSocketServer(Object.assign({ httpServer: server }, o.config));
  defer(() => new Promise((resolve) => {
    wss.shutDown();
    for (const s of sessions) s.destroy();
    server.close(() => resolve());
  }));
  const upgrades = [];
  server.on('upgrade', (req) => upgrades.push(req.url));
  const counts = { sessions: 0, open: 0 };
  const changed = new (require('events').EventEmitter)();
  server.on('session', (s) => {
    counts.sessions++;
    counts.open++;
    s.on('close', () => {
      counts.open--;
      changed.emit('change');
    });
  });
  counts.allClosed = () => within(new Promise((resolve) => {
    const check = () => counts.open === 0 && resolve();
    changed.on('change', check);
    check();
  }), 5000, 'every session to close');
  return { server, wss, upgrades, counts, port: server.address().port, cleartext: Boolean(o.cleartext) };
}

// A client session to `h` that has the server's SETTINGS.
async function session(h) {
  const client = http2.connect((h.cleartext ? 'http' : 'https') + '://127.0.0.1:' + h.port,
    { ca: certs.ca, servername: 'localhost' });
  defer(() => client.destroy());
  client.on('error', () => {});
  await within(new Promise((resolve) => client.once('remoteSettings', resolve)), 5000, 'SETTINGS');
  return client;
}

// Opens an extended CONNECT stream; resolves with { stream, headers } once the response
// headers arrive.
function connectStream(client, path, extra) {
  const stream = client.request(Object.assign({
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':path': path,
    ':authority': 'localhost',
    'sec-websocket-version': '13',
  }, extra), { endStream: false });
  stream.on('error', () => {});
  return within(new Promise((resolve) => stream.once('response', (headers) => resolve({ stream, headers }))),
    5000, 'the CONNECT response');
}

describe('WebSockets over HTTP/2 (RFC 8441)', function () {
  this.timeout(20000);
  before(function () {
    certs = requireCerts();
  });
  afterEach(runCleanups);

  it('advertises SETTINGS_ENABLE_CONNECT_PROTOCOL once mounted', async function () {
    const h = await h2Server();
    const client = await session(h);
    assert.strictEqual(client.remoteSettings.enableConnectProtocol, true);
  });

  for (const cleartext of [false, true]) {
    const kind = cleartext ? 'h2c' : 'h2 over TLS';
    it(`accepts an extended CONNECT as a request and echoes both ways (${kind})`, async function () {
      const h = await h2Server({ cleartext, config: { maxReceivedFrameSize: 2 << 20, maxReceivedMessageSize: 2 << 20 } });
      let request;
      let requested;
      h.wss.on('request', (r) => {
        request = r;
        requested = r.requestedProtocols.slice();
        const c = r.accept('chat', r.origin, [{ name: 'sid', value: '42' }]);
        c.on('message', (m) => (m.type === 'utf8' ? c.sendUTF(m.utf8Data) : c.sendBytes(m.binaryData)));
      });
      const client = await session(h);
      const { stream, headers } = await connectStream(client, '/room/1?x=y', {
        origin: 'https://example.test',
        'sec-websocket-protocol': 'Chat, other',
        cookie: 'a=1; b=two',
        ':scheme': cleartext ? 'http' : 'https',
      });
      assert.strictEqual(headers[':status'], 200);
      assert.strictEqual(headers['sec-websocket-protocol'], 'Chat');
      assert.strictEqual(headers['sec-websocket-accept'], undefined);
      assert.deepStrictEqual(headers['set-cookie'], ['sid=42']);
      // the request as the application saw it
      assert.strictEqual(request.host, 'localhost');
      assert.strictEqual(request.resource, '/room/1?x=y');
      assert.strictEqual(request.resourceURL.query.x, 'y');
      assert.strictEqual(request.origin, 'https://example.test');
      assert.deepStrictEqual(requested, ['chat', 'other']);
      assert.deepStrictEqual(request.cookies, [{ name: 'a', value: '1' }, { name: 'b', value: 'two' }]);
      assert.strictEqual(request.remoteAddress, '127.0.0.1');
      assert.strictEqual(request.webSocketVersion, 13);
      assert.ok(request.httpRequest instanceof http2.Http2ServerRequest);
      assert.strictEqual(request.httpRequest.headers[':protocol'], 'websocket');
      assert.deepStrictEqual(h.upgrades, []);

      const peer = new RawPeer(stream, true);
      peer.send(OP.TEXT, 'hello over h2');
      await peer.expectEcho(OP.TEXT, 'hello over h2', 5000);
      peer.send(OP.BINARY, Buffer.from([0, 1, 2, 255]));
      await peer.expectEcho(OP.BINARY, Buffer.from([0, 1, 2, 255]), 5000);
      const big = Buffer.alloc(1 << 20, 7);
      peer.send(OP.BINARY, big);
      await peer.expectEcho(OP.BINARY, big, 10000);
      // closing ends the stream, not the session
      const closed = new Promise((resolve) => h.wss.once('close', (c, code) => resolve(code)));
      peer.send(OP.CLOSE, Buffer.from([0x03, 0xe8]));
      const f = await peer.expectFrame(OP.CLOSE, 5000, 'the close reply');
      assert.strictEqual(f.payload.readUInt16BE(0), 1000);
      assert.strictEqual(await within(closed, 5000, "the server's close event"), 1000);
      stream.end();
      await within(new Promise((resolve) => stream.once('close', resolve)), 5000, 'the stream to close');
      assert.strictEqual(client.closed, false);
      assert.strictEqual(client.destroyed, false);
    });
  }

  it('rejects with the status and headers, ending only the stream', async function () {
    const h = await h2Server();
    h.wss.on('request', (r) => r.reject(403, 'not here', { 'X-Extra': 'yes', Connection: 'close' }));
    const client = await session(h);
    const { stream, headers } = await connectStream(client, '/');
    assert.strictEqual(headers[':status'], 403);
    assert.strictEqual(headers['x-websocket-reject-reason'], 'not here');
    assert.strictEqual(headers['x-extra'], 'yes');
    stream.resume();
    await within(new Promise((resolve) => stream.once('end', resolve)), 5000, 'the stream to end');
    assert.strictEqual(client.destroyed, false);
  });

  it('a rejection with headers HTTP/2 cannot carry resets the stream instead of throwing', async function () {
    const h = await h2Server();
    let threw = null;
    h.wss.on('request', (r) => {
      try {
        r.reject(403, 'no', { 'Bad Header': 'x' });
      } catch (e) {
        threw = e;
      }
    });
    const client = await session(h);
    const stream = client.request({
      ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':path': '/',
      ':authority': 'localhost', 'sec-websocket-version': '13',
    }, { endStream: false });
    const outcome = await within(new Promise((resolve) => {
      stream.once('response', (hd) => resolve('status ' + hd[':status']));
      stream.once('error', (e) => resolve(e.code));
    }), 5000, 'the outcome');
    assert.strictEqual(outcome, 'ERR_HTTP2_STREAM_ERROR');
    assert.strictEqual(threw, null);
    // the session still serves
    h.wss.removeAllListeners('request');
    h.wss.on('request', (r) => r.accept());
    const { headers } = await connectStream(client, '/');
    assert.strictEqual(headers[':status'], 200);
  });

  it('refuses a version other than 13 with 426', async function () {
    const h = await h2Server();
    const errors = [];
    h.wss.on('upgradeError', (e) => errors.push(e.message));
    h.wss.on('request', (r) => r.accept());
    const client = await session(h);
    const { headers } = await connectStream(client, '/', { 'sec-websocket-version': '8' });
    assert.strictEqual(headers[':status'], 426);
    assert.strictEqual(headers['sec-websocket-version'], '13');
    assert.strictEqual(errors.length, 1);
  });

  it('keeps the application\'s request handler, answers other CONNECTs 405, and still takes WebSocket CONNECTs', async function () {
    const h = await h2Server({
      onRequest: (req, res) => {
        res.end('page ' + req.url);
      },
    });
    h.wss.on('request', (r) => r.accept());
    const client = await session(h);
    // a page
    const page = client.request({ ':path': '/index.html' });
    let body = '';
    page.setEncoding('utf8');
    page.on('data', (d) => (body += d));
    await within(new Promise((resolve) => page.on('end', resolve)), 5000, 'the page');
    assert.strictEqual(body, 'page /index.html');
    // a plain CONNECT (a proxy request): what Node answers without us
    const tunnel = client.request({ ':method': 'CONNECT', ':authority': 'example.test:443' });
    tunnel.on('error', () => {});
    const status = await within(new Promise((resolve) => tunnel.once('response', (hd) => resolve(hd[':status']))),
      5000, 'the CONNECT answer');
    assert.strictEqual(status, 405);
    // a WebSocket
    const { stream, headers } = await connectStream(client, '/ws');
    assert.strictEqual(headers[':status'], 200);
    const peer = new RawPeer(stream, true);
    peer.send(OP.CLOSE, Buffer.from([0x03, 0xe8]));
    await peer.expectFrame(OP.CLOSE, 5000, 'the close reply');
  });

  it('serves HTTP/1.1 upgrades on the same server (allowHTTP1)', async function () {
    const h = await h2Server();
    h.wss.on('request', (r) => {
      const c = r.accept('echo', r.origin);
      c.on('message', (m) => c.sendUTF('h1:' + m.utf8Data));
    });
    const wsc = new WebSocketClient({ tlsOptions: { ca: certs.ca, servername: 'localhost' } });
    const conn = await within(new Promise((resolve, reject) => {
      wsc.once('connect', resolve);
      wsc.once('connectFailed', reject);
      wsc.connect('wss://localhost:' + h.port + '/h1', 'echo');
    }), 5000, 'the HTTP/1.1 connection');
    defer(() => conn.drop());
    const reply = new Promise((resolve) => conn.once('message', (m) => resolve(m.utf8Data)));
    conn.sendUTF('hi');
    assert.strictEqual(await within(reply, 5000, 'the echo'), 'h1:hi');
    assert.deepStrictEqual(h.upgrades, ['/h1']);
  });

  it('a stream reset by the client closes its connection with 1006 and leaves the session working', async function () {
    const h = await h2Server();
    const conns = [];
    h.wss.on('request', (r) => conns.push(r.accept()));
    const client = await session(h);
    const { stream } = await connectStream(client, '/a');
    await within(new Promise((resolve) => (conns.length ? resolve() : h.wss.once('connect', resolve))), 5000, 'accept');
    const closed = new Promise((resolve) => conns[0].once('close', (code) => resolve(code)));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    assert.strictEqual(await within(closed, 5000, 'the close event'), 1006);
    // another WebSocket on the same session
    const second = await connectStream(client, '/b');
    assert.strictEqual(second.headers[':status'], 200);
  });

  it('a stream reset before accept(): accept() then gives a connection that closes with 1006', async function () {
    const h = await h2Server();
    let request;
    const got = new Promise((resolve) => h.wss.on('request', (r) => {
      request = r;
      resolve();
    }));
    const client = await session(h);
    const stream = client.request({
      ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':path': '/late',
      ':authority': 'localhost', 'sec-websocket-version': '13',
    }, { endStream: false });
    stream.on('error', () => {});
    await within(got, 5000, 'the request');
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await within(new Promise((resolve) => request.socket.once('close', resolve)), 5000, 'the stream to close');
    const conn = request.accept();
    const code = await within(new Promise((resolve) => conn.once('close', (c) => resolve(c))), 5000, 'close');
    assert.strictEqual(code, 1006);
  });

  it('reports HTTP/2 flow control as backpressure: outputBufferFull, bufferedAmount, drain', async function () {
    const h = await h2Server();
    let conn;
    const accepted = new Promise((resolve) => h.wss.on('request', (r) => {
      conn = r.accept();
      resolve();
    }));
    const client = await session(h);
    const { stream } = await connectStream(client, '/flow');
    await within(accepted, 5000, 'the accept');
    // the client reads nothing: the stream's flow-control window (64 KiB) fills
    stream.pause();
    const chunk = Buffer.alloc(64 * 1024, 5);
    const results = [];
    for (let i = 0; i < 20; i++) results.push(conn.sendBytes(chunk));
    assert.strictEqual(results[0], false, 'over the 16 KiB high-water mark at once');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.strictEqual(conn.outputBufferFull, true);
    const queued = conn.bufferedAmount;
    assert.ok(queued > 20 * 64 * 1024 - 512 * 1024, 'bytes held back by flow control are still counted: ' + queued);
    // reading resumes: everything arrives, the queue empties, 'drain' follows
    const drained = new Promise((resolve) => conn.once('drain', resolve));
    const peer = new RawPeer(stream, true);
    stream.resume();
    for (let i = 0; i < 20; i++) {
      const m = await peer.nextMessage(5000);
      assert.strictEqual(m.payload.length, chunk.length, 'message ' + i + ': ' + JSON.stringify(m.sizes));
    }
    await within(drained, 5000, 'drain');
    assert.strictEqual(conn.outputBufferFull, false);
    assert.strictEqual(conn.bufferedAmount, 0);
  });

  describe('client: connect(url, protocols, origin, headers, { http2: true })', function () {
    function client() {
      return new WebSocketClient({ tlsOptions: { ca: certs.ca, servername: 'localhost' } });
    }
    function open(c, url, protocols, extra) {
      return within(new Promise((resolve, reject) => {
        c.once('connect', resolve);
        c.once('connectFailed', reject);
        c.connect(url, protocols, 'https://origin.test', extra, { http2: true });
      }), 10000, 'connect');
    }

    it('opens 100 WebSockets as streams of one session, echoes on each and closes them', async function () {
      const h = await h2Server();
      const seen = [];
      h.wss.on('request', (r) => {
        seen.push({ origin: r.origin, host: r.host, resource: r.resource, extra: r.httpRequest.headers['x-extra'] });
        const c = r.accept('echo', r.origin);
        c.on('message', (m) => c.sendUTF('echo:' + m.utf8Data));
      });
      // a client per connection (a WebSocketClient makes one connection at a time, as the
      // original's): the session is shared by origin and TLS options, not by client object
      const conns = await Promise.all(Array.from({ length: 100 }, (_, i) =>
        open(client(), 'wss://localhost:' + h.port + '/n/' + i, ['echo'], { 'X-Extra': 'e' + i })));
      assert.strictEqual(h.counts.sessions, 1);
      assert.deepStrictEqual(h.upgrades, []);
      assert.strictEqual(seen.length, 100);
      assert.deepStrictEqual(seen[7], { origin: 'https://origin.test', host: 'localhost:' + h.port,
        resource: '/n/7', extra: 'e7' });
      for (const conn of conns) {
        assert.strictEqual(conn.protocol, 'echo');
      }
      const replies = await Promise.all(conns.map((conn, i) => {
        const p = new Promise((resolve) => conn.once('message', (m) => resolve(m.utf8Data)));
        conn.sendUTF('m' + i);
        return within(p, 10000, 'echo ' + i);
      }));
      assert.deepStrictEqual(replies, conns.map((_, i) => 'echo:m' + i));
      const closes = conns.map((conn) => new Promise((resolve) => conn.once('close', (code) => resolve(code))));
      conns.forEach((conn) => conn.close());
      assert.deepStrictEqual(await within(Promise.all(closes), 10000, 'the closes'), conns.map(() => 1000));
      assert.strictEqual(h.counts.sessions, 1);
      // the session ends with its last WebSocket
      await h.counts.allClosed();
    });

    it('negotiates permessage-deflate over HTTP/2 as over HTTP/1.1', async function () {
      const h = await h2Server({ config: { perMessageDeflate: true } });
      let serverExtensions;
      h.wss.on('request', (r) => {
        const c = r.accept();
        serverExtensions = c.extensions.map((e) => e.name);
        c.on('message', (m) => c.sendUTF(m.utf8Data));
      });
      const c = new WebSocketClient({ tlsOptions: { ca: certs.ca, servername: 'localhost' }, perMessageDeflate: true });
      const conn = await open(c, 'wss://localhost:' + h.port + '/z');
      deepEq(conn.extensions.map((e) => e.name), ['permessage-deflate']);
      deepEq(serverExtensions, ['permessage-deflate']);
      const text = 'compress me '.repeat(5000);
      const reply = new Promise((resolve) => conn.once('message', (m) => resolve(m.utf8Data)));
      conn.sendUTF(text);
      assert.strictEqual(await within(reply, 5000, 'the echo'), text);
      const closed = new Promise((resolve) => conn.once('close', resolve));
      conn.close();
      await within(closed, 5000, 'the close');
    });

    it('w3cwebsocket takes { http2: true } as its requestOptions too', async function () {
      const h = await h2Server();
      h.wss.on('request', (r) => {
        const c = r.accept('chat', r.origin);
        c.on('message', (m) => c.sendUTF('w3c:' + m.utf8Data));
      });
      const W3CWebSocket = require('..').w3cwebsocket;
      const ws = new W3CWebSocket('wss://localhost:' + h.port + '/w3c', 'chat', null, null, { http2: true },
        { tlsOptions: { ca: certs.ca, servername: 'localhost' } });
      await within(new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error('w3c error'));
      }), 5000, 'open');
      const reply = new Promise((resolve) => {
        ws.onmessage = (e) => resolve(e.data);
      });
      ws.send('hi');
      assert.strictEqual(await within(reply, 5000, 'the echo'), 'w3c:hi');
      const closed = new Promise((resolve) => {
        ws.onclose = (e) => resolve([e.code, e.wasClean]);
      });
      ws.close();
      deepEq(await within(closed, 5000, 'close'), [1000, true]);
      assert.strictEqual(h.counts.sessions, 1);
      deepEq(h.upgrades, []);
    });

    it('fails with connectFailed when the server does not advertise extended CONNECT', async function () {
      // an HTTP/2 server without a WebSocket server: no SETTINGS_ENABLE_CONNECT_PROTOCOL
      const server = http2.createSecureServer({ key: certs.serverKey, cert: certs.serverCert });
      server.on('session', (s) => defer(() => s.destroy()));
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      defer(() => new Promise((resolve) => server.close(resolve)));
      const err = await open(client(), 'wss://localhost:' + server.address().port + '/').then(
        () => null, (e) => e);
      assert.ok(err instanceof Error);
      assert.match(err.message, /SETTINGS_ENABLE_CONNECT_PROTOCOL/);
    });

    it('fails with connectFailed on a rejection, keeping the status in the description', async function () {
      const h = await h2Server();
      h.wss.on('request', (r) => r.reject(403, 'go away'));
      const err = await open(client(), 'wss://localhost:' + h.port + '/').then(() => null, (e) => e);
      assert.ok(err instanceof Error);
      assert.match(err.message, /non-200 status: 403/);
      assert.match(err.message, /x-websocket-reject-reason: go away/);
    });

    it('fails with connectFailed when nothing listens', async function () {
      const h = await h2Server();
      const port = h.port;
      await runCleanups();
      const err = await open(client(), 'wss://localhost:' + port + '/').then(() => null, (e) => e);
      assert.ok(err instanceof Error);
      assert.strictEqual(err.code, 'ECONNREFUSED');
    });

    it('checks the subprotocol the server chose', async function () {
      const h = await h2Server();
      h.wss.on('request', (r) => r.accept());
      const err = await open(client(), 'wss://localhost:' + h.port + '/', ['wanted']).then(() => null, (e) => e);
      assert.ok(err instanceof Error);
      assert.strictEqual(err.message, 'Expected a Sec-WebSocket-Protocol header.');
    });
  });
});
