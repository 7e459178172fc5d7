'use strict';
// Tests for the client side: `client` (lib/WebSocketClient.js: the handshake by Node's
// http.request, then the socket handed to the Rust core). Every test uses real sockets on
// 127.0.0.1 against real servers: this project's server, a `ws` WebSocketServer and the original
// `websocket` package's server, plus bare TCP servers written here when a test needs to see or
// shape the bytes on the wire. Expected behaviour is WebSocket-Node 1.0.35's
// (node_modules/websocket/lib) unless the README's "Differences" sections or issue 4 say
// otherwise.
const assert = require('assert');
const http = require('http');
const url = require('url');
const { once } = require('events');
const orig = require('websocket');
const ours = require('..');
const {
  defer, runCleanups, sleep, collect, next, utf8Text, bytesOf, withUncaught, SERVER_KINDS, peerServer,
  rawServer, upgrade101, freePort, clientConnect, clientFails, serverFrame, countingAgent, nothingThrown,
} = require('./helpers');

const WebSocketClient = ours.client;
const eq = assert.strictEqual;
const deq = assert.deepStrictEqual;
const KIB = 1024;
const MIB = 1024 * 1024;
const NAMES = { ours: "this project's server", ws: 'a `ws` server', orig: 'the original `websocket` server' };

afterEach(runCleanups);

// The value of the 'close' event of `conn`: [code, description].
const closeOf = (conn) => next(conn, 'close');

// ---------------------------------------------------------------------------------------------

describe('client: config', function () {
  const DEFAULTS = {
    maxReceivedFrameSize: 0x100000, maxReceivedMessageSize: 0x800000, fragmentOutgoingMessages: true,
    fragmentationThreshold: 0x4000, webSocketVersion: 13, assembleFragments: true, disableNagleAlgorithm: true,
    closeTimeout: 5000, tlsOptions: {},
  };

  it('has the original defaults (1 MiB frame, 8 MiB message, version 13, 16 KiB fragments, ...)', function () {
    const c = new WebSocketClient();
    deq(c.config, DEFAULTS);
    deq(c.config, new orig.client().config);
    assert.ok(c instanceof require('events').EventEmitter);
  });

  it('merges a config over the defaults, tlsOptions included', function () {
    const c = new WebSocketClient({ maxReceivedFrameSize: 10, closeTimeout: 42, tlsOptions: { rejectUnauthorized: false } });
    deq(c.config, Object.assign({}, DEFAULTS, {
      maxReceivedFrameSize: 10, closeTimeout: 42, tlsOptions: { rejectUnauthorized: false },
    }));
    // The defaults' tlsOptions object is not shared between clients.
    deq(new WebSocketClient().config.tlsOptions, {});
  });

  it('accepts webSocketVersion 8 and 13 and throws for any other', function () {
    eq(new WebSocketClient({ webSocketVersion: 8 }).config.webSocketVersion, 8);
    eq(new WebSocketClient({ webSocketVersion: 13 }).config.webSocketVersion, 13);
    for (const v of [7, 12, 14, '13', null]) {
      assert.throws(() => new WebSocketClient({ webSocketVersion: v }),
        /^Error: Requested webSocketVersion is not supported\. Allowed values are 8 and 13\.$/, String(v));
    }
  });
});

// ---------------------------------------------------------------------------------------------

