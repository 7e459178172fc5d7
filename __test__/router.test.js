'use strict';
// Tests for `router` (lib/WebSocketRouter.js) and the requests it hands to routes
// (lib/WebSocketRouterRequest.js), attached to this project's server and to the original
// `websocket` package's server (the router only needs the server's 'request' event), with this
// project's client on 127.0.0.1. Expected behaviour is WebSocket-Node 1.0.35's router.
const assert = require('assert');
const http = require('http');
const { once } = require('events');
const ours = require('..');
const {
  defer, runCleanups, next, rawRequest, upgradeHeaders, peerServer, clientConnect, clientFails,
} = require('./helpers');

const WebSocketRouter = ours.router;
const eq = assert.strictEqual;
const deq = assert.deepStrictEqual;
const NAMES = { ours: "this project's server", orig: 'the original `websocket` server' };
const NOT_FOUND = 'No handler is available for the given request.';

afterEach(runCleanups);

// A server of `kind` with no request handler of its own and a router attached to it.
async function routed(kind) {
  const srv = await peerServer(kind, { noRequestHandler: true });
  const router = new WebSocketRouter();
  router.attachServer(srv.server);
  defer(() => router.server && router.detachServer());
  return { srv, router, url: srv.url };
}

// A route that accepts and greets the client with `tag`; `seen` collects its router requests.
function greeter(tag, seen) {
  return (req) => {
    if (seen) {
      seen.push(req);
    }
    req.accept(req.origin).sendUTF(tag);
  };
}

// Which route takes a client connecting to `url` with `protocols`: the greeting's tag and the
// negotiated protocol, or 'failed: <status>' when the connection is refused.
async function whoTakes(url, protocols) {
  let conn;
  try {
    conn = await clientConnect([url, protocols]);
  } catch (e) {
    const m = /non-101 status: (\d+)/.exec(e.message);
    return 'failed: ' + (m ? m[1] : e.message);
  }
  const [msg] = await next(conn, 'message');
  conn.drop(1001, 'seen', true);
  return conn.protocol === undefined ? msg.utf8Data : msg.utf8Data + ' (' + conn.protocol + ')';
}

// ---------------------------------------------------------------------------------------------

describe('router', function () {
  it('attachServer() needs a server; detachServer() without a server throws', async function () {
    const router = new WebSocketRouter();
    assert.throws(() => router.attachServer(), /^Error: You must specify a WebSocketServer instance to attach to\.$/);
    assert.throws(() => router.detachServer(), /^Error: Cannot detach from server: not attached\.$/);
    const srv = await peerServer('ours', { noRequestHandler: true });
    router.attachServer(srv.server);
    eq(router.server, srv.server);
    eq(srv.server.listenerCount('request'), 1);
    router.detachServer();
    eq(router.server, null);
    eq(srv.server.listenerCount('request'), 0);
    assert.throws(() => router.detachServer(), /Cannot detach from server: not attached\./);
  });

  it('config.server attaches at construction', async function () {
    const srv = await peerServer('ours', { noRequestHandler: true });
    const router = new WebSocketRouter({ server: srv.server });
    defer(() => router.server && router.detachServer());
    eq(router.server, srv.server);
    eq(srv.server.listenerCount('request'), 1);
    router.mount('/', null, greeter('root'));
    eq(await whoTakes(srv.url), 'root');
  });

  it('mount() checks its arguments', function () {
    const router = new WebSocketRouter();
    const cb = () => {};
    assert.throws(() => router.mount('', 'p', cb), /^Error: You must specify a path for this handler\.$/);
    assert.throws(() => router.mount(null, 'p', cb), /You must specify a path for this handler\./);
    assert.throws(() => router.mount('/x', 'p'), /^Error: You must specify a callback for this handler\.$/);
    assert.throws(() => router.mount(42, 'p', cb), /^Error: Path must be specified as either a string or a RegExp\.$/);
    assert.throws(() => router.mount({}, 'p', cb), /Path must be specified as either a string or a RegExp\./);
    eq(router.handlers.length, 0);
  });

  it('mounting the same path and protocol twice throws (string or RegExp, any protocol case)', function () {
    const router = new WebSocketRouter();
    const cb = () => {};
    const message = /^Error: You may only mount one handler per path\/protocol combination\.$/;
    router.mount('/x', 'chat', cb);
    assert.throws(() => router.mount('/x', 'chat', cb), message);
    assert.throws(() => router.mount('/x', 'CHAT', cb), message);
    assert.throws(() => router.mount(/^\/x$/, 'chat', cb), message);
    router.mount('/x', 'other', cb);
    router.mount('/x', null, cb);
    assert.throws(() => router.mount('/x', undefined, cb), message);
    router.mount('*', '*', cb);
    assert.throws(() => router.mount('*', '*', cb), message);
    eq(router.handlers.length, 4);
  });

  it('unmount() removes a route; an unknown route throws', function () {
    const router = new WebSocketRouter();
    const cb = () => {};
    router.mount('/x', 'chat', cb);
    router.mount(/^\/re$/, 'chat', cb);
    router.mount('/none', null, cb);
    const message = /^Error: Unable to find a route matching the specified path and protocol\.$/;
    assert.throws(() => router.unmount('/y', 'chat'), message);
    assert.throws(() => router.unmount('/x', 'other'), message);
    router.unmount('/x', 'CHAT'); // protocols compare case-insensitively
    assert.throws(() => router.unmount('/x', 'chat'), message);
    router.unmount(/^\/re$/, 'chat');
    router.unmount('/none'); // no protocol: the route mounted with none
    eq(router.handlers.length, 0);
  });
});

