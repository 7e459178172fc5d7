'use strict';
// Topics (a websocket-rs extension): connection.subscribe / unsubscribe / isSubscribed / topics /
// publish, server.publish and server.subscriberCount, checked with `ws` clients on 127.0.0.1
// (what each subscriber receives, exactly), in both transports (npm test runs this file twice).
const assert = require('assert');
const { once } = require('events');
const path = require('path');
const childProcess = require('child_process');
const net = require('net');
const crypto = require('crypto');
const ours = require('..');
const { defer, runCleanups, sleep, listen, wsConnect, childLines } = require('./helpers');

const eq = assert.strictEqual;
const deq = assert.deepStrictEqual;

afterEach(runCleanups);

// A server whose connections obey their client: "sub <topic>", "unsub <topic>",
// "pub <topic> <text>" (connection.publish). Resolves with { wss, url, conns, next() }.
async function topicServer() {
  const h = await listen();
  const wss = new ours.server({ httpServer: h });
  defer(() => wss.shutDown());
  const srv = { wss, url: 'ws://127.0.0.1:' + h.address().port + '/', conns: [] };
  const waiting = [];
  wss.on('request', (r) => {
    const c = r.accept(null, r.origin);
    srv.conns.push(c);
    c.on('message', (m) => {
      const [cmd, topic, ...rest] = m.utf8Data.split(' ');
      if (cmd === 'sub') c.subscribe(topic);
      else if (cmd === 'unsub') c.unsubscribe(topic);
      else if (cmd === 'pub') c.publish(topic, rest.join(' '));
      c.sendUTF('ok ' + m.utf8Data);
    });
    const w = waiting.shift();
    if (w) w(c);
  });
  // A `ws` client recording what it receives ('bin:<hex>' for binary), with its server side.
  srv.client = async () => {
    const serverSide = new Promise((resolve) => waiting.push(resolve));
    const ws = await wsConnect(srv.url);
    ws.got = [];
    ws.on('message', (data, binary) => {
      const s = binary ? 'bin:' + data.toString('hex') : data.toString();
      if (!s.startsWith('ok ')) ws.got.push(s);
      else ws.emit('ok', s.slice(3));
    });
    ws.conn = await serverSide;
    // Sends a command and waits until the server has run it.
    ws.cmd = async (line) => {
      const done = new Promise((resolve) => {
        const f = (s) => s === line && (ws.off('ok', f), resolve());
        ws.on('ok', f);
      });
      ws.send(line);
      await done;
    };
    return ws;
  };
  return srv;
}

// Resolves once `ws` has received `n` messages (or fails after 5 s with what it has).
async function received(ws, n) {
  for (let i = 0; i < 500 && ws.got.length < n; i++) {
    await sleep(10);
  }
  return ws.got;
}

