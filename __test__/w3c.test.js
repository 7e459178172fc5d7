'use strict';
// Tests for `w3cwebsocket` (lib/W3CWebSocket.js): the browser's WebSocket API on top of the
// client, against this project's server, a `ws` WebSocketServer and the original `websocket`
// package's server, on 127.0.0.1. Expected behaviour is WebSocket-Node 1.0.35's W3CWebSocket
// (node_modules/websocket/lib/W3CWebSocket.js) except where the README ("Differences") / issue 4
// ask for more:
// `bufferedAmount` reports real bytes, close() refuses a reason a close frame cannot carry, and an
// empty text message is delivered.
const assert = require('assert');
const orig = require('websocket');
const ours = require('..');
const {
  defer, runCleanups, sleep, next, utf8Text, bytesOf, SERVER_KINDS, peerServer, freePort,
  countingAgent,
} = require('./helpers');

const W3CWebSocket = ours.w3cwebsocket;
const eq = assert.strictEqual;
const deq = assert.deepStrictEqual;
const MIB = 1024 * 1024;
const NAMES = { ours: "this project's server", ws: 'a `ws` server', orig: 'the original `websocket` server' };

afterEach(runCleanups);

// A W3CWebSocket (of `Class`, ours by default) closed after the test if still open.
function make(args, Class) {
  const w = new (Class || W3CWebSocket)(...args);
  defer(() => {
    if (w.readyState === w.OPEN) {
      w._connection.drop(1001, 'test over', true);
    }
  });
  return w;
}

// Resolves with the socket once its 'open' event has been dispatched; rejects on 'error'.
function opened(w) {
  return new Promise((resolve, reject) => {
    w.addEventListener('open', () => resolve(w));
    w.addEventListener('error', () => reject(new Error('error event')));
  });
}

const nextEvent = (w, type) => new Promise((resolve) => {
  const f = (e) => {
    w.removeEventListener(type, f);
    resolve(e);
  };
  w.addEventListener(type, f);
});

const toBytes = (ab) => Buffer.from(new Uint8Array(ab));

// ---------------------------------------------------------------------------------------------

