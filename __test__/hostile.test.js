'use strict';
// Hostile peers against the project's server: absurd frame lengths, floods of tiny fragments and
// pings, a reader that stops reading, resets in the middle of things, a handshake dribbled a byte
// at a time. The server must answer with the RFC's close codes, keep its memory bounded, raise
// no exception, and keep serving everyone else.
const assert = require('assert');
const crypto = require('crypto');
const net = require('net');
const { once } = require('events');
const WebSocketServer = require('..').server;
const {
  defer, runCleanups, sleep, listen, wsConnect, rawClient, maskedFrame, withUncaught,
} = require('./helpers');

const MiB = 1024 * 1024;

// A server on 127.0.0.1 echoing every message; `onConnection(conn)` sees each connection.
async function echoServer(config, onConnection) {
  const httpServer = await listen();
  const server = new WebSocketServer(Object.assign({ httpServer, keepalive: false }, config));
  defer(() => server.shutDown());
  const closes = [];
  server.on('request', (request) => {
    const conn = request.accept(null, request.origin);
    conn.on('error', () => {});
    conn.on('close', (code, description) => closes.push({ code, description }));
    conn.on('message', (m) => {
      if (m.type === 'utf8') conn.sendUTF(m.utf8Data);
      else conn.sendBytes(m.binaryData);
    });
    if (onConnection) onConnection(conn);
  });
  return { port: httpServer.address().port, server, closes };
}

// A frame header (masked, no payload bytes) claiming `length` bytes.
function claimHeader(opcode, length) {
  const h = Buffer.alloc(14);
  h[0] = 0x80 | opcode;
  h[1] = 0x80 | 127;
  h.writeBigUInt64BE(length, 2);
  crypto.randomBytes(4).copy(h, 10);
  return h;
}

async function closeCodeOf(client) {
  for (;;) {
    const f = await client.nextFrame();
    if (f.opcode === 8) {
      return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
    }
  }
}

// Echoes still work for a fresh, well-behaved client.
async function assertServing(port) {
  const ws = await wsConnect('ws://127.0.0.1:' + port + '/');
  const reply = new Promise((resolve) => ws.once('message', (d) => resolve(String(d))));
  ws.send('still there?');
  assert.strictEqual(await reply, 'still there?');
  ws.close();
}

const rssMiB = () => process.memoryUsage().rss / MiB;