describe('topics', function () {
  this.timeout(20000);

  it('server.publish reaches every subscriber once: a string as text, a Buffer as binary', async function () {
    const srv = await topicServer();
    const [a, b, c] = [await srv.client(), await srv.client(), await srv.client()];
    eq(a.conn.subscribe('news'), true);
    eq(b.conn.subscribe('news'), true);
    eq(c.conn.subscribe('sport'), true);
    eq(srv.wss.publish('news', 'hello'), 2);
    eq(srv.wss.publish('news', Buffer.from([0, 1, 255])), 2);
    eq(srv.wss.publish('sport', new Uint8Array([7])), 1);
    eq(srv.wss.publish('nobody', 'x'), 0);
    deq(await received(a, 2), ['hello', 'bin:0001ff']);
    deq(await received(b, 2), ['hello', 'bin:0001ff']);
    deq(await received(c, 1), ['bin:07']);
    await sleep(50);
    deq([a.got.length, b.got.length, c.got.length], [2, 2, 1], 'nothing more');
  });

  it('connection.publish reaches the other subscribers, not the publisher', async function () {
    const srv = await topicServer();
    const [a, b, c] = [await srv.client(), await srv.client(), await srv.client()];
    for (const ws of [a, b, c]) await ws.cmd('sub room');
    await a.cmd('pub room hi from a');
    deq(await received(b, 1), ['hi from a']);
    deq(await received(c, 1), ['hi from a']);
    eq(a.conn.publish('room', Buffer.from('x')), 2);
    deq(await received(b, 2), ['hi from a', 'bin:78']);
    await sleep(50);
    deq(a.got, []);
  });

  it('subscribe, unsubscribe, isSubscribed, topics and subscriberCount agree', async function () {
    const srv = await topicServer();
    const a = await srv.client();
    const b = await srv.client();
    eq(srv.wss.subscriberCount('t1'), 0);
    eq(a.conn.isSubscribed('t1'), false);
    deq(a.conn.topics, []);
    eq(a.conn.subscribe('t1'), true);
    eq(a.conn.subscribe('t1'), false, 'already subscribed');
    eq(a.conn.subscribe('t2'), true);
    eq(b.conn.subscribe('t1'), true);
    deq(a.conn.topics, ['t1', 't2']);
    eq(a.conn.isSubscribed('t2'), true);
    eq(srv.wss.subscriberCount('t1'), 2);
    eq(a.conn.unsubscribe('t1'), true);
    eq(a.conn.unsubscribe('t1'), false, 'not subscribed any more');
    eq(srv.wss.subscriberCount('t1'), 1);
    deq(a.conn.topics, ['t2']);
    eq(srv.wss.publish('t1', 'only b'), 1);
    deq(await received(b, 1), ['only b']);
    await sleep(50);
    deq(a.got, []);
  });

  it('a closed connection leaves its topics', async function () {
    const srv = await topicServer();
    const a = await srv.client();
    const b = await srv.client();
    a.conn.subscribe('t');
    b.conn.subscribe('t');
    const closed = once(a.conn, 'close');
    a.close(1000);
    await closed;
    deq(a.conn.topics, []);
    eq(a.conn.isSubscribed('t'), false);
    eq(srv.wss.subscriberCount('t'), 1);
    eq(srv.wss.publish('t', 'after'), 1);
    eq(a.conn.subscribe('t'), false, 'a closed connection cannot subscribe');
    deq(await received(b, 1), ['after']);
  });

  it("each publisher's order is kept per subscriber (2,000 messages, text and binary mixed)", async function () {
    const srv = await topicServer();
    const subs = [];
    for (let i = 0; i < 5; i++) {
      const ws = await srv.client();
      ws.conn.subscribe('seq');
      subs.push(ws);
    }
    const pubA = await srv.client();
    const expected = [];
    for (let i = 0; i < 1000; i++) {
      const t = 'm' + i;
      srv.wss.publish('seq', t);
      expected.push(t);
      const bin = Buffer.from([i & 0xFF, i >> 8]);
      pubA.conn.publish('seq', bin);
      expected.push('bin:' + bin.toString('hex'));
    }
    for (const ws of subs) {
      deq(await received(ws, expected.length), expected);
    }
  });

  it('subscribe and unsubscribe under traffic: each message once, in order, only while subscribed', async function () {
    const srv = await topicServer();
    const steady = await srv.client();
    steady.conn.subscribe('live');
    const flappers = [await srv.client(), await srv.client(), await srv.client()];
    let n = 0;
    const timer = setInterval(() => {
      for (let k = 0; k < 20; k++) srv.wss.publish('live', String(n++));
    }, 1);
    for (let round = 0; round < 20; round++) {
      for (const f of flappers) {
        if (round % 2 === 0) f.conn.subscribe('live');
        else f.conn.unsubscribe('live');
      }
      await sleep(5);
    }
    clearInterval(timer);
    const total = n;
    const got = await received(steady, total);
    deq(got, Array.from({ length: total }, (_, i) => String(i)), 'the steady subscriber got everything in order');
    await sleep(100);
    for (const f of flappers) {
      const nums = f.got.map(Number);
      assert.ok(nums.length > 0, 'a flapping subscriber got some messages');
      for (let i = 1; i < nums.length; i++) {
        assert.ok(nums[i] > nums[i - 1], 'increasing, no duplicates: ' + nums[i - 1] + ' then ' + nums[i]);
      }
    }
  });

  it('a subscriber that does not read gets outputBufferFull, then drain', async function () {
    const srv = await topicServer();
    const slow = await srv.client();
    slow.conn.subscribe('big');
    slow._socket.pause();
    const chunk = Buffer.alloc(256 * 1024, 1);
    let published = 0;
    while (!slow.conn.outputBufferFull && published < 400) {
      srv.wss.publish('big', chunk);
      published++;
      await sleep(1);
    }
    eq(slow.conn.outputBufferFull, true, 'outputBufferFull after ' + published + ' publishes');
    const drained = once(slow.conn, 'drain');
    slow._socket.resume();
    await drained;
    eq(slow.conn.outputBufferFull, false);
    eq((await received(slow, published)).length, published);
  });

  it('argument errors throw a TypeError before anything is sent', async function () {
    const srv = await topicServer();
    const a = await srv.client();
    a.conn.subscribe('t');
    for (const bad of [undefined, null, 5, '', {}, ['t'], 'x'.repeat(1025), 'é'.repeat(513)]) {
      for (const call of [
        () => a.conn.subscribe(bad),
        () => a.conn.unsubscribe(bad),
        () => a.conn.isSubscribed(bad),
        () => a.conn.publish(bad, 'x'),
        () => srv.wss.publish(bad, 'x'),
        () => srv.wss.subscriberCount(bad),
      ]) {
        assert.throws(call, TypeError, String(bad).slice(0, 20));
      }
    }
    for (const data of [undefined, null, 5, {}, [1, 2], new ArrayBuffer(2)]) {
      assert.throws(() => srv.wss.publish('t', data), TypeError);
      assert.throws(() => a.conn.publish('t', data), TypeError);
    }
    eq(a.conn.subscribe('x'.repeat(1024)), true, '1 KiB is allowed');
    eq(a.conn.subscribe('é'.repeat(512)), true, '1 KiB of UTF-8 is allowed');
    await sleep(50);
    deq(a.got, [], 'nothing was sent');
  });

  it('a client connection has no server topics: subscribe() and publish() throw', async function () {
    const srv = await topicServer();
    const client = new ours.client();
    const connected = once(client, 'connect');
    client.connect(srv.url);
    const [conn] = await connected;
    defer(() => conn.drop());
    assert.throws(() => conn.subscribe('t'), /accepted by a WebSocketServer/);
    assert.throws(() => conn.publish('t', 'x'), /accepted by a WebSocketServer/);
  });

  it('a topic with 10,000 subscribers (server in a child process): one publish reaches each once', async function () {
    this.timeout(120000);
    const child = childProcess.spawn(process.execPath, [path.join(__dirname, 'fixtures', 'topics-server.js')], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    defer(() => child.kill('SIGKILL'));
    const { lines, line } = childLines(child);
    const port = Number(await line('PORT '));
    const N = 10000;
    const sockets = [];
    let textFrames = 0;
    let perSocketOk = 0;
    // Raw clients: an upgrade to /sub/crowd, then count the server's frames "crowd!" (8 bytes).
    const expectFrame = Buffer.from([0x81, 6, ...Buffer.from('crowd!')]);
    for (let i = 0; i < N; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.buf = Buffer.alloc(0);
      s.upgraded = false;
      s.frames = 0;
      s.on('data', (d) => {
        s.buf = Buffer.concat([s.buf, d]);
        if (!s.upgraded) {
          const end = s.buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          s.upgraded = true;
          s.buf = s.buf.subarray(end + 4);
        }
        while (s.buf.length >= expectFrame.length && s.buf.subarray(0, expectFrame.length).equals(expectFrame)) {
          s.buf = s.buf.subarray(expectFrame.length);
          s.frames++;
          textFrames++;
          if (s.frames === 1) perSocketOk++;
        }
      });
      s.write('GET /sub/crowd HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: ' + crypto.randomBytes(16).toString('base64') + '\r\nSec-WebSocket-Version: 13\r\n\r\n');
      sockets.push(s);
      if (i % 500 === 499) await sleep(20);
    }
    defer(() => sockets.forEach((s) => s.destroy()));
    child.stdin.write('count crowd\n');
    for (let i = 0; i < 600; i++) {
      const counts = lines.filter((l) => l.startsWith('COUNT '));
      if (counts.length > 0 && Number(counts[counts.length - 1].slice(6)) === N) break;
      await sleep(100);
      child.stdin.write('count crowd\n');
    }
    const counts = lines.filter((l) => l.startsWith('COUNT '));
    eq(Number(counts[counts.length - 1].slice(6)), N, 'subscribers');
    child.stdin.write('publish crowd crowd!\n');
    eq(Number(await line('PUBLISHED ')), N);
    for (let i = 0; i < 600 && textFrames < N; i++) await sleep(50);
    eq(textFrames, N, 'frames received in all');
    eq(perSocketOk, N, 'every subscriber got it');
    await sleep(200);
    eq(textFrames, N, 'exactly once');
    assert.ok(sockets.every((s) => s.buf.length === 0), 'nothing else arrived');
  });
});