describe('w3cwebsocket', function () {
  this.timeout(20000);

  it('has CONNECTING, OPEN, CLOSING and CLOSED on the class and on instances', async function () {
    deq([W3CWebSocket.CONNECTING, W3CWebSocket.OPEN, W3CWebSocket.CLOSING, W3CWebSocket.CLOSED], [0, 1, 2, 3]);
    const srv = await peerServer('ours');
    const w = make([srv.url]);
    deq([w.CONNECTING, w.OPEN, w.CLOSING, w.CLOSED], [0, 1, 2, 3]);
    for (const name of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) {
      eq(W3CWebSocket[name], orig.w3cwebsocket[name], name);
    }
    await opened(w);
  });

  it('url, protocol, extensions, bufferedAmount and binaryType before and after open', async function () {
    const srv = await peerServer('ours');
    const u = srv.url + 'path?x=1';
    const w = make([u, ['chat', 'other']]);
    eq(w.url, u);
    eq(w.readyState, W3CWebSocket.CONNECTING);
    eq(w.protocol, undefined);
    eq(w.extensions, '');
    eq(w.bufferedAmount, 0);
    eq(w.binaryType, 'arraybuffer');
    await opened(w);
    eq(w.readyState, W3CWebSocket.OPEN);
    eq(w.protocol, 'chat');
    eq(w.url, u);
    eq(srv.upgrades[0].url, '/path?x=1');
    // The same as the original's, against the same server.
    const o = make([u, ['chat', 'other']], orig.w3cwebsocket);
    await opened(o);
    deq(w.extensions, o.extensions);
    eq(w.protocol, o.protocol);
    o.close();
  });

  it('protocol stays unset when none was requested (as the original)', async function () {
    const srv = await peerServer('ours');
    const w = make([srv.url]);
    await opened(w);
    const o = make([srv.url], orig.w3cwebsocket);
    await opened(o);
    eq(w.protocol, o.protocol);
    o.close();
  });

  it("binaryType accepts 'arraybuffer' only; other values throw a SyntaxError", async function () {
    const srv = await peerServer('ours');
    const w = make([srv.url]);
    w.binaryType = 'arraybuffer';
    eq(w.binaryType, 'arraybuffer');
    for (const t of ['blob', 'nodebuffer', '', undefined]) {
      assert.throws(() => { w.binaryType = t; }, (e) => e instanceof SyntaxError &&
        e.message === 'just "arraybuffer" type allowed for "binaryType" attribute', String(t));
    }
    eq(w.binaryType, 'arraybuffer');
    await opened(w);
  });

  it('readyState goes CONNECTING, OPEN, CLOSING, CLOSED', async function () {
    const srv = await peerServer('ours');
    const w = make([srv.url]);
    const states = [w.readyState];
    w.onopen = () => states.push(w.readyState);
    const closeP = nextEvent(w, 'close');
    w.onclose = () => states.push(w.readyState);
    await opened(w);
    w.close();
    states.push(w.readyState);
    await closeP;
    deq(states, [0, 1, 2, 3]);
    w.close(); // closing a closed socket does nothing
    eq(w.readyState, 3);
  });

  it('on<type> runs first, then listeners in the order added; duplicates and removed ones do not run', async function () {
    const srv = await peerServer('ours', { echo: true });
    const w = make([srv.url]);
    const calls = [];
    const listener = (name) => (e) => calls.push(name + ':' + e.type);
    const l1 = listener('l1');
    const l2 = listener('l2');
    const l3 = listener('l3');
    for (const type of ['open', 'message', 'close']) {
      w.addEventListener(type, l1);
      w.addEventListener(type, l2);
      w.addEventListener(type, l1); // already there: ignored
      w.addEventListener(type, l3);
      w.removeEventListener(type, l2);
    }
    w.onopen = listener('on');
    w.onmessage = listener('on');
    w.onclose = listener('on');
    w.onerror = listener('on');
    const closeP = nextEvent(w, 'close');
    await nextEvent(w, 'open');
    w.send('hi');
    await nextEvent(w, 'message');
    w.close();
    await closeP;
    deq(calls, ['on:open', 'l1:open', 'l3:open', 'on:message', 'l1:message', 'l3:message', 'on:close',
      'l1:close', 'l3:close']);
  });

  it('dispatchEvent: any type, on<type> then listeners, target set, a missing type throws', async function () {
    const srv = await peerServer('ours');
    const w = make([srv.url]);
    const calls = [];
    w.oncustom = (e) => calls.push(['on', e.target === w, e.detail]);
    w.addEventListener('custom', (e) => calls.push(['first', e.target === w]));
    w.addEventListener('custom', () => calls.push(['second']));
    eq(w.dispatchEvent({ type: 'custom', detail: 42 }), true);
    deq(calls, [['on', true, 42], ['first', true], ['second']]);
    assert.throws(() => w.dispatchEvent({}), /`event` must have a valid `type` property/);
    assert.throws(() => w.dispatchEvent(null), /`event` must have a valid `type` property/);
    await opened(w);
  });

  it("stopImmediatePropagation() in a listener of the socket's own events stops later listeners", async function () {
    const srv = await peerServer('ours', { echo: true });
    const w = make([srv.url]);
    await opened(w);
    const calls = [];
    w.addEventListener('message', (e) => {
      calls.push('first');
      e.stopImmediatePropagation();
    });
    w.addEventListener('message', () => calls.push('second'));
    w.send('x');
    w.send('y');
    await new Promise((resolve) => {
      w.onmessage = (e) => calls.push('on ' + e.data) && e.data === 'y' && resolve();
    });
    await sleep(10);
    deq(calls, ['on x', 'first', 'on y', 'first']);
  });

  it('stopImmediatePropagation() works on events given to dispatchEvent (a plain object, a Node Event)', async function () {
    const srv = await peerServer('ours');
    const w = make([srv.url]);
    for (const event of [{ type: 'custom' }, new Event('custom')]) {
      const calls = [];
      const first = (e) => {
        calls.push('first');
        e.stopImmediatePropagation();
      };
      const second = () => calls.push('second');
      w.addEventListener('custom', first);
      w.addEventListener('custom', second);
      w.dispatchEvent(event);
      w.removeEventListener('custom', first);
      w.removeEventListener('custom', second);
      deq(calls, ['first'], event.constructor.name);
    }
    await opened(w);
  });

  it('passes origin, headers, requestOptions and clientConfig to the client', async function () {
    const srv = await peerServer('ours');
    const agent = countingAgent();
    const config = { maxReceivedFrameSize: 100 };
    const w = make([srv.url + 'cfg', 'p', 'http://w3c.example', { 'X-Custom': 'yes' }, { agent }, config]);
    await opened(w);
    deq(config, { maxReceivedFrameSize: 100 }, 'the caller\'s config object is left alone');
    const h = srv.upgrades[0].headers;
    deq([h.origin, h['x-custom'], h['sec-websocket-protocol'], srv.upgrades[0].url], ['http://w3c.example', 'yes', 'p', '/cfg']);
    eq(agent.used, 1);
    const peer = await srv.nextPeer();
    const closeP = nextEvent(w, 'close');
    peer.sendBinary(bytesOf(101));
    eq((await closeP).code, 1009);
  });

  it('send() before open throws', async function () {
    const srv = await peerServer('ours');
    const w = make([srv.url]);
    assert.throws(() => w.send('too early'), /cannot call send\(\) while not connected/);
    await opened(w);
  });

  // What a W3CWebSocket of `Class` does with close(code): whether it throws (and the error's
  // name), the code the server sees, and the close event's code and wasClean.
  async function closeWith(Class, srv, code) {
    const w = make([srv.url], Class);
    await opened(w);
    const peer = srv.peers[srv.peers.length - 1];
    const closeP = nextEvent(w, 'close');
    try {
      w.close(code, 'r');
    } catch (e) {
      const after = w.readyState;
      w._connection.close();
      await closeP;
      return { threw: e.name, readyState: after };
    }
    const [seen] = await peer.closed;
    const e = await closeP;
    return { seen, code: e.code, wasClean: e.wasClean };
  }

  it('close(code) as the original: the code goes to the connection, which refuses only what may not go on the wire', async function () {
    // web3-style code closes with 1001 on shutdown; the browser rule (1000, 3000-4999) would throw.
    const srv = await peerServer('ours');
    const codes = [1000, 1001, 1002, 1003, 1008, 1011, 3000, 4999, 999, 1004, 1005, 1006, 2000, 2999, 5000];
    for (const code of codes) {
      const theirs = await closeWith(orig.w3cwebsocket, srv, code);
      const mine = await closeWith(W3CWebSocket, srv, code);
      deq(mine, theirs, String(code));
    }
    // Spot checks of what the oracle said, so a change in both cannot pass unnoticed.
    deq(await closeWith(W3CWebSocket, srv, 1001), { seen: 1001, code: 1001, wasClean: false });
    deq(await closeWith(W3CWebSocket, srv, 1005), { threw: 'Error', readyState: W3CWebSocket.CLOSING });
  });

  it('close() refuses a reason over 123 bytes with a SyntaxError (the original would send an oversized close frame)', async function () {
    const srv = await peerServer('ours');
    const w = make([srv.url]);
    await opened(w);
    const long = 'é'.repeat(62); // 124 bytes, 62 characters
    assert.throws(() => w.close(1000, long), (e) => e.name === 'SyntaxError');
    assert.throws(() => w.close(4000, 'x'.repeat(124)), (e) => e.name === 'SyntaxError');
    eq(w.readyState, W3CWebSocket.OPEN, 'still open after the throws');
    const peer = srv.peers[0];
    w.close(4000, 'é'.repeat(61) + 'x'); // 123 bytes
    deq(await peer.closed, [4000, 'é'.repeat(61) + 'x']);
  });

  it('wasClean as the original: true only when the server closes with 1000 (not 1001, 1005, 1011 or 3000-4999)', async function () {
    // web3-providers-ws reconnects after a close that is not clean, 1001 "going away" included.
    const results = {};
    for (const [name, Class] of [['orig', orig.w3cwebsocket], ['ours', W3CWebSocket]]) {
      results[name] = [];
      for (const code of [1000, 1001, undefined, 1011, 3000, 4000]) {
        const srv = await peerServer('ws'); // `ws` can close with no code (1005)
        const w = make([srv.url], Class);
        await opened(w);
        const peer = await srv.nextPeer();
        const closeP = nextEvent(w, 'close');
        peer.close(code, code ? 'bye' : undefined);
        const e = await closeP;
        // With no code, the original's event says 1006 and ours 1005 (RFC 6455 §7.1.5; README,
        // "Differences"): only wasClean is compared there.
        results[name].push(code ? [e.code, e.wasClean] : [e.wasClean]);
      }
    }
    deq(results.ours, results.orig);
    deq(results.ours.map((r) => r[r.length - 1]), [true, false, false, false, false, false]);
  });

  it('close() converts a numeric string code as WebIDL does', async function () {
    const srv = await peerServer('ours');
    const w = make([srv.url]);
    await opened(w);
    const peer = srv.peers[0];
    w.close('4000', 'string code');
    deq(await peer.closed, [4000, 'string code']);
  });

  it('close() without arguments closes with 1000', async function () {
    const srv = await peerServer('ours');
    const w = make([srv.url]);
    await opened(w);
    const peer = srv.peers[0];
    const closeP = nextEvent(w, 'close');
    w.close();
    eq((await peer.closed)[0], 1000);
    const e = await closeP;
    deq([e.type, e.code, e.wasClean], ['close', 1000, true]);
  });

  it('a refused connection: error, then close with 1006 and wasClean false; readyState CLOSED', async function () {
    const port = await freePort();
    const w = make(['ws://127.0.0.1:' + port + '/']);
    const events = [];
    w.onerror = (e) => events.push([e.type, w.readyState]);
    const closeP = nextEvent(w, 'close');
    w.onclose = (e) => events.push([e.type, e.code, e.wasClean, w.readyState]);
    w.onopen = () => events.push(['open']);
    await closeP;
    deq(events, [['error', 3], ['close', 1006, false, 3]]);
  });

  it('a non-101 reply: error then close 1006', async function () {
    const srv = await peerServer('ours', { reject: { status: 403, reason: 'no' } });
    const w = make([srv.url]);
    const events = [];
    w.addEventListener('error', (e) => events.push(e.type));
    const closeP = nextEvent(w, 'close');
    w.addEventListener('close', (e) => events.push(e.type + ' ' + e.code));
    await closeP;
    deq(events, ['error', 'close 1006']);
  });

  it('close() while connecting: error and close 1006 at once; a late handshake is closed', async function () {
    const srv = await peerServer('ours');
    const w = make([srv.url]);
    const events = [];
    w.onopen = () => events.push('open');
    w.onerror = () => events.push('error');
    w.onclose = (e) => events.push('close ' + e.code);
    w.close();
    deq(events, ['error', 'close 1006']);
    eq(w.readyState, W3CWebSocket.CLOSED);
    const peer = await srv.nextPeer();
    eq((await peer.closed)[0], 1000);
    deq(events, ['error', 'close 1006']);
  });

  // The original's bufferedAmount is hard-coded to 0; ours counts the bytes not yet written.
  for (const kind of ['ws', 'ours']) {
    it('bufferedAmount counts bytes queued and not yet written, back to 0 when all is read (' + kind +
      ' server; the original always says 0)', async function () {
      this.timeout(30000);
      const srv = await peerServer(kind);
      const w = make([srv.url]);
      await opened(w);
      const peer = await srv.nextPeer();
      peer.pauseReading();
      const big = bytesOf(8 * MIB);
      w.send(big);
      const afterSend = w.bufferedAmount;
      assert.ok(afterSend > 0, 'right after send: ' + afterSend);
      await sleep(200);
      const stalled = w.bufferedAmount;
      assert.ok(stalled > 0, 'the server does not read, bytes wait: ' + stalled);
      assert.ok(stalled <= afterSend, stalled + ' <= ' + afterSend);
      const received = next(peer.events, 'message');
      peer.resumeReading();
      const [data] = await received;
      assert.ok(data.equals(big));
      for (let i = 0; i < 100 && w.bufferedAmount !== 0; i++) {
        await sleep(20);
      }
      eq(w.bufferedAmount, 0);
      // The original, for comparison: 0 whatever is queued.
      const o = make([srv.url], orig.w3cwebsocket);
      await opened(o);
      o.send(big);
      eq(o.bufferedAmount, 0);
      o.close();
    });
  }
});