for (const kind of SERVER_KINDS) {
  describe('client against ' + NAMES[kind], function () {
    this.timeout(20000);

    it('sends the upgrade request: path and query, Host, Origin, protocols, custom headers, version 13', async function () {
      const srv = await peerServer(kind);
      const conn = await clientConnect([srv.url + 'some/path?x=1&y=%C3%A9', ['chat', 'superchat'],
        'http://app.example', { 'X-Custom': 'custom value', Cookie: 'a=1; b=2' }]);
      eq(srv.upgrades.length, 1);
      const req = srv.upgrades[0];
      eq(req.method, 'GET');
      eq(req.url, '/some/path?x=1&y=%C3%A9');
      const h = req.headers;
      eq(h.host, '127.0.0.1:' + srv.port);
      eq(h.origin, 'http://app.example');
      eq(h['sec-websocket-origin'], undefined);
      eq(h['sec-websocket-version'], '13');
      eq(h['sec-websocket-protocol'], 'chat, superchat');
      eq(h['x-custom'], 'custom value');
      eq(h.cookie, 'a=1; b=2');
      eq(h.upgrade.toLowerCase(), 'websocket');
      eq(h.connection.toLowerCase(), 'upgrade');
      eq(Buffer.from(h['sec-websocket-key'], 'base64').length, 16);
      eq(conn.protocol, 'chat');
      eq(conn.webSocketVersion, 13);
      eq(conn.connected, true);
      eq(conn.remoteAddress, '127.0.0.1');
      eq(conn.socket.remotePort, srv.port);
      eq(conn.closeReasonCode, -1);
    });

    it('webSocketVersion 8: Sec-WebSocket-Version 8 and Sec-WebSocket-Origin, and it works', async function () {
      const srv = await peerServer(kind, { echo: true });
      const conn = await clientConnect([srv.url, null, 'http://eight.example'], { webSocketVersion: 8 });
      const h = srv.upgrades[0].headers;
      eq(h['sec-websocket-version'], '8');
      eq(h['sec-websocket-origin'], 'http://eight.example');
      eq(h.origin, undefined);
      eq(conn.webSocketVersion, 8);
      conn.sendUTF('v8');
      eq((await next(conn, 'message'))[0].utf8Data, 'v8');
    });

    it('a Host header given in headers replaces the default one', async function () {
      const srv = await peerServer(kind);
      await clientConnect([srv.url, [], undefined, { Host: 'example.com:1234' }]);
      eq(srv.upgrades[0].headers.host, 'example.com:1234');
    });

    it('echoes text (multi-byte UTF-8) of 0 B, 125 B, 126 B, 64 KiB and 1 MiB both ways', async function () {
      const srv = await peerServer(kind, { echo: true });
      const conn = await clientConnect([srv.url]);
      const texts = [0, 1, 125, 126, 64 * KIB, MIB].map((n) => utf8Text(n));
      const got = collect(conn, 'message', texts.length);
      texts.forEach((t) => conn.sendUTF(t));
      const msgs = (await got).map(([m]) => m);
      deq(msgs.map((m) => m.type), texts.map(() => 'utf8'));
      msgs.forEach((m, i) => assert.ok(m.utf8Data === texts[i], 'text ' + i));
      const peer = srv.peers[0];
      deq(peer.received.map((t) => Buffer.byteLength(t)), [0, 1, 125, 126, 64 * KIB, MIB]);
      assert.ok(peer.received.every((t, i) => t === texts[i]));
    });

    it('echoes binary of 0 B, 125 B, 126 B, 64 KiB and 1 MiB both ways', async function () {
      const srv = await peerServer(kind, { echo: true });
      const conn = await clientConnect([srv.url]);
      const sizes = [0, 125, 126, 64 * KIB, MIB];
      const bins = sizes.map((n) => bytesOf(n, n & 0xFF));
      const got = collect(conn, 'message', bins.length);
      bins.forEach((b) => conn.sendBytes(b));
      const msgs = (await got).map(([m]) => m);
      deq(msgs.map((m) => m.type), sizes.map(() => 'binary'));
      msgs.forEach((m, i) => assert.ok(Buffer.isBuffer(m.binaryData) && m.binaryData.equals(bins[i]), 'binary ' + i));
      assert.ok(srv.peers[0].received.every((b, i) => Buffer.isBuffer(b) && b.equals(bins[i])));
    });

    it('send() takes a Buffer as binary and anything else as text; send callbacks are called', async function () {
      const srv = await peerServer(kind, { echo: true });
      const conn = await clientConnect([srv.url]);
      const got = collect(conn, 'message', 3);
      const calls = [];
      conn.send(Buffer.from([1, 2, 3]), (err) => calls.push(['a', err]));
      conn.send(12345, (err) => calls.push(['b', err]));
      conn.sendUTF('ünï', (err) => calls.push(['c', err]));
      const msgs = (await got).map(([m]) => m);
      deq(msgs, [
        { type: 'binary', binaryData: Buffer.from([1, 2, 3]) }, { type: 'utf8', utf8Data: '12345' },
        { type: 'utf8', utf8Data: 'ünï' },
      ]);
      deq(calls.sort(), [['a', undefined], ['b', undefined], ['c', undefined]]);
    });

    it('fragments outgoing messages by fragmentationThreshold; the server gets them whole', async function () {
      const srv = await peerServer(kind, { echo: true });
      const conn = await clientConnect([srv.url], { fragmentationThreshold: 100 });
      const text = utf8Text(1000);
      const bin = bytesOf(1001);
      const got = collect(conn, 'message', 2);
      conn.sendUTF(text);
      conn.sendBytes(bin);
      const msgs = (await got).map(([m]) => m);
      eq(msgs[0].utf8Data, text);
      assert.ok(msgs[1].binaryData.equals(bin));
      eq(srv.peers[0].received[0], text);
      assert.ok(srv.peers[0].received[1].equals(bin));
    });

    it('assembles fragmented messages from the server (split inside a UTF-8 character too)', async function () {
      const srv = await peerServer(kind);
      const conn = await clientConnect([srv.url]);
      const peer = await srv.nextPeer();
      const text = Buffer.from('héllo wörld €uro 😀!');
      const got = collect(conn, 'message', 2);
      peer.sendFragments([text.subarray(0, 2), text.subarray(2, 11), Buffer.alloc(0), text.subarray(11)], false);
      peer.sendFragments([bytesOf(100), bytesOf(50, 3), bytesOf(1, 9)], true);
      const msgs = (await got).map(([m]) => m);
      deq(msgs[0], { type: 'utf8', utf8Data: text.toString() });
      deq(msgs[1], { type: 'binary', binaryData: Buffer.concat([bytesOf(100), bytesOf(50, 3), bytesOf(1, 9)]) });
    });

    it("assembleFragments: false emits a 'frame' per fragment and no 'message'", async function () {
      const srv = await peerServer(kind);
      const conn = await clientConnect([srv.url], { assembleFragments: false });
      const peer = await srv.nextPeer();
      let messages = 0;
      conn.on('message', () => messages++);
      const frames = collect(conn, 'frame', 3);
      peer.sendFragments([Buffer.from('ab'), Buffer.from('cd'), Buffer.from('ef')], false);
      const got = (await frames).map(([f]) => [f.opcode, f.fin, f.binaryPayload.toString()]);
      deq(got, [[1, false, 'ab'], [0, false, 'cd'], [0, true, 'ef']]);
      eq(messages, 0);
    });

    it("answers the server's pings by itself with the same data", async function () {
      const srv = await peerServer(kind);
      await clientConnect([srv.url]);
      const peer = await srv.nextPeer();
      const pong = next(peer.events, 'pong');
      peer.ping(Buffer.from('are you there'));
      eq((await pong)[0].toString(), 'are you there');
    });

    it("a 'ping' listener gets (cancel, data) and the pong still goes unless cancelled", async function () {
      const srv = await peerServer(kind);
      const conn = await clientConnect([srv.url]);
      const peer = await srv.nextPeer();
      const pings = [];
      conn.on('ping', (cancel, data) => {
        pings.push(data.toString());
        if (data.toString() === 'hold') {
          cancel();
        }
      });
      const pongs = [];
      peer.events.on('pong', (d) => pongs.push(d.toString()));
      peer.ping(Buffer.from('hold'));
      peer.ping(Buffer.from('answer me'));
      await next(peer.events, 'pong');
      deq(pings, ['hold', 'answer me']);
      deq(pongs, ['answer me']);
    });

    it("client.ping(data) reaches the server and the server's pong comes back as 'pong'", async function () {
      const srv = await peerServer(kind);
      const conn = await clientConnect([srv.url]);
      const peer = await srv.nextPeer();
      const ping = next(peer.events, 'ping');
      const pong = next(conn, 'pong');
      conn.ping('knock');
      eq((await ping)[0].toString(), 'knock');
      eq((await pong)[0].toString(), 'knock');
    });

    it("close(4001, 'x') from the client: the server sees 4001 'x', the client closes with them", async function () {
      const srv = await peerServer(kind);
      const conn = await clientConnect([srv.url]);
      const peer = await srv.nextPeer();
      const closeP = closeOf(conn);
      conn.sendUTF('before close');
      conn.close(4001, 'x');
      eq(conn.connected, false);
      // The original server drops a close reason of one byte (its check is `length > 1`).
      deq(await peer.closed, [4001, kind === 'orig' ? undefined : 'x']);
      deq(await closeP, [4001, 'x']);
      deq(peer.received, ['before close']);
      eq(conn.closeReasonCode, 4001);
      eq(conn.closeDescription, 'x');
      eq(conn.state, 'closed');
    });

    it("close(4002, 'y') from the server: the client's close event has 4002 'y', after earlier messages", async function () {
      const srv = await peerServer(kind);
      const conn = await clientConnect([srv.url]);
      const peer = await srv.nextPeer();
      const events = [];
      conn.on('message', (m) => events.push(['message', m.utf8Data]));
      const closeP = closeOf(conn);
      peer.sendText('one');
      peer.sendText('two');
      peer.close(4002, 'y');
      const [code, description] = await closeP;
      events.push(['close', code, description]);
      deq(events, [['message', 'one'], ['message', 'two'], ['close', 4002, 'y']]);
      eq(conn.closeReasonCode, 4002);
      eq(conn.closeDescription, 'y');
      // The server's view is the code of the client's answer: the original answers 1000, an echo 4002.
      assert.ok([1000, 4002].includes((await peer.closed)[0]));
    });

    it('negotiates a subprotocol: the server picks from a list; a string is one protocol', async function () {
      const srv = await peerServer(kind, { protocol: (requested) => requested[requested.length - 1] });
      const conn = await clientConnect([srv.url, ['chat', 'superchat']]);
      eq(conn.protocol, 'superchat');
      const conn2 = await clientConnect([srv.url, 'solo']);
      eq(conn2.protocol, 'solo');
      eq(srv.upgrades[1].headers['sec-websocket-protocol'], 'solo');
      // An empty string, null or a non-array asks for no protocol.
      for (const protocols of ['', null, undefined, 42, {}]) {
        const c = await clientConnect([srv.url, protocols]);
        eq(c.protocol, undefined);
        eq(srv.upgrades[srv.upgrades.length - 1].headers['sec-websocket-protocol'], undefined, String(protocols));
      }
    });

    it('connectFailed when protocols were requested and the server chose none', async function () {
      const srv = await peerServer(kind, { protocol: () => false });
      const err = await clientFails([srv.url, ['chat']]);
      eq(err.message, 'Expected a Sec-WebSocket-Protocol header.');
    });

    if (kind === 'ws') {
      it('connectFailed when the server answers with a protocol that was not requested', async function () {
        const srv = await peerServer(kind, { protocol: () => 'other' });
        const err = await clientFails([srv.url, ['chat', 'superchat']]);
        eq(err.message, 'Server did not respond with a requested protocol.');
      });
    }

    it('a non-101 reply without an httpResponse listener: connectFailed naming the status', async function () {
      const srv = await peerServer(kind, { reject: { status: 403, reason: 'go away' } });
      const err = await clientFails([srv.url]);
      assert.ok(err instanceof Error);
      assert.match(err.message, /^Server responded with a non-101 status: 403 Forbidden\nResponse Headers Follow:\n/);
      if (kind !== 'ws') {
        assert.match(err.message, /\nx-websocket-reject-reason: go away\n/);
      }
    });

    it('a non-101 reply with an httpResponse listener: httpResponse(response, client) and no connectFailed', async function () {
      const srv = await peerServer(kind, { reject: { status: 403, reason: 'go away' } });
      const client = new WebSocketClient();
      let failed = 0;
      let connected = 0;
      client.on('connectFailed', () => failed++);
      client.on('connect', (c) => connected++ || c.drop());
      const responseP = next(client, 'httpResponse');
      client.connect(srv.url);
      const [response, emitter] = await responseP;
      eq(emitter, client);
      assert.ok(response instanceof http.IncomingMessage);
      eq(response.statusCode, 403);
      if (kind !== 'ws') {
        eq(response.headers['x-websocket-reject-reason'], 'go away');
      }
      response.resume();
      await once(response, 'close');
      await sleep(20);
      eq(failed, 0);
      eq(connected, 0);
    });

    it("maxReceivedFrameSize exceeded by the server: the client closes with 1009", async function () {
      const srv = await peerServer(kind);
      const conn = await clientConnect([srv.url], { maxReceivedFrameSize: 1000 });
      const peer = await srv.nextPeer();
      const messages = [];
      conn.on('message', (m) => messages.push(m.binaryData.length));
      const closeP = closeOf(conn);
      peer.sendFragments([bytesOf(1000)], true);
      peer.sendFragments([bytesOf(1001)], true);
      eq((await closeP)[0], 1009);
      eq((await peer.closed)[0], 1009);
      deq(messages, [1000]);
    });

    it('maxReceivedMessageSize exceeded by the server (fragments): the client closes with 1009', async function () {
      const srv = await peerServer(kind);
      const conn = await clientConnect([srv.url], { maxReceivedMessageSize: 2500 });
      const peer = await srv.nextPeer();
      const messages = [];
      conn.on('message', (m) => messages.push(m.binaryData.length));
      const closeP = closeOf(conn);
      peer.sendFragments([bytesOf(1000), bytesOf(1000), bytesOf(500)], true);
      peer.sendFragments([bytesOf(1000), bytesOf(1000), bytesOf(501)], true);
      eq((await closeP)[0], 1009);
      eq((await peer.closed)[0], 1009);
      deq(messages, [2500]);
    });

    it('default limits: a 1 MiB frame passes, one byte more closes with 1009', async function () {
      const srv = await peerServer(kind);
      const conn = await clientConnect([srv.url]);
      const peer = await srv.nextPeer();
      const messages = [];
      conn.on('message', (m) => messages.push(m.binaryData.length));
      const closeP = closeOf(conn);
      peer.sendFragments([bytesOf(MIB)], true);
      peer.sendFragments([bytesOf(MIB + 1)], true);
      eq((await closeP)[0], 1009);
      deq(messages, [MIB]);
    });

    it("outputBufferFull and 'drain' follow a server that stops reading", async function () {
      const srv = await peerServer(kind);
      const conn = await clientConnect([srv.url]);
      const peer = await srv.nextPeer();
      peer.pauseReading();
      const chunk = bytesOf(MIB);
      let ok = true;
      for (let i = 0; i < 12 && ok; i++) {
        ok = conn.sendBytes(chunk);
      }
      eq(ok, false, 'a send reports the buffer full');
      eq(conn.outputBufferFull, true);
      const drainP = next(conn, 'drain');
      peer.resumeReading();
      await drainP;
      eq(conn.outputBufferFull, false);
    });

    it('a server that goes away without a close frame gives close 1006', async function () {
      const srv = await peerServer(kind);
      const conn = await clientConnect([srv.url]);
      const peer = await srv.nextPeer();
      const closeP = closeOf(conn);
      if (kind === 'ws') {
        peer.raw.terminate();
      } else {
        peer.raw.drop(1006, 'gone', true);
      }
      eq((await closeP)[0], 1006);
    });
  });
}

