'use strict';
// Topics across processes through a real Redis (Debian's redis-server, started per suite on a
// free port; see redis.js): Node cluster workers each with their own subscribers, Redis stopped
// and started again mid-run, a Redis that is not there at start, a Unix socket, bad configs.
const assert = require('assert');
const childProcess = require('child_process');
const http = require('http');
const path = require('path');
const { once } = require('events');
const WebSocket = require('ws');
const ours = require('..');
const { defer, runCleanups, sleep, childLines } = require('./helpers');
const { RedisServer, requireRedis } = require('../scripts/redis');

const eq = assert.strictEqual;
const deq = assert.deepStrictEqual;

afterEach(runCleanups);

// Polls `cond` every 20 ms for up to `ms`; fails with `what` if it never holds.
async function until(cond, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(20);
  }
  throw new Error('timed out waiting for ' + what);
}

// A `ws` client that records what it receives.
function client(url) {
  const ws = new WebSocket(url);
  defer(() => ws.terminate());
  ws.got = [];
  ws.on('message', (d) => ws.got.push(String(d)));
  ws.on('error', () => {});
  return once(ws, 'open').then(() => ws);
}

// A websocket-rs server in this process, with `pubsub` config; its connections to
// /?topics=a,b subscribe to those topics.
async function pubsubServer(pubsub) {
  const h = http.createServer();
  await new Promise((resolve) => h.listen(0, '127.0.0.1', resolve));
  const wss = new ours.server({ httpServer: h, keepalive: false, pubsub });
  wss.errors = [];
  wss.on('pubsubError', (e) => wss.errors.push(e.message));
  defer(() => {
    wss.shutDown();
    return new Promise((resolve) => h.close(resolve));
  });
  wss.on('request', (r) => {
    const c = r.accept(null, r.origin);
    (r.resourceURL.query.topics || '').split(',').filter(Boolean).forEach((t) => c.subscribe(t));
  });
  wss.url = 'ws://127.0.0.1:' + h.address().port + '/';
  return wss;
}

