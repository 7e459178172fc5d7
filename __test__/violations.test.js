'use strict';
// Protocol violations from a hostile or broken peer, sent by a raw TCP client that does the
// HTTP upgrade itself and writes hand-built frames. For each case: the close code the peer sees
// in the server's close frame, the TCP connection closed afterwards, the server-side `close`
// event, no exception escaping to the process, and the server still serving a normal client.
const assert = require('assert');
const crypto = require('crypto');
const http = require('http');
const net = require('net');
const WebSocket = require('ws');

const WebSocketServer = require('..').server;

const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xA };
const LOST_BEFORE_ACCEPT = 'TCP connection lost before handshake completed.';

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// Frame encoding (client side) and decoding (server side)

// Encodes one frame. `length` overrides the header's payload length (a Number or a BigInt) so
// a header can claim more than is sent; `rsv` is the 3-bit RSV field; `mask` false sends the
// payload in the clear, as no client may.
function encodeFrame(opts) {
  const fin = opts.fin === undefined ? true : opts.fin;
  const rsv = opts.rsv || 0;
  const mask = opts.mask === undefined ? true : opts.mask;
  let payload = opts.payload === undefined ? Buffer.alloc(0) : opts.payload;
  if (typeof payload === 'string') {
    payload = Buffer.from(payload, 'utf8');
  }
  const length = opts.length === undefined ? BigInt(payload.length) : BigInt(opts.length);

  let header;
  if (length < 126n) {
    header = Buffer.alloc(2);
    header[1] = Number(length);
  } else if (length < 65536n) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(length, 2);
  }
  header[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opts.opcode & 0x0F);
  if (!mask) {
    return Buffer.concat([header, payload]);
  }
  header[1] |= 0x80;
  const key = crypto.randomBytes(4);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) {
    masked[i] = payload[i] ^ key[i & 3];
  }
  return Buffer.concat([header, key, masked]);
}

// The payload of a close frame: a 2-byte code and a reason (a string or raw bytes).
function closePayload(code, reason) {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  if (reason === undefined) {
    return head;
  }
  return Buffer.concat([head, Buffer.isBuffer(reason) ? reason : Buffer.from(reason, 'utf8')]);
}

// Parses one server frame from the front of `buf`: `{frame, rest}` or null when incomplete.
function decodeFrame(buf) {
  if (buf.length < 2) {
    return null;
  }
  const masked = (buf[1] & 0x80) !== 0;
  let length = buf[1] & 0x7F;
  let offset = 2;
  if (length === 126) {
    if (buf.length < 4) {
      return null;
    }
    length = buf.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buf.length < 10) {
      return null;
    }
    length = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  if (masked) {
    offset += 4;
  }
  if (buf.length < offset + length) {
    return null;
  }
  const payload = buf.subarray(offset, offset + length);
  const frame = {
    fin: (buf[0] & 0x80) !== 0,
    rsv: (buf[0] >> 4) & 7,
    opcode: buf[0] & 0x0F,
    masked: masked,
    payload: Buffer.from(payload),
  };
  if (frame.opcode === OP.CLOSE && payload.length >= 2) {
    frame.closeCode = payload.readUInt16BE(0);
    frame.closeReason = payload.subarray(2).toString('utf8');
  }
  return { frame: frame, rest: buf.subarray(offset + length) };
}

// ---------------------------------------------------------------------------------------------
// A raw client: sends the upgrade request itself, then frames; collects the server's frames.

function upgradeRequest(port, overrides) {
  const headers = Object.assign({
    'Host': '127.0.0.1:' + port,
    'Upgrade': 'websocket',
    'Connection': 'Upgrade',
    'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
  }, overrides || {});
  let text = 'GET /raw HTTP/1.1\r\n';
  for (const name of Object.keys(headers)) {
    if (headers[name] !== null) {
      text += name + ': ' + headers[name] + '\r\n';
    }
  }
  return { text: text + '\r\n', key: headers['Sec-WebSocket-Key'] };
}