// ---------------------------------------------------------------------------------------------

describe('client: connect() arguments', function () {
  it('origin comes before headers and headers before requestOptions', async function () {
    const srv = await peerServer('ours');
    const agent = countingAgent();
    await clientConnect([srv.url, 'p', 'http://o.example', { 'X-Third': '3' }, { agent }]);
    const h = srv.upgrades[0].headers;
    eq(h['sec-websocket-protocol'], 'p');
    eq(h.origin, 'http://o.example');
    eq(h['x-third'], '3');
    eq(agent.used, 1);
  });

  it('requestOptions cannot override hostname, port, method, path or headers', async function () {
    const srv = await peerServer('ours');
    await clientConnect([srv.url + 'real?q=1', null, null, { 'X-Mine': 'yes' }, {
      hostname: 'example.invalid', port: 1, method: 'POST', path: '/evil', headers: { 'X-Evil': '1' },
    }]);
    const req = srv.upgrades[0];
    eq(req.method, 'GET');
    eq(req.url, '/real?q=1');
    eq(req.headers['x-mine'], 'yes');
    eq(req.headers['x-evil'], undefined);
  });

  it('headers cannot override the handshake headers', async function () {
    const srv = await peerServer('ours');
    await clientConnect([srv.url, null, null, {
      Upgrade: 'nonsense', Connection: 'close', 'Sec-WebSocket-Version': '99', 'Sec-WebSocket-Key': 'bad',
    }]);
    const h = srv.upgrades[0].headers;
    eq(h.upgrade, 'websocket');
    eq(h['sec-websocket-version'], '13');
    eq(Buffer.from(h['sec-websocket-key'], 'base64').length, 16);
  });

  it('a URL without a path asks for /, and a parsed URL object is accepted', async function () {
    const srv = await peerServer('ours');
    await clientConnect(['ws://127.0.0.1:' + srv.port]);
    await clientConnect([url.parse('ws://127.0.0.1:' + srv.port + '/parsed?a=b')]);
    deq(srv.upgrades.map((r) => r.url), ['/', '/parsed?a=b']);
  });

  it('throws for a protocol with an invalid character', function () {
    const c = new WebSocketClient();
    for (const p of ['a b', 'a,b', 'a/b', 'a;b', 'é', '(x)']) {
      assert.throws(() => c.connect('ws://127.0.0.1:1/', [p]), /^Error: Protocol list contains invalid character "/, p);
    }
  });

  it('throws for an invalid URL, a missing protocol, a missing host, or an unsupported scheme', function () {
    const c = new WebSocketClient();
    let failed = 0;
    c.on('connectFailed', () => failed++);
    assert.throws(() => c.connect('not a url'), /You must specify a full WebSocket URL, including protocol\./);
    assert.throws(() => c.connect('//127.0.0.1:8080/'), /You must specify a full WebSocket URL, including protocol\./);
    assert.throws(() => c.connect('ws:/only/a/path'), /You must specify a full WebSocket URL, including hostname\./);
    for (const u of ['http://127.0.0.1:8080/', 'ftp://127.0.0.1/', 'https://127.0.0.1/']) {
      assert.throws(() => c.connect(u), /Unsupported URL scheme/, u);
    }
    eq(failed, 0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('client: on the wire (a raw TCP server)', function () {
  it('masks every outgoing frame, with a different key each time', async function () {
    const got = [];
    const rs = await rawServer((peer) => {
      got.push(peer);
      upgrade101(peer);
    });
    const conn = await clientConnect([rs.url]);
    const peer = got[0];
    conn.sendUTF('same');
    conn.sendUTF('same');
    conn.sendBytes(Buffer.from('same'));
    conn.ping('ping');
    conn.sendBytes(Buffer.alloc(0));
    conn.close(1000, 'done');
    const frames = [];
    for (let i = 0; i < 6; i++) {
      frames.push(await peer.nextFrame());
    }
    deq(frames.map((f) => [f.opcode, f.fin, f.masked, f.rsv]),
      [[1, true, true, 0], [1, true, true, 0], [2, true, true, 0], [9, true, true, 0], [2, true, true, 0],
        [8, true, true, 0]]);
    deq(frames.slice(0, 4).map((f) => f.payload.toString()), ['same', 'same', 'same', 'ping']);
    eq(frames[4].payload.length, 0);
    eq(frames[5].payload.readUInt16BE(0), 1000);
    eq(frames[5].payload.subarray(2).toString(), 'done');
    const keys = new Set(frames.map((f) => f.key.toString('hex')));
    eq(keys.size, frames.length, 'keys: ' + [...keys]);
  });

  it('sends a fresh 16-byte Sec-WebSocket-Key for each connection', async function () {
    const keys = [];
    const rs = await rawServer((peer) => {
      keys.push(peer.key);
      upgrade101(peer);
    });
    await clientConnect([rs.url]);
    await clientConnect([rs.url]);
    eq(keys.length, 2);
    assert.notStrictEqual(keys[0], keys[1]);
    keys.forEach((k) => eq(Buffer.from(k, 'base64').length, 16));
  });

  it('fragments by fragmentationThreshold (first frame has the opcode, then continuations, FIN on the last)', async function () {
    const got = [];
    const rs = await rawServer((peer) => {
      got.push(peer);
      upgrade101(peer);
    });
    const conn = await clientConnect([rs.url], { fragmentationThreshold: 10 });
    conn.sendUTF('abcdefghijklmnopqrstuvwxy');
    conn.sendBytes(Buffer.alloc(10, 1));
    const frames = [];
    for (let i = 0; i < 4; i++) {
      frames.push(await got[0].nextFrame());
    }
    deq(frames.map((f) => [f.opcode, f.fin, f.payload.length, f.masked]),
      [[1, false, 10, true], [0, false, 10, true], [0, true, 5, true], [2, true, 10, true]]);
    eq(Buffer.concat(frames.slice(0, 3).map((f) => f.payload)).toString(), 'abcdefghijklmnopqrstuvwxy');
  });

  it('fragmentOutgoingMessages: false sends one frame however large', async function () {
    const got = [];
    const rs = await rawServer((peer) => {
      got.push(peer);
      upgrade101(peer);
    });
    const conn = await clientConnect([rs.url], { fragmentOutgoingMessages: false, fragmentationThreshold: 10 });
    conn.sendBytes(bytesOf(100 * KIB));
    const f = await got[0].nextFrame();
    deq([f.opcode, f.fin, f.payload.length], [2, true, 100 * KIB]);
    assert.ok(f.payload.equals(bytesOf(100 * KIB)));
  });

  it('frames sent in the same packet as the 101 are delivered', async function () {
    const rs = await rawServer((peer) => {
      peer.socket.write(Buffer.concat([
        Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Accept: ' + peer.accept + '\r\n\r\n'),
        serverFrame(1, 'early one'), serverFrame(2, Buffer.from([1, 2, 3])),
      ]));
    });
    const client = new WebSocketClient();
    const msgs = new Promise((resolve, reject) => {
      client.on('connectFailed', reject);
      client.on('connect', (c) => {
        defer(() => c.drop());
        collect(c, 'message', 2).then(resolve);
      });
    });
    client.connect(rs.url);
    deq((await msgs).map(([m]) => m), [
      { type: 'utf8', utf8Data: 'early one' }, { type: 'binary', binaryData: Buffer.from([1, 2, 3]) },
    ]);
  });

  it('unmasked frames from the server are read; a masked one is a protocol error (1002)', async function () {
    const got = [];
    const rs = await rawServer((peer) => {
      got.push(peer);
      upgrade101(peer);
    });
    const conn = await clientConnect([rs.url]);
    const msg = next(conn, 'message');
    got[0].send(1, 'plain');
    eq((await msg)[0].utf8Data, 'plain');
    const closeP = closeOf(conn);
    got[0].socket.write(require('./helpers').maskedFrame(1, 'masked'));
    eq((await closeP)[0], 1002);
  });

  it('closeTimeout: a server that never answers the close frame is left after it', async function () {
    const got = [];
    const rs = await rawServer((peer) => {
      got.push(peer);
      upgrade101(peer);
    }, { allowHalfOpen: true }); // the server neither answers nor ends its side
    const conn = await clientConnect([rs.url], { closeTimeout: 200 });
    const closeP = closeOf(conn);
    conn.close(4001, 'x');
    const peer = got[0];
    const f = await peer.nextFrame();
    deq([f.opcode, f.payload.readUInt16BE(0), f.payload.subarray(2).toString()], [8, 4001, 'x']);
    deq(await closeP, [4001, 'x']);
    // The client has let the TCP connection go: the server's writes now fail and its socket closes.
    const serverClosed = next(peer.socket, 'close');
    const writer = setInterval(() => peer.socket.write(serverFrame(1, 'anyone?')), 10);
    defer(() => clearInterval(writer));
    await serverClosed;
  });

  it('accepts Connection as a token list and Upgrade in any case', async function () {
    const rs = await rawServer((peer) => peer.socket.write('HTTP/1.1 101 Switching Protocols\r\n' +
      'Upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: ' + peer.accept + '\r\n\r\n'));
    const conn = await clientConnect([rs.url]);
    eq(conn.connected, true);
  });

  it('invalid UTF-8 in a text message from the server closes with 1007; a frame with RSV1 set with 1002', async function () {
    const got = [];
    const rs = await rawServer((peer) => {
      got.push(peer);
      upgrade101(peer);
    });
    const conn = await clientConnect([rs.url]);
    let messages = 0;
    conn.on('message', () => messages++);
    const closeP = closeOf(conn);
    got[0].socket.write(serverFrame(1, Buffer.from([0x61, 0xFF, 0x62])));
    eq((await closeP)[0], 1007);
    const f = await got[0].nextFrame();
    deq([f.opcode, f.payload.readUInt16BE(0)], [8, 1007]);
    eq(messages, 0);
    const conn2 = await clientConnect([rs.url]);
    const close2 = closeOf(conn2);
    const rsv1 = serverFrame(1, 'compressed?');
    rsv1[0] |= 0x40;
    got[1].socket.write(rsv1);
    eq((await close2)[0], 1002);
  });

  it('a server that closes the TCP connection right after the 101 gives close 1006', async function () {
    const rs = await rawServer((peer) => {
      upgrade101(peer);
      peer.socket.end();
    });
    const client = new WebSocketClient();
    const closeP = new Promise((resolve, reject) => {
      client.on('connectFailed', reject);
      client.on('connect', (c) => closeOf(c).then(resolve));
    });
    client.connect(rs.url);
    eq((await closeP)[0], 1006);
  });
});

// ---------------------------------------------------------------------------------------------

describe('client: failures', function () {
  // A client against a raw server that answers the request with `reply(peer)`; resolves with the
  // connectFailed error, after checking nothing was thrown to the process.
  async function failsWith(reply, protocols) {
    const rs = await rawServer(reply);
    return nothingThrown(() => clientFails([rs.url, protocols]));
  }

  it('a refused port: connectFailed with ECONNREFUSED', async function () {
    const port = await freePort();
    const err = await nothingThrown(() => clientFails(['ws://127.0.0.1:' + port + '/']));
    eq(err.code, 'ECONNREFUSED');
    assert.match(err.message, /ECONNREFUSED/);
  });

  it('abort() before the connection is made: no connect event afterwards', async function () {
    const seen = [];
    const rs = await rawServer((peer) => {
      seen.push(peer);
      upgrade101(peer);
    });
    const client = new WebSocketClient();
    let connected = 0;
    client.on('connect', (c) => connected++ || c.drop());
    client.on('connectFailed', () => {});
    client.connect(rs.url);
    client.abort();
    await sleep(100);
    eq(connected, 0);
    client.abort(); // a second abort, or one with nothing pending, does nothing
  });

  it('abort() before the connection is made: no connectFailed either (as the original)', async function () {
    const rs = await rawServer((peer) => upgrade101(peer));
    const client = new WebSocketClient();
    const events = [];
    client.on('connect', (c) => events.push('connect') && c.drop());
    client.on('connectFailed', (e) => events.push('connectFailed: ' + e.message));
    client.connect(rs.url);
    client.abort();
    await sleep(100);
    deq(events, []);
  });

  it('abort() while the server holds the handshake: connectFailed with socket hang up, as the original', async function () {
    // WebSocket-Node's own "TCP connection drop before server accepts request" test waits for this.
    const seen = {};
    for (const [name, impl] of [['orig', orig], ['ours', ours]]) {
      const client = new impl.client();
      const rs = await rawServer(() => client.abort()); // the request has reached the server
      const events = [];
      client.on('connect', (c) => events.push('connect') && c.drop());
      const failed = once(client, 'connectFailed');
      client.connect(rs.url);
      const [err] = await nothingThrown(() => failed);
      seen[name] = [err.code, err.message, events];
    }
    deq(seen.ours, seen.orig);
    deq(seen.ours, ['ECONNRESET', 'socket hang up', []]);
  });

  it('garbage instead of a 101: connectFailed saying the response could not be parsed', async function () {
    const err = await failsWith((peer) => peer.socket.write('garbage garbage garbage\r\n\r\n'));
    assert.match(err.message, /Parse Error/);
    assert.match(String(err.code), /^HPE_/);
  });

  it('garbage then the server closes: connectFailed, nothing thrown', async function () {
    const err = await failsWith((peer) => peer.socket.end('\x00\x01\x02 not http at all'));
    assert.ok(err instanceof Error && err.message.length > 0);
  });

  it('a server that closes mid-handshake (half a 101 head): connectFailed with socket hang up', async function () {
    const err = await failsWith((peer) => {
      peer.socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n');
      peer.socket.destroy();
    });
    eq(err.code, 'ECONNRESET');
    assert.match(err.message, /socket hang up/);
  });

  it('a server that closes before answering: connectFailed with socket hang up', async function () {
    const err = await failsWith((peer) => peer.socket.destroy());
    eq(err.code, 'ECONNRESET');
  });

  it('a wrong Sec-WebSocket-Accept: connectFailed naming the expected value', async function () {
    let expected = null;
    const err = await failsWith((peer) => {
      expected = peer.accept;
      peer.socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: ' + Buffer.alloc(20).toString('base64') + '\r\n\r\n');
    });
    eq(err.message, "Sec-WebSocket-Accept header from server didn't match expected value of " + expected);
  });

  it('no Sec-WebSocket-Accept: connectFailed', async function () {
    const err = await failsWith((peer) => peer.socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'));
    eq(err.message, 'Expected Sec-WebSocket-Accept header from server');
  });

  it('an Upgrade header other than websocket: connectFailed', async function () {
    const err = await failsWith((peer) => peer.socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: ' + peer.accept + '\r\n\r\n'));
    eq(err.message, 'Expected an Upgrade: websocket header from the server');
  });

  it('a 101 missing the Upgrade or the Connection header: connectFailed, nothing thrown', async function () {
    const noUpgrade = await failsWith((peer) => peer.socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + peer.accept + '\r\n\r\n'));
    const noConnection = await failsWith((peer) => peer.socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ' + peer.accept + '\r\n\r\n'));
    assert.ok(noUpgrade instanceof Error && noUpgrade.message.length > 0);
    assert.ok(noConnection instanceof Error && noConnection.message.length > 0);
  });

  it('a 101 missing the Upgrade or the Connection header: the description names the missing header', async function () {
    const noUpgrade = await failsWith((peer) => peer.socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + peer.accept + '\r\n\r\n'));
    const noConnection = await failsWith((peer) => peer.socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ' + peer.accept + '\r\n\r\n'));
    assert.match(noUpgrade.message, /Upgrade/);
    assert.doesNotMatch(noUpgrade.message, /non-101/);
    assert.match(noConnection.message, /Connection/);
    assert.doesNotMatch(noConnection.message, /non-101/);
  });

  it('a subprotocol that was not requested (none, or another): connectFailed', async function () {
    const unasked = await failsWith((peer) => upgrade101(peer, ['Sec-WebSocket-Protocol: foo']));
    assert.match(unasked.message, /subprotocol \(foo\) that was not requested/);
    const other = await failsWith((peer) => upgrade101(peer, ['Sec-WebSocket-Protocol: foo']), ['bar', 'baz']);
    eq(other.message, 'Server did not respond with a requested protocol.');
  });

  it('a non-101 reply from a raw server: connectFailed with the status and headers', async function () {
    const err = await failsWith((peer) => peer.socket.end(
      'HTTP/1.1 418 I\'m a teapot\r\nX-Why: short and stout\r\nContent-Length: 0\r\n\r\n'));
    assert.match(err.message, /^Server responded with a non-101 status: 418 I'm a teapot\n/);
    assert.match(err.message, /\nx-why: short and stout\n/);
  });

  it('an exception thrown by a connectFailed listener surfaces as an uncaught exception (as in the original)', async function () {
    const port = await freePort();
    await withUncaught(async (caught) => {
      const client = new WebSocketClient();
      client.on('connectFailed', () => {
        throw new Error('listener threw');
      });
      client.connect('ws://127.0.0.1:' + port + '/');
      eq((await caught).message, 'listener threw');
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('client: requestOptions.agent', function () {
  it('an http.Agent given in requestOptions makes the connection', async function () {
    const srv = await peerServer('ours', { echo: true });
    class CountingAgent extends http.Agent {
      createConnection(options, cb) {
        this.made = (this.made || 0) + 1;
        return super.createConnection(options, cb);
      }
    }
    const agent = new CountingAgent({ keepAlive: true });
    defer(() => agent.destroy());
    const conn = await clientConnect([srv.url, null, null, null, { agent }]);
    eq(agent.made, 1);
    conn.sendUTF('through the agent');
    eq((await next(conn, 'message'))[0].utf8Data, 'through the agent');
    const conn2 = await clientConnect([srv.url, null, null, null, { agent }]);
    eq(agent.made, 2, 'an upgraded socket is not reused by the agent');
    conn2.sendUTF('second');
    eq((await next(conn2, 'message'))[0].utf8Data, 'second');
  });

  it('without an agent, the global agent is not used (agent: false, as the original)', async function () {
    const srv = await peerServer('ours');
    const create = http.globalAgent.createConnection;
    let used = 0;
    http.globalAgent.createConnection = function (...args) {
      used++;
      return create.apply(this, args);
    };
    defer(() => { http.globalAgent.createConnection = create; });
    await clientConnect([srv.url]);
    eq(used, 0);
  });
});