for (const kind of ['ours', 'orig']) {
  describe('router on ' + NAMES[kind], function () {
    this.timeout(20000);

    it('matches a string path exactly (query ignored, special characters literal)', async function () {
      const { router, url } = await routed(kind);
      router.mount('/chat', null, greeter('chat'));
      router.mount('/a.b', null, greeter('a.b'));
      eq(await whoTakes(url + 'chat'), 'chat');
      eq(await whoTakes(url + 'chat?room=1&x=%20'), 'chat');
      eq(await whoTakes(url + 'chat/'), 'failed: 404');
      eq(await whoTakes(url + 'chatroom'), 'failed: 404');
      eq(await whoTakes(url + 'a.b'), 'a.b');
      eq(await whoTakes(url + 'axb'), 'failed: 404');
      eq(await whoTakes(url), 'failed: 404');
    });

    it('matches a RegExp path against the pathname', async function () {
      const { router, url } = await routed(kind);
      router.mount(/^\/room\/\d+$/, null, greeter('room'));
      eq(await whoTakes(url + 'room/42'), 'room');
      eq(await whoTakes(url + 'room/42?x=1'), 'room');
      eq(await whoTakes(url + 'room/x'), 'failed: 404');
    });

    it('matches protocols case-insensitively and answers in the case the client sent', async function () {
      const { router, url } = await routed(kind);
      const seen = [];
      router.mount('/p', 'Chat', greeter('chat', seen));
      eq(await whoTakes(url + 'p', ['chat']), 'chat (chat)');
      eq(await whoTakes(url + 'p', ['CHAT']), 'chat (CHAT)');
      eq(await whoTakes(url + 'p', ['other']), 'failed: 404');
      eq(await whoTakes(url + 'p'), 'failed: 404', 'a route with a protocol does not take requests without one');
      deq(seen.map((r) => r.protocol), ['chat', 'chat']);
    });

    it("'*' as the path matches every path; '*' as the protocol matches any protocol or none", async function () {
      const { router, url } = await routed(kind);
      const seen = [];
      router.mount('*', 'echo', greeter('any path', seen));
      router.mount('/any', '*', greeter('any protocol', seen));
      eq(await whoTakes(url + 'deep/path?q=1', ['echo']), 'any path (echo)');
      eq(await whoTakes(url, ['echo']), 'any path (echo)');
      eq(await whoTakes(url + 'any', ['Whatever']), 'any protocol (Whatever)');
      eq(await whoTakes(url + 'any'), 'any protocol');
      eq(await whoTakes(url + 'other', ['nope']), 'failed: 404');
      deq(seen.map((r) => r.protocol), ['echo', 'echo', 'whatever', null]);
    });

    it('the first matching route in mount order wins', async function () {
      const { router, url } = await routed(kind);
      router.mount(/^\/x/, null, greeter('regexp first'));
      router.mount('/x', null, greeter('exact second'));
      router.mount('*', '*', greeter('catch-all'));
      eq(await whoTakes(url + 'x'), 'regexp first');
      eq(await whoTakes(url + 'xyz'), 'regexp first');
      eq(await whoTakes(url + 'y'), 'catch-all');
      router.unmount(/^\/x/, null);
      eq(await whoTakes(url + 'x'), 'exact second');
      eq(await whoTakes(url + 'xyz'), 'catch-all');
    });

    it("the client's protocol order comes first, then mount order", async function () {
      const { router, url } = await routed(kind);
      router.mount('/p', 'a', greeter('route a'));
      router.mount('/p', 'b', greeter('route b'));
      router.mount('*', 'b', greeter('route b anywhere'));
      eq(await whoTakes(url + 'p', ['a', 'b']), 'route a (a)');
      eq(await whoTakes(url + 'p', ['b', 'a']), 'route b (b)');
      eq(await whoTakes(url + 'p', ['c', 'b']), 'route b (b)');
      eq(await whoTakes(url + 'q', ['a', 'b']), 'route b anywhere (b)');
    });

    it('unmatched and unmounted requests get 404 with the reason in X-WebSocket-Reject-Reason', async function () {
      const { srv, router, url } = await routed(kind);
      router.mount('/x', 'chat', greeter('x'));
      const err = await clientFails([url + 'x', ['other']]);
      assert.match(err.message, /^Server responded with a non-101 status: 404 /);
      const { res } = await rawRequest(srv.port, upgradeHeaders(), '/nothing');
      eq(res.statusCode, 404);
      eq(res.headers['x-websocket-reject-reason'], NOT_FOUND);
      eq(await whoTakes(url + 'x', ['chat']), 'x (chat)');
      router.unmount('/x', 'chat');
      eq(await whoTakes(url + 'x', ['chat']), 'failed: 404');
    });

    it('after detachServer() the router no longer sees requests', async function () {
      const { srv, router, url } = await routed(kind);
      router.mount('*', '*', greeter('routed'));
      eq(await whoTakes(url), 'routed');
      router.detachServer();
      const { res } = await rawRequest(srv.port, upgradeHeaders(), '/');
      eq(res.statusCode, 404);
      eq(res.headers['x-websocket-reject-reason'], 'No handler is configured to accept the connection.');
    });

    it('a router request has the details of the request (protocol null when none was asked for)', async function () {
      const { srv, router, url } = await routed(kind);
      const seen = [];
      router.mount('/info/x', '*', (req) => {
        seen.push(req);
        req.accept(req.origin);
      });
      await clientConnect([url + 'info/x?q=1&r=two', null, 'http://o.example', { Cookie: 'a=1; b=two' }]);
      await clientConnect([url + 'info/x', ['Proto'], 'http://eight.example'], { webSocketVersion: 8 });
      const [r, r8] = seen;
      assert.ok(r instanceof require('events').EventEmitter);
      eq(r.protocol, null);
      eq(r.origin, 'http://o.example');
      eq(r.resource, '/info/x?q=1&r=two');
      eq(r.resourceURL.pathname, '/info/x');
      deq(Object.assign({}, r.resourceURL.query), { q: '1', r: 'two' });
      eq(r.remoteAddress, '127.0.0.1');
      eq(r.webSocketVersion, 13);
      deq(r.cookies, [{ name: 'a', value: '1' }, { name: 'b', value: 'two' }]);
      deq(r.requestedExtensions, []);
      assert.ok(r.httpRequest instanceof http.IncomingMessage);
      eq(r.httpRequest, srv.upgrades[0]);
      eq(r.webSocketRequest.resource, '/info/x?q=1&r=two');
      eq(r8.protocol, 'proto');
      eq(r8.webSocketVersion, 8);
      eq(r8.origin, 'http://eight.example');
      deq(r8.cookies, []);
    });

    it("accept() emits 'requestAccepted' with the connection it returns", async function () {
      const { router, url } = await routed(kind);
      const events = [];
      router.mount('/a', 'chat', (req) => {
        req.on('requestAccepted', (c) => events.push(['requestAccepted', c]));
        req.on('requestRejected', () => events.push(['requestRejected']));
        const conn = req.accept();
        events.push(['returned', conn]);
        conn.on('message', (m) => conn.sendUTF('echo ' + m.utf8Data));
      });
      const conn = await clientConnect([url + 'a', ['chat']]);
      eq(conn.protocol, 'chat');
      conn.sendUTF('hi');
      eq((await next(conn, 'message'))[0].utf8Data, 'echo hi');
      deq(events.map((e) => e[0]), ['requestAccepted', 'returned']);
      eq(events[0][1], events[1][1]);
      eq(events[0][1].protocol, 'chat');
    });

    it("accept() from a timer works; accept(origin, cookies) sets cookies", async function () {
      const { srv, router } = await routed(kind);
      router.mount('/late', null, (req) => setTimeout(() => req.accept('http://o.example', [{ name: 'k', value: 'v' }]), 20));
      const { res, socket } = await rawRequest(srv.port, upgradeHeaders(), '/late');
      eq(res.statusCode, 101);
      deq(res.headers['set-cookie'], ['k=v']);
      socket.destroy();
    });

    it("reject(status, reason, extraHeaders) emits 'requestRejected' with the router request; the client sees them", async function () {
      const { router, url } = await routed(kind);
      const events = [];
      router.mount('/r', null, (req) => {
        req.on('requestAccepted', () => events.push('requestAccepted'));
        req.on('requestRejected', (r) => events.push(r === req ? 'requestRejected(itself)' : 'requestRejected(?)'));
        req.reject(403, 'not you', { 'X-Extra': 'extra' });
      });
      const client = new ours.client();
      const responseP = next(client, 'httpResponse');
      client.connect(url + 'r');
      const [res] = await responseP;
      res.resume();
      eq(res.statusCode, 403);
      eq(res.headers['x-websocket-reject-reason'], 'not you');
      eq(res.headers['x-extra'], 'extra');
      deq(events, ['requestRejected(itself)']);
      await once(res, 'end');
    });
  });
}