class RawClient {
  constructor(port) {
    this.port = port;
    this.buf = Buffer.alloc(0);
    this.response = null; // {status, headers, raw} once the HTTP response head arrived
    this.frames = [];
    this.waiters = [];
    this.errors = [];
    this.isClosed = false;
    this.socket = net.connect({ host: '127.0.0.1', port: port });
    this.socket.setNoDelay(true);
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.socket.once('close', resolve));
    this.socket.on('error', (err) => this.errors.push(err));
    this.socket.on('data', (chunk) => this._onData(chunk));
    this.socket.on('close', () => {
      this.isClosed = true;
      this._notify();
    });
    this._responseWaiters = [];
  }

  _onData(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (this.response === null) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end === -1) {
        return;
      }
      const head = this.buf.subarray(0, end).toString('latin1');
      this.buf = this.buf.subarray(end + 4);
      const lines = head.split('\r\n');
      const headers = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      this.response = { status: parseInt(lines[0].split(' ')[1], 10), headers: headers, raw: head };
    }
    for (;;) {
      const decoded = decodeFrame(this.buf);
      if (decoded === null) {
        break;
      }
      this.frames.push(decoded.frame);
      this.buf = decoded.rest;
    }
    this._notify();
  }

  _notify() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      w();
    }
  }

  // Resolves once `test()` is true, re-checked on every received chunk and on close.
  _until(test) {
    return new Promise((resolve) => {
      const check = () => {
        const v = test();
        if (v !== undefined) {
          resolve(v);
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  // The HTTP response head ({status, headers}); null when the socket closed without one.
  responseHead() {
    return this._until(() => {
      if (this.response !== null) {
        return this.response;
      }
      return this.isClosed ? null : undefined;
    });
  }

  // Sends the upgrade request in one write and checks the 101 and its accept key.
  async handshake() {
    await this.connected;
    const req = upgradeRequest(this.port);
    this.socket.write(req.text);
    const res = await this.responseHead();
    assert.ok(res, 'no HTTP response before the connection closed');
    assert.strictEqual(res.status, 101, 'expected 101, got: ' + res.raw);
    const expected = crypto.createHash('sha1')
      .update(req.key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    assert.strictEqual(res.headers['sec-websocket-accept'], expected);
    return res;
  }

  send(bytes) {
    this.socket.write(bytes);
  }

  // The next frame not yet taken; null if the connection closed first.
  nextFrame() {
    return this._until(() => {
      if (this.frames.length > 0) {
        return this.frames.shift();
      }
      return this.isClosed ? null : undefined;
    });
  }

  // Reads frames until a close frame; returns it with the frames seen before it.
  async closeFrame() {
    const before = [];
    for (;;) {
      const frame = await this.nextFrame();
      assert.ok(frame, 'the connection closed without a close frame; frames before: ' +
        JSON.stringify(before.map((f) => f.opcode)));
      if (frame.opcode === OP.CLOSE) {
        frame.before = before;
        return frame;
      }
      before.push(frame);
    }
  }

  destroy() {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// The server under test: an http server with a websocket-rs server mounted on it that echoes.

async function startServer(config, onRequest) {
  const httpServer = http.createServer((req, res) => {
    res.writeHead(404);
    res.end();
  });
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const wsServer = new WebSocketServer(Object.assign({ httpServer: httpServer }, config || {}));
  const s = {
    httpServer: httpServer,
    wsServer: wsServer,
    port: httpServer.address().port,
    conns: [],
    upgradeErrors: [],
    _connectWaiters: [],
  };
  wsServer.on('upgradeError', (err) => s.upgradeErrors.push(err));
  wsServer.on('request', onRequest || ((request) => request.accept(null, request.origin)));
  wsServer.on('connect', (connection) => {
    const rec = track(connection);
    connection.on('message', (message) => {
      if (message.type === 'utf8') {
        connection.sendUTF(message.utf8Data);
      } else {
        connection.sendBytes(message.binaryData);
      }
    });
    s.conns.push(rec);
    const waiters = s._connectWaiters;
    s._connectWaiters = [];
    waiters.forEach((w) => w(rec));
  });
  // The record of the next connection the server accepts (or of the first, if already there).
  s.connection = function (index) {
    const i = index === undefined ? 0 : index;
    if (s.conns.length > i) {
      return Promise.resolve(s.conns[i]);
    }
    return new Promise((resolve) => {
      const wait = () => {
        if (s.conns.length > i) {
          resolve(s.conns[i]);
        } else {
          s._connectWaiters.push(wait);
        }
      };
      wait();
    });
  };
  s.stop = async function () {
    wsServer.shutDown();
    const closing = s.conns.filter((c) => c.closes.length === 0).map((c) => c.closed);
    await Promise.all(closing);
    await new Promise((resolve) => {
      httpServer.close(resolve);
      httpServer.closeAllConnections();
    });
  };
  return s;
}

// Records a connection's `close` and `error` events.
function track(connection) {
  const rec = { connection: connection, closes: [], errors: [] };
  rec.closed = new Promise((resolve) => {
    connection.on('close', (code, description) => {
      rec.closes.push({ code: code, description: description });
      resolve(rec.closes[0]);
    });
  });
  connection.on('error', (err) => rec.errors.push(err));
  return rec;
}

// A normal client (ws) connects, gets an echo, and closes cleanly.
async function assertStillServing(port) {
  const ws = new WebSocket('ws://127.0.0.1:' + port + '/check');
  try {
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const text = 'still serving ' + crypto.randomBytes(4).toString('hex');
    const echoed = new Promise((resolve) => ws.once('message', (data) => resolve(String(data))));
    ws.send(text);
    assert.strictEqual(await echoed, text);
    const closed = new Promise((resolve) => ws.once('close', resolve));
    ws.close(1000);
    assert.strictEqual(await closed, 1000);
  } finally {
    ws.terminate();
  }
}

// ---------------------------------------------------------------------------------------------

describe('protocol violations from a raw client', function () {
  this.timeout(10000);

  let server = null;
  let clients = [];
  let uncaught = [];
  let failCurrent = null;
  // The temporary trap: an exception that escapes fails the running test at once (and, if it
  // comes after the test body, the afterEach hook).
  const trap = (err) => {
    uncaught.push(err);
    if (failCurrent) {
      failCurrent(err);
    }
  };

  // Like `it`, with the test body raced against the uncaughtException trap.
  function it(title, fn) {
    return global.it(title, async function () {
      const escaped = new Promise((resolve, reject) => {
        failCurrent = reject;
      });
      try {
        await Promise.race([fn.call(this), escaped]);
      } finally {
        failCurrent = null;
      }
    });
  }
  it.skip = global.it.skip;

  beforeEach(async function () {
    uncaught = [];
    clients = [];
    process.on('uncaughtException', trap);
    server = await startServer();
  });

  afterEach(async function () {
    for (const c of clients) {
      c.destroy();
    }
    if (server) {
      await server.stop();
      server = null;
    }
    process.removeListener('uncaughtException', trap);
    if (uncaught.length > 0) {
      throw uncaught[0];
    }
  });

  function rawClient(port) {
    const c = new RawClient(port === undefined ? server.port : port);
    clients.push(c);
    return c;
  }

  // Opens a raw connection, sends `bytes`, and checks the close code on both sides, that the TCP
  // connection is closed, that nothing escaped, and that the server still serves.
  async function violation(bytes, expectedCode, s) {
    s = s || server;
    const client = rawClient(s.port);
    await client.handshake();
    const rec = await s.connection();
    for (const b of Array.isArray(bytes) ? bytes : [bytes]) {
      client.send(b);
    }
    const close = await client.nextFrame();
    assert.ok(close, 'the connection closed without a close frame');
    assert.strictEqual(close.opcode, OP.CLOSE, 'the first frame back is a close frame, not ' +
      'opcode ' + close.opcode + ' (' + close.payload.toString() + ')');
    assert.strictEqual(close.closeCode, expectedCode,
      'close frame code ' + close.closeCode + ' (' + close.closeReason + ')');
    assert.strictEqual(close.masked, false, 'server frames are not masked');
    await client.closed;
    const serverClose = await rec.closed;
    assert.strictEqual(serverClose.code, expectedCode,
      'server close event: ' + JSON.stringify(serverClose));
    assert.strictEqual(rec.connection.closeReasonCode, expectedCode);
    assert.strictEqual(rec.closes.length, 1, 'exactly one close event');
    await assertStillServing(s.port);
    assert.deepStrictEqual(uncaught, []);
    return { close: close, rec: rec, client: client };
  }

  it('a raw client gets echoes (the harness works)', async function () {
    const client = rawClient();
    await client.handshake();
    client.send(encodeFrame({ opcode: OP.TEXT, payload: 'héllo' }));
    const frame = await client.nextFrame();
    assert.strictEqual(frame.opcode, OP.TEXT);
    assert.strictEqual(frame.payload.toString('utf8'), 'héllo');
    client.send(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(1000, 'bye') }));
    const close = await client.closeFrame();
    assert.strictEqual(close.closeCode, 1000);
    await client.closed;
    const rec = await server.connection();
    assert.strictEqual((await rec.closed).code, 1000);
  });

  it('an unmasked frame from the client is refused with 1002, not echoed', async function () {
    await violation(encodeFrame({ opcode: OP.TEXT, payload: 'in the clear', mask: false }), 1002);
  });

  for (const opcode of [0x3, 0xB]) {
    it('reserved opcode 0x' + opcode.toString(16) + ' → 1002', async function () {
      await violation(encodeFrame({ opcode: opcode, payload: 'x' }), 1002);
    });
  }

  it('RSV1 set without a negotiated extension → 1002', async function () {
    await violation(encodeFrame({ opcode: OP.TEXT, rsv: 4, payload: 'compressed?' }), 1002);
  });

  it('a control frame with a 126-byte payload → 1002', async function () {
    await violation(encodeFrame({ opcode: OP.PING, payload: Buffer.alloc(126, 0x61) }), 1002);
  });

  it('a fragmented ping (FIN=0) → 1002', async function () {
    await violation(encodeFrame({ opcode: OP.PING, fin: false, payload: 'p' }), 1002);
  });

  it('a continuation frame without a message started → 1002', async function () {
    await violation(encodeFrame({ opcode: OP.CONT, payload: 'orphan' }), 1002);
  });

  it('a new text frame in the middle of a fragmented message → 1002', async function () {
    await violation([
      encodeFrame({ opcode: OP.TEXT, fin: false, payload: 'first half ' }),
      encodeFrame({ opcode: OP.TEXT, payload: 'another message' }),
    ], 1002);
  });

  it('a close frame with a 1-byte payload → 1002', async function () {
    await violation(encodeFrame({ opcode: OP.CLOSE, payload: Buffer.from([0x03]) }), 1002);
  });

  for (const code of [1005, 999, 2999]) {
    it('a close frame with code ' + code + ' → 1002', async function () {
      await violation(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(code) }), 1002);
    });
  }

  it('invalid UTF-8 in a text message → 1007', async function () {
    await violation(encodeFrame({ opcode: OP.TEXT, payload: Buffer.from([0x61, 0xC3, 0x28]) }),
      1007);
  });

  it('valid UTF-8 split across two fragments is accepted (control case)', async function () {
    const client = rawClient();
    await client.handshake();
    const e = Buffer.from('é', 'utf8'); // C3 A9
    client.send(encodeFrame({ opcode: OP.TEXT, fin: false, payload: Buffer.from([0x61, e[0]]) }));
    client.send(encodeFrame({ opcode: OP.CONT, payload: Buffer.from([e[1], 0x62]) }));
    const frame = await client.nextFrame();
    assert.strictEqual(frame.opcode, OP.TEXT);
    assert.strictEqual(frame.payload.toString('utf8'), 'aéb');
  });

  it('invalid UTF-8 split across two fragments → 1007', async function () {
    // C3 starts a 2-byte sequence; 0x28 cannot continue it.
    await violation([
      encodeFrame({ opcode: OP.TEXT, fin: false, payload: Buffer.from([0x61, 0xC3]) }),
      encodeFrame({ opcode: OP.CONT, payload: Buffer.from([0x28, 0x62]) }),
    ], 1007);
  });

  it('fail fast: a first fragment with an impossible byte gets 1007 without the rest',
    async function () {
      await violation(
        encodeFrame({ opcode: OP.TEXT, fin: false, payload: Buffer.from([0x61, 0xFF, 0x62]) }),
        1007);
    });

  // Prefixes that no continuation can make valid: a fail-fast validator rejects them at the end
  // of the first fragment instead of waiting for the next.
  const impossiblePrefixes = {
    'F4 90 (above U+10FFFF)': [0xF4, 0x90],
    'ED A0 (a surrogate)': [0xED, 0xA0],
    'E0 80 (overlong)': [0xE0, 0x80],
    'C0 (overlong)': [0xC0],
    'F5 (never valid)': [0xF5],
  };
  for (const name of Object.keys(impossiblePrefixes)) {
    it('fail fast: a first fragment ending in ' + name + ' gets 1007 without the rest',
      async function () {
        const bytes = Buffer.from([0x61].concat(impossiblePrefixes[name]));
        await violation(encodeFrame({ opcode: OP.TEXT, fin: false, payload: bytes }), 1007);
      });
  }

  it('invalid UTF-8 in a close reason → 1007', async function () {
    await violation(encodeFrame({
      opcode: OP.CLOSE, payload: closePayload(1000, Buffer.from([0x6F, 0x6B, 0xFF, 0xFE])),
    }), 1007);
  });

  it('a frame header claiming 2^63−1 bytes → 1009 (no payload sent)', async function () {
    await violation(encodeFrame({ opcode: OP.BINARY, length: (1n << 63n) - 1n }).subarray(0, 14),
      1009);
  });

  it('a frame header claiming 10 GiB → 1009 (no payload sent)', async function () {
    await violation(encodeFrame({ opcode: OP.BINARY, length: 10n * (1n << 30n) }).subarray(0, 14),
      1009);
  });

  it('a 64-bit length with the top bit set → 1002', async function () {
    await violation(encodeFrame({ opcode: OP.BINARY, length: 1n << 63n }).subarray(0, 14), 1002);
  });

  describe('size limits', function () {
    let limited = null;

    beforeEach(async function () {
      limited = await startServer({ maxReceivedFrameSize: 1024, maxReceivedMessageSize: 2048 });
    });

    afterEach(async function () {
      if (limited) {
        await limited.stop();
        limited = null;
      }
    });

    it('frames and messages at the limits are accepted (control case)', async function () {
      const client = new RawClient(limited.port);
      clients.push(client);
      await client.handshake();
      const payload = crypto.randomBytes(1024);
      client.send(encodeFrame({ opcode: OP.BINARY, payload: payload }));
      let frame = await client.nextFrame();
      assert.ok(frame.payload.equals(payload));
      client.send(encodeFrame({ opcode: OP.BINARY, fin: false, payload: payload }));
      client.send(encodeFrame({ opcode: OP.CONT, payload: payload }));
      frame = await client.nextFrame();
      // The echo may be fragmented by the server; reassemble.
      let got = frame.payload;
      while (!frame.fin) {
        frame = await client.nextFrame();
        got = Buffer.concat([got, frame.payload]);
      }
      assert.ok(got.equals(Buffer.concat([payload, payload])));
    });

    it('a frame over maxReceivedFrameSize → 1009', async function () {
      await violation(encodeFrame({ opcode: OP.BINARY, payload: crypto.randomBytes(1025) }),
        1009, limited);
    });

    it('a fragmented message over maxReceivedMessageSize → 1009', async function () {
      await violation([
        encodeFrame({ opcode: OP.BINARY, fin: false, payload: crypto.randomBytes(1000) }),
        encodeFrame({ opcode: OP.CONT, fin: false, payload: crypto.randomBytes(1000) }),
        encodeFrame({ opcode: OP.CONT, payload: crypto.randomBytes(1000) }),
      ], 1009, limited);
    });
  });

  it('data after a close frame is ignored and the close handshake completes', async function () {
    const client = rawClient();
    await client.handshake();
    const rec = await server.connection();
    const messages = [];
    rec.connection.on('message', (m) => messages.push(m));
    client.send(Buffer.concat([
      encodeFrame({ opcode: OP.CLOSE, payload: closePayload(1000, 'done') }),
      encodeFrame({ opcode: OP.TEXT, payload: 'after the close' }),
      encodeFrame({ opcode: OP.PING, payload: 'after the close' }),
    ]));
    const close = await client.closeFrame();
    assert.strictEqual(close.closeCode, 1000);
    assert.deepStrictEqual(close.before, [], 'nothing sent back before the close reply');
    await client.closed;
    const serverClose = await rec.closed;
    assert.strictEqual(serverClose.code, 1000);
    assert.strictEqual(rec.closes.length, 1);
    assert.deepStrictEqual(messages, [], 'no message after the close frame');
    assert.deepStrictEqual(client.frames, [], 'no frame after the close frame');
    await assertStillServing(server.port);
  });

  it('a client that resets before a delayed accept(): one close 1006, no error, no crash',
    async function () {
      await server.stop();
      let pending = null;
      const gotRequest = new Promise((resolve) => {
        pending = resolve;
      });
      server = await startServer({}, (request) => pending(request));

      const client = rawClient();
      await client.connected;
      client.socket.write(upgradeRequest(server.port).text);
      const request = await gotRequest;
      const socketClosed = new Promise((resolve) => request.socket.once('close', resolve));
      client.socket.resetAndDestroy();
      await socketClosed;

      const rec = await new Promise((resolve, reject) => {
        setTimeout(() => {
          try {
            resolve(track(request.accept(null, request.origin)));
          } catch (err) {
            reject(err);
          }
        }, 20);
      });
      const closed = await rec.closed;
      assert.deepStrictEqual(closed, { code: 1006, description: LOST_BEFORE_ACCEPT });
      // Let any late or duplicate event arrive before counting.
      await delay(100);
      assert.strictEqual(rec.closes.length, 1, 'exactly one close: ' + JSON.stringify(rec.closes));
      assert.deepStrictEqual(rec.errors, [], 'no error event');
      assert.strictEqual(rec.connection.closeReasonCode, 1006);
      assert.strictEqual(rec.connection.connected, false);
      assert.strictEqual(server.wsServer.pendingRequests.length, 0);
      assert.strictEqual(server.wsServer.connections.indexOf(rec.connection), -1,
        'the lost connection is not left in server.connections');
      assert.deepStrictEqual(uncaught, []);

      // The server keeps serving (its request handler here accepts once it is answered).
      server.wsServer.removeAllListeners('request');
      server.wsServer.on('request', (r) => r.accept(null, r.origin));
      await assertStillServing(server.port);
    });

  it('a client that half-closes (FIN) before a delayed accept(): one close 1006, no error',
    async function () {
      await server.stop();
      let pending = null;
      const gotRequest = new Promise((resolve) => {
        pending = resolve;
      });
      server = await startServer({}, (request) => pending(request));
      const client = rawClient();
      await client.connected;
      client.socket.write(upgradeRequest(server.port).text);
      const request = await gotRequest;
      const socketEnded = new Promise((resolve) => request.socket.once('end', resolve));
      client.socket.end();
      await socketEnded;
      await delay(20);
      const rec = track(request.accept(null, request.origin));
      const closed = await rec.closed;
      assert.deepStrictEqual(closed, { code: 1006, description: LOST_BEFORE_ACCEPT });
      await delay(100);
      assert.strictEqual(rec.closes.length, 1, JSON.stringify(rec.closes));
      assert.deepStrictEqual(rec.errors, []);
      await client.closed;
      server.wsServer.removeAllListeners('request');
      server.wsServer.on('request', (r) => r.accept(null, r.origin));
      await assertStillServing(server.port);
    });

  it('a reset in the middle of a frame → close 1006', async function () {
    const client = rawClient();
    await client.handshake();
    const rec = await server.connection();
    client.send(encodeFrame({ opcode: OP.TEXT, payload: 'whole' }));
    const echo = await client.nextFrame();
    assert.strictEqual(echo.payload.toString(), 'whole');
    // A header announcing 100 bytes, and only 10 of them.
    client.send(encodeFrame({ opcode: OP.BINARY, payload: Buffer.alloc(100, 7) }).subarray(0, 16));
    await delay(20);
    client.socket.resetAndDestroy();
    const closed = await rec.closed;
    assert.strictEqual(closed.code, 1006, JSON.stringify(closed));
    assert.strictEqual(rec.closes.length, 1);
    await assertStillServing(server.port);
    assert.deepStrictEqual(uncaught, []);
  });

  it('a handshake dribbled one byte at a time does not hold up another client', async function () {
    this.timeout(20000);
    const ws = new WebSocket('ws://127.0.0.1:' + server.port + '/steady');
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    try {
      let n = 0;
      const roundTrip = async () => {
        const text = 'steady ' + n++;
        const echoed = new Promise((resolve) => ws.once('message', (d) => resolve(String(d))));
        ws.send(text);
        assert.strictEqual(await echoed, text);
      };

      const client = rawClient();
      await client.connected;
      const req = Buffer.from(upgradeRequest(server.port).text, 'latin1');
      let echoesDuringDribble = 0;
      for (let i = 0; i < req.length; i++) {
        client.socket.write(req.subarray(i, i + 1));
        await delay(1);
        if (i % 16 === 0 && i < req.length - 1) {
          await roundTrip();
          echoesDuringDribble++;
        }
      }
      assert.ok(echoesDuringDribble >= 5, 'echoes while the handshake dribbled: ' +
        echoesDuringDribble);
      const res = await client.responseHead();
      assert.strictEqual(res && res.status, 101);
      // A frame dribbled the same way.
      const frameBytes = encodeFrame({ opcode: OP.TEXT, payload: 'finally' });
      for (let i = 0; i < frameBytes.length; i++) {
        client.socket.write(frameBytes.subarray(i, i + 1));
        await delay(1);
      }
      const frame = await client.nextFrame();
      assert.strictEqual(frame.payload.toString(), 'finally');
      await roundTrip();
    } finally {
      ws.terminate();
    }
  });

  describe('a bad handshake', function () {
    async function badHandshake(overrides) {
      const client = rawClient();
      await client.connected;
      client.socket.write(upgradeRequest(server.port, overrides).text);
      const res = await client.responseHead();
      assert.ok(res, 'an HTTP response');
      await client.closed;
      assert.strictEqual(requests, 0, 'no request event for a bad handshake');
      return res;
    }

    let requests = 0;
    beforeEach(function () {
      requests = 0;
      server.wsServer.on('request', () => requests++);
    });

    it('without Sec-WebSocket-Key → 400 and upgradeError', async function () {
      const res = await badHandshake({ 'Sec-WebSocket-Key': null });
      assert.strictEqual(res.status, 400, res.raw);
      assert.strictEqual(server.upgradeErrors.length, 1);
      assert.ok(server.upgradeErrors[0] instanceof Error);
      assert.strictEqual(server.conns.length, 0);
      await assertStillServing(server.port);
    });

    it('an unsupported version → 426 with Sec-WebSocket-Version: 13, and upgradeError',
      async function () {
        const res = await badHandshake({ 'Sec-WebSocket-Version': '7' });
        assert.strictEqual(res.status, 426, res.raw);
        assert.strictEqual(res.headers['sec-websocket-version'], '13');
        assert.strictEqual(server.upgradeErrors.length, 1);
        assert.strictEqual(server.conns.length, 0);
        await assertStillServing(server.port);
      });

    it('a version that is not a number → 400 and upgradeError', async function () {
      const res = await badHandshake({ 'Sec-WebSocket-Version': 'thirteen' });
      assert.strictEqual(res.status, 400, res.raw);
      assert.strictEqual(server.upgradeErrors.length, 1);
      await assertStillServing(server.port);
    });
  });
});