describe('pubsub through Redis', function () {
  this.timeout(60000);
  let redis;

  before(async function () {
    requireRedis(this);
    redis = new RedisServer();
    await redis.start();
  });

  after(async function () {
    if (redis) await redis.destroy();
  });

  it('three cluster workers, 50 subscribers each on two topics: every publish reaches all 150 once, in per-publisher order', async function () {
    const child = childProcess.spawn(process.execPath,
      [path.join(__dirname, 'fixtures', 'pubsub-cluster.js'), redis.url, '3'],
      { stdio: ['pipe', 'pipe', 'inherit'] });
    defer(() => child.kill('SIGKILL'));
    const { lines } = childLines(child);
    await until(() => lines.filter((l) => l.startsWith('PORT ')).length === 3 &&
      lines.filter((l) => l.startsWith('READY ')).length === 3, 15000, 'three workers listening and connected to Redis');
    const ports = lines.filter((l) => l.startsWith('PORT ')).map((l) => l.split(' ').map(Number))
      .sort((a, b) => a[1] - b[1]).map((p) => p[2]);
    const subs = [];
    for (const port of ports) {
      for (let i = 0; i < 50; i++) {
        subs.push(await client('ws://127.0.0.1:' + port + '/?topics=alpha,beta'));
      }
    }
    // Every worker has subscribed its channel in Redis (the real Redis says so).
    await until(async () => (await redis.numsub('test:alpha')) === 3 && (await redis.numsub('test:beta')) === 3,
      10000, 'three Redis subscribers per channel');
    const PER = 100;
    for (let w = 0; w < 3; w++) {
      child.stdin.write(`publish ${w} alpha ${PER}\npublish ${w} beta ${PER}\n`);
    }
    const total = 3 * 2 * PER;
    await until(() => subs.every((s) => s.got.length >= total), 30000, 'every subscriber to get ' + total);
    await sleep(300); // anything extra would arrive now
    for (const s of subs) {
      eq(s.got.length, total, 'exactly once');
      const seen = {};
      for (const m of s.got) {
        const [w, topic, n] = m.split(':');
        const key = w + ':' + topic;
        eq(Number(n), seen[key] === undefined ? 0 : seen[key] + 1, 'in order from ' + key);
        seen[key] = Number(n);
      }
      deq(Object.keys(seen).sort(), ['0:alpha', '0:beta', '1:alpha', '1:beta', '2:alpha', '2:beta']);
    }
    eq(lines.filter((l) => l.startsWith('PUBSUBERROR')).length, 0, lines.join('\n'));
  });

  it('Redis stopped and started again: publishes meanwhile are lost, local delivery goes on, cross-process delivery resumes by itself', async function () {
    const r2 = new RedisServer();
    await r2.start();
    defer(() => r2.destroy());
    const a = await pubsubServer({ redis: r2.url });
    const b = await pubsubServer({ redis: r2.url });
    await Promise.all([once(a, 'pubsubReady'), once(b, 'pubsubReady')]);
    const ca = await client(a.url + '?topics=news');
    const cb = await client(b.url + '?topics=news');
    await until(async () => (await r2.numsub('websocket-rs:news')) === 2, 5000, 'both subscribed');
    a.publish('news', 'before');
    await until(() => cb.got.length === 1, 5000, 'cross-process delivery');

    await r2.stop();
    await until(() => a.errors.length > 0 && b.errors.length > 0, 10000, 'pubsubError on both');
    await until(() => !a.pubsubStats().connected, 5000, 'stats: disconnected');
    eq(a.publish('news', 'during'), 1, 'local delivery goes on');
    await until(() => ca.got.includes('during'), 5000, 'the local subscriber gets it');
    assert.ok(a.pubsubStats().publishDropped >= 1, 'the dropped publish is counted');

    await r2.start();
    await Promise.all([once(a, 'pubsubReady'), once(b, 'pubsubReady')]);
    await until(async () => (await r2.numsub('websocket-rs:news')) === 2, 5000, 'both subscribed again');
    a.publish('news', 'after');
    await until(() => cb.got.includes('after'), 5000, 'cross-process delivery after the restart');
    deq(cb.got, ['before', 'after'], 'what was published during the outage is lost');
    deq(ca.got, ['before', 'during', 'after']);
    assert.ok(a.pubsubStats().reconnects >= 1);
  });

  it('a Redis that is not there at start: the server works locally, reports the problem, and connects when Redis comes', async function () {
    const r3 = new RedisServer();
    r3.port = await new Promise((resolve) => {
      const s = require('net').createServer().listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    defer(() => r3.destroy());
    const a = await pubsubServer({ redis: r3.url }); // nothing listens there yet
    await until(() => a.errors.length > 0, 10000, 'a pubsubError');
    assert.match(a.errors[0], /Redis: cannot connect/);
    const ca = await client(a.url + '?topics=t');
    eq(a.publish('t', 'local'), 1);
    await until(() => ca.got.length === 1, 5000, 'local delivery');
    eq(a.pubsubStats().connected, false);
    await r3.start();
    await once(a, 'pubsubReady');
    eq(a.pubsubStats().connected, true);
  });

  it('a server without a pubsubError listener is not affected when Redis is absent', async function () {
    const h = http.createServer();
    await new Promise((resolve) => h.listen(0, '127.0.0.1', resolve));
    const wss = new ours.server({ httpServer: h, pubsub: { redis: 'redis://127.0.0.1:1' } });
    defer(() => {
      wss.shutDown();
      return new Promise((resolve) => h.close(resolve));
    });
    await sleep(300); // the failed connection attempt has been reported by now
    eq(wss.pubsubStats().connected, false);
  });

  it('redis+unix:// through a Unix socket', async function () {
    const ru = new RedisServer({ unix: true });
    await ru.start();
    defer(() => ru.destroy());
    const a = await pubsubServer({ redis: ru.url, prefix: 'u:' });
    const b = await pubsubServer({ redis: ru.url, prefix: 'u:' });
    await Promise.all([once(a, 'pubsubReady'), once(b, 'pubsubReady')]);
    const cb = await client(b.url + '?topics=x');
    await until(async () => (await ru.numsub('u:x')) === 1, 5000, 'subscribed');
    a.publish('x', Buffer.from('over a socket'));
    await until(() => cb.got.length === 1, 5000, 'delivery');
    deq(cb.got, ['over a socket']);
  });

  it('rediss:// with the CA given in pubsub.tls', async function () {
    const { requireCerts } = require('./certs');
    const certs = requireCerts();
    const rt = new RedisServer({ tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca } });
    try {
      await rt.start();
    } catch (e) {
      if (/tls|TLS/.test(e.message) && process.env.WEBSOCKET_RS_REQUIRE_REDIS !== '1') this.skip(); // a redis-server built without TLS
      throw e;
    }
    defer(() => rt.destroy());
    const tls = { ca: certs.ca };
    const a = await pubsubServer({ redis: rt.url.replace('127.0.0.1', 'localhost'), prefix: 's:', tls });
    const b = await pubsubServer({ redis: rt.url.replace('127.0.0.1', 'localhost'), prefix: 's:', tls });
    await Promise.all([once(a, 'pubsubReady'), once(b, 'pubsubReady')]);
    const cb = await client(b.url + '?topics=secret');
    await until(async () => (await rt.numsub('s:secret')) === 1, 5000, 'subscribed over TLS');
    a.publish('secret', 'over TLS');
    await until(() => cb.got.length === 1, 5000, 'delivery');
    deq(cb.got, ['over TLS']);
  });

  it('rediss:// refuses a server whose certificate it cannot verify (reported, not thrown)', async function () {
    const { requireCerts } = require('./certs');
    const certs = requireCerts();
    const rt = new RedisServer({ tls: { cert: certs.selfSignedCert, key: certs.selfSignedKey, ca: certs.ca } });
    await rt.start();
    defer(() => rt.destroy());
    const a = await pubsubServer({ redis: rt.url.replace('127.0.0.1', 'localhost'), tls: { ca: certs.ca } });
    await until(() => a.errors.length > 0, 10000, 'a pubsubError');
    assert.match(a.errors[0], /cannot connect/);
    eq(a.pubsubStats().connected, false);
  });

  it('only topics with local subscribers are subscribed in Redis; the last to leave unsubscribes', async function () {
    const a = await pubsubServer({ redis: redis.url, prefix: 'sub:' });
    await once(a, 'pubsubReady');
    const c1 = await client(a.url + '?topics=t');
    const c2 = await client(a.url + '?topics=t');
    await until(async () => (await redis.numsub('sub:t')) === 1, 5000, 'one Redis subscription for two subscribers');
    c1.close();
    await sleep(100);
    eq(await redis.numsub('sub:t'), 1, 'still one subscriber left');
    c2.close();
    await until(async () => (await redis.numsub('sub:t')) === 0, 5000, 'unsubscribed after the last one left');
  });

  it('the cluster-chat example: pages connected to different workers see each other', async function () {
    const child = childProcess.spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'cluster-chat', 'server.js')], {
      env: Object.assign({}, process.env, { WORKERS: '2', PORT: '0', HOST: '127.0.0.1', REDIS_URL: redis.url }),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    defer(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await until(() => (out.match(/connected to/g) || []).length === 2 && /localhost:(\d+)/.test(out), 15000, 'two workers: ' + out);
    const port = /localhost:(\d+)/.exec(out)[1];
    // Connections are spread over the workers; open pages until two sit on different workers
    // (a page's welcome message names its user id, counted per worker from 1).
    const pages = [];
    for (let i = 0; i < 8; i++) {
      const ws = new WebSocket('ws://127.0.0.1:' + port + '/', 'chat-demo');
      defer(() => ws.terminate());
      ws.msgs = [];
      ws.on('message', (d) => ws.msgs.push(JSON.parse(String(d))));
      await once(ws, 'open');
      await until(() => ws.msgs.length > 0, 5000, 'welcome');
      pages.push(ws);
    }
    // Each worker numbers its users from 1: a repeated id means the pages sit on both workers.
    const welcomeIds = pages.map((p) => p.msgs.find((m) => m.type === 'welcome').id);
    assert.ok(new Set(welcomeIds).size < welcomeIds.length, 'pages on more than one worker: ' + welcomeIds);
    pages.forEach((p, i) => p.send(JSON.stringify({ type: 'hello', nick: 'p' + i })));
    await sleep(300);
    pages.forEach((p) => p.msgs.splice(0));
    pages[0].send(JSON.stringify({ type: 'chat', text: 'across workers' }));
    await until(() => pages.every((p) => p.msgs.some((m) => m.type === 'chat' && m.text === 'across workers')),
      5000, 'every page, on either worker, to get the chat message');
    const ids = pages.map((p) => p.msgs.find((m) => m.type === 'chat').from);
    eq(new Set(ids).size, 1, 'one sender');
  });

  it('subscribe and unsubscribe under traffic across processes: in order, never twice, and subscribed again at the end', async function () {
    const a = await pubsubServer({ redis: redis.url, prefix: 'flap:' });
    const b = await pubsubServer({ redis: redis.url, prefix: 'flap:' });
    await Promise.all([once(a, 'pubsubReady'), once(b, 'pubsubReady')]);
    const cb = await client(b.url);
    const conn = b.connections[0];
    let n = 0;
    const timer = setInterval(() => {
      for (let k = 0; k < 10; k++) a.publish('t', String(n++));
    }, 1);
    // b's only subscriber comes and goes: b's Redis subscription with it
    for (let round = 0; round < 30; round++) {
      if (round % 2 === 0) conn.subscribe('t');
      else conn.unsubscribe('t');
      await sleep(10);
    }
    conn.subscribe('t');
    await until(async () => (await redis.numsub('flap:t')) === 1, 5000, 'subscribed in Redis at the end');
    const before = cb.got.length;
    await until(() => cb.got.length > before + 20, 5000, 'messages after the last subscribe');
    clearInterval(timer);
    await sleep(200);
    const nums = cb.got.map(Number);
    for (let i = 1; i < nums.length; i++) {
      assert.ok(nums[i] > nums[i - 1], `in order and never twice: ${nums[i - 1]} then ${nums[i]}`);
    }
  });

  it('bad pubsub configs throw when the server is made', function () {
    const h = http.createServer();
    assert.throws(() => new ours.server({ httpServer: h, pubsub: 'redis://x' }), TypeError);
    assert.throws(() => new ours.server({ httpServer: h, pubsub: { redis: 5 } }), TypeError);
    assert.throws(() => new ours.server({ httpServer: h, pubsub: { redis: 'redis://x', prefix: 1 } }), TypeError);
    assert.throws(() => new ours.server({ httpServer: h, pubsub: { redis: 'http://x' } }), /redis:\/\/, rediss:\/\/ or redis\+unix/);
    assert.throws(() => new ours.server({ httpServer: h, pubsub: { redis: 'redis://x', tls: { ca: 'x' } } }), /needs a rediss/);
    assert.throws(() => new ours.server({ httpServer: h, pubsub: { redis: 'rediss://x', tls: { ca: 5 } } }), TypeError);
    assert.throws(() => new ours.server({ httpServer: h, pubsub: { redis: 'rediss://x', tls: { ca: 'x', cert: 'y' } } }), /go together/);
  });
});