describe('hostile peers', function () {
  this.timeout(60000);
  afterEach(runCleanups);

  for (const [name, length] of [['2^63-1', (1n << 63n) - 1n], ['10 GiB', 10n * 1024n * 1024n * 1024n]]) {
    it(`a frame header claiming ${name} bytes gets 1009 at once, with no memory jump`, async function () {
      const { port, closes } = await echoServer();
      const before = rssMiB();
      const client = await rawClient(port);
      await client.head;
      client.socket.write(claimHeader(2, length));
      assert.strictEqual(await closeCodeOf(client), 1009);
      assert.ok(rssMiB() - before < 64, `RSS grew by ${(rssMiB() - before).toFixed(1)} MiB`);
      await once(client.socket, 'close');
      assert.strictEqual(closes[0].code, 1009);
      await assertServing(port);
    });
  }

  it('a million one-byte fragments under the message limit: one message, bounded memory', async function () {
    const { port } = await echoServer({ maxReceivedMessageSize: 2 * MiB });
    const client = await rawClient(port);
    await client.head;
    const COUNT = 1000000;
    // one byte per frame: 7 bytes on the wire each (2 header, 4 mask, 1 payload)
    const opening = maskedFrame(2, Buffer.from([1]), false);
    const middle = maskedFrame(0, Buffer.from([1]), false);
    const last = maskedFrame(0, Buffer.from([1]), true);
    const before = rssMiB();
    const batch = Buffer.concat(Array(10000).fill(middle));
    client.socket.write(opening);
    for (let sent = 1; sent < COUNT - 1; sent += 10000) {
      const n = Math.min(10000, COUNT - 1 - sent);
      if (!client.socket.write(n === 10000 ? batch : batch.subarray(0, n * 7))) {
        await once(client.socket, 'drain');
      }
    }
    client.socket.write(last);
    // the echo comes back fragmented at the server's fragmentationThreshold
    const first = await client.nextFrame();
    assert.strictEqual(first.opcode, 2);
    const parts = [first.payload];
    for (let f = first; !f.fin;) {
      f = await client.nextFrame();
      assert.strictEqual(f.opcode, 0);
      parts.push(f.payload);
    }
    const echo = Buffer.concat(parts);
    assert.strictEqual(echo.length, COUNT);
    assert.ok(echo.every((b) => b === 1));
    assert.ok(rssMiB() - before < 200, `RSS grew by ${(rssMiB() - before).toFixed(1)} MiB`);
  });

  it('fragments beyond maxReceivedMessageSize close with 1009 before the message completes', async function () {
    const { port } = await echoServer({ maxReceivedMessageSize: 64 * 1024 });
    const client = await rawClient(port);
    await client.head;
    const chunk = Buffer.alloc(1000, 7);
    client.send(2, chunk, false);
    for (let i = 0; i < 70; i++) client.send(0, chunk, false);
    assert.strictEqual(await closeCodeOf(client), 1009);
  });

  it('100,000 pings are all answered and the server stays up', async function () {
    const { port } = await echoServer();
    const client = await rawClient(port);
    await client.head;
    const COUNT = 100000;
    const ping = maskedFrame(9, Buffer.from('p'));
    const batch = Buffer.concat(Array(1000).fill(ping));
    let pongs = 0;
    const allAnswered = (async () => {
      while (pongs < COUNT) {
        const f = await client.nextFrame();
        assert.strictEqual(f.opcode, 10);
        assert.strictEqual(f.payload.toString(), 'p');
        pongs++;
      }
    })();
    for (let i = 0; i < COUNT / 1000; i++) {
      if (!client.socket.write(batch)) await once(client.socket, 'drain');
    }
    await allAnswered;
    assert.strictEqual(pongs, COUNT);
    await assertServing(port);
  });

  it('a peer that stops reading: outputBufferFull holds the sender back, memory stays bounded, ' +
    'and all 200 MiB arrive once it reads', async function () {
    const TOTAL = 200 * MiB;
    const CHUNK = MiB;
    let sender = null;
    const { port } = await echoServer({}, (conn) => {
      sender = conn;
    });
    // a raw client that reads nothing until told to
    const socket = net.connect(port, '127.0.0.1');
    defer(() => socket.destroy());
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: ' + crypto.randomBytes(16).toString('base64') + '\r\n' +
      'Sec-WebSocket-Version: 13\r\n\r\n');
    await once(socket, 'data'); // the 101
    socket.pause();
    while (sender === null) await sleep(5);
    const conn = sender;

    // the application's side: send while the connection accepts more, else wait for 'drain'
    const payload = Buffer.alloc(CHUNK, 0x5a);
    let queued = 0;
    let sawFull = false;
    let maxBuffered = 0;
    const rss0 = rssMiB();
    const sendAll = (async () => {
      while (queued < TOTAL) {
        const more = conn.sendBytes(payload) !== false && !conn.outputBufferFull;
        queued += CHUNK;
        maxBuffered = Math.max(maxBuffered, conn.bufferedAmount);
        if (!more) {
          sawFull = true;
          await once(conn, 'drain');
        }
      }
    })();
    await sleep(500);
    assert.ok(sawFull, 'outputBufferFull was reported');
    assert.ok(queued < TOTAL / 4, `the sender was held back (${queued / MiB} MiB queued while nobody read)`);
    assert.ok(rssMiB() - rss0 < 150, `RSS grew by ${(rssMiB() - rss0).toFixed(1)} MiB`);

    // now read everything: frames of exactly TOTAL payload bytes must arrive
    let received = 0;
    let headerBytes = 0;
    let pending = Buffer.alloc(0);
    let inFrame = 0; // payload bytes left in the current frame
    const done = new Promise((resolve, reject) => {
      socket.on('data', (d) => {
        let buf = pending.length ? Buffer.concat([pending, d]) : d;
        pending = Buffer.alloc(0);
        while (buf.length > 0) {
          if (inFrame > 0) {
            const n = Math.min(inFrame, buf.length);
            received += n;
            inFrame -= n;
            buf = buf.subarray(n);
            continue;
          }
          if (buf.length < 2) { pending = buf; break; }
          const len7 = buf[1] & 0x7f;
          const off = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
          if (buf.length < off) { pending = buf; break; }
          if ((buf[0] & 0x0f) === 8) { reject(new Error('unexpected close')); return; }
          inFrame = len7 === 126 ? buf.readUInt16BE(2) : len7 === 127 ? Number(buf.readBigUInt64BE(2)) : len7;
          headerBytes += off;
          buf = buf.subarray(off);
        }
        if (received === TOTAL) resolve();
      });
    });
    socket.resume();
    await sendAll;
    await done;
    assert.strictEqual(received, TOTAL);
    assert.ok(headerBytes > 0);
    assert.ok(maxBuffered < 64 * MiB, `bufferedAmount peaked at ${(maxBuffered / MiB).toFixed(1)} MiB`);
  });

  it('a reset in the middle of a frame: close 1006, no exception, still serving', async function () {
    const uncaught = await withUncaught(async (caught) => {
      const { port, closes } = await echoServer();
      const client = await rawClient(port);
      await client.head;
      const frame = maskedFrame(2, Buffer.alloc(50000, 1));
      client.socket.write(frame.subarray(0, 20000));
      await sleep(50);
      client.socket.resetAndDestroy();
      for (let i = 0; i < 100 && closes.length === 0; i++) await sleep(20);
      assert.strictEqual(closes.length, 1);
      assert.strictEqual(closes[0].code, 1006);
      await assertServing(port);
      return Promise.race([caught, sleep(100).then(() => null)]);
    });
    assert.strictEqual(uncaught, null);
  });

  it('a reset in the middle of the handshake: no exception, still serving', async function () {
    const uncaught = await withUncaught(async (caught) => {
      const { port, closes } = await echoServer();
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      await once(socket, 'connect');
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConn');
      await sleep(50);
      socket.resetAndDestroy();
      await sleep(100);
      assert.deepStrictEqual(closes, []);
      await assertServing(port);
      return Promise.race([caught, sleep(100).then(() => null)]);
    });
    assert.strictEqual(uncaught, null);
  });

  it('a handshake dribbled one byte per 100 ms does not hold up other clients', async function () {
    const { port } = await echoServer();
    const slow = net.connect(port, '127.0.0.1');
    defer(() => slow.destroy());
    slow.on('error', () => {});
    await once(slow, 'connect');
    const request = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
    let i = 0;
    const dribble = setInterval(() => {
      if (i < request.length) slow.write(request.subarray(i, ++i));
    }, 100);
    defer(() => clearInterval(dribble));
    // meanwhile, other clients connect and echo, one after another
    for (let k = 0; k < 10; k++) {
      await assertServing(port);
    }
    assert.ok(i < request.length, 'the slow handshake was still in progress');
  });
});