// ---------------------------------------------------------------------------------------------

for (const kind of SERVER_KINDS) {
  describe('w3cwebsocket against ' + NAMES[kind], function () {
    this.timeout(20000);

    it('send() of a string, ArrayBuffer, Uint8Array view with an offset, DataView and Buffer: the server gets exactly the bytes', async function () {
      const srv = await peerServer(kind);
      const w = make([srv.url]);
      await opened(w);
      const peer = await srv.nextPeer();
      const base = bytesOf(64);
      const ab = new Uint8Array(base).buffer; // a copy, 64 bytes
      const text = utf8Text(300);
      w.send(text);
      w.send(ab);
      w.send(new Uint8Array(ab, 5, 10));
      w.send(new DataView(ab, 20, 7));
      w.send(new Uint16Array(ab, 32, 4));
      w.send(Buffer.from('a node buffer'));
      w.send(new ArrayBuffer(0));
      w.send('');
      for (let i = 0; i < 8 && peer.received.length < 8; i++) {
        await next(peer.events, 'message');
      }
      const got = peer.received;
      eq(got[0], text);
      deq(got.slice(1, 7).map((b) => Buffer.isBuffer(b) && b.toString('hex')), [
        base.toString('hex'), base.subarray(5, 15).toString('hex'), base.subarray(20, 27).toString('hex'),
        base.subarray(32, 40).toString('hex'), Buffer.from('a node buffer').toString('hex'), '',
      ]);
      eq(got[7], '');
    });

    it('binary messages arrive as ArrayBuffers with the right bytes; text as strings', async function () {
      const srv = await peerServer(kind);
      const w = make([srv.url]);
      await opened(w);
      const peer = await srv.nextPeer();
      const msgs = [];
      const all = new Promise((resolve) => {
        w.onmessage = (e) => msgs.push(e) === 5 && resolve();
      });
      peer.sendBinary(Buffer.from([1, 2, 3]));
      peer.sendBinary(bytesOf(70000).subarray(3, 65539)); // a view into a larger buffer
      peer.sendBinary(Buffer.alloc(0));
      peer.sendText('héllo 😀');
      peer.sendFragments([Buffer.from([9]), Buffer.from([8, 7])], true);
      await all;
      eq(msgs.length, 5);
      msgs.forEach((e) => eq(e.type, 'message'));
      for (const i of [0, 1, 2, 4]) {
        assert.ok(msgs[i].data instanceof ArrayBuffer, 'message ' + i + ' is an ArrayBuffer');
      }
      assert.ok(toBytes(msgs[0].data).equals(Buffer.from([1, 2, 3])));
      assert.ok(toBytes(msgs[1].data).equals(bytesOf(70000).subarray(3, 65539)));
      eq(msgs[1].data.byteLength, 65536);
      eq(msgs[2].data.byteLength, 0);
      eq(msgs[3].data, 'héllo 😀');
      assert.ok(toBytes(msgs[4].data).equals(Buffer.from([9, 8, 7])));
    });

    it('an empty text message arrives as "" (the original drops it)', async function () {
      const srv = await peerServer(kind);
      const w = make([srv.url]);
      await opened(w);
      const peer = await srv.nextPeer();
      const got = [];
      const done = new Promise((resolve) => {
        w.onmessage = (e) => got.push(e.data) === 3 && resolve();
      });
      peer.sendText('before');
      peer.sendText('');
      peer.sendText('after');
      await done;
      deq(got, ['before', '', 'after']);
    });

    it('events come in order: open, message..., close (code, reason, wasClean)', async function () {
      const srv = await peerServer(kind);
      const w = make([srv.url]);
      const events = [];
      w.onopen = (e) => events.push([e.type]);
      w.onmessage = (e) => events.push([e.type, typeof e.data === 'string' ? e.data : toBytes(e.data).toString()]);
      w.onerror = (e) => events.push([e.type]);
      const closeP = nextEvent(w, 'close');
      w.onclose = (e) => events.push([e.type, e.code, e.reason, e.wasClean]);
      const peer = await srv.nextPeer();
      peer.sendText('one');
      peer.sendBinary(Buffer.from('two'));
      peer.sendText('three');
      peer.close(4002, 'y');
      await closeP;
      // wasClean false: the original calls only 1000 clean
      deq(events, [['open'], ['message', 'one'], ['message', 'two'], ['message', 'three'],
        ['close', 4002, 'y', false]]);
      eq(w.readyState, W3CWebSocket.CLOSED);
    });

    it("close(4000, 'bye') from the client: the server sees it; wasClean false as in the original", async function () {
      const srv = await peerServer(kind);
      const w = make([srv.url]);
      await opened(w);
      const peer = await srv.nextPeer();
      const closeP = nextEvent(w, 'close');
      w.send('last words');
      w.close(4000, 'bye');
      assert.throws(() => w.send('after close'), /cannot call send\(\) while not connected/);
      deq(await peer.closed, [4000, 'bye']);
      deq(peer.received, ['last words']);
      const e = await closeP;
      deq([e.code, e.reason, e.wasClean], [4000, 'bye', false]);
    });

    it('a server that drops the TCP connection gives close 1006, wasClean false', async function () {
      const srv = await peerServer(kind);
      const w = make([srv.url]);
      await opened(w);
      const peer = await srv.nextPeer();
      const closeP = nextEvent(w, 'close');
      if (kind === 'ws') {
        peer.raw.terminate();
      } else {
        peer.raw.drop(1006, 'gone', true);
      }
      const e = await closeP;
      deq([e.code, e.wasClean], [1006, false]);
    });

    it('carries protocols and large messages (1 MiB) both ways', async function () {
      const srv = await peerServer(kind, { echo: true });
      const w = make([srv.url, ['one', 'two']]);
      await opened(w);
      eq(w.protocol, 'one');
      const big = bytesOf(MIB);
      const text = utf8Text(MIB);
      const got = [];
      const done = new Promise((resolve) => {
        w.onmessage = (e) => got.push(e.data) === 2 && resolve();
      });
      w.send(big);
      w.send(text);
      await done;
      assert.ok(toBytes(got[0]).equals(big));
      assert.ok(got[1] === text);
    });
  });
}
