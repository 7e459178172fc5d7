'use strict';
// Raw-bytes peers for the protocol conformance suite (conformance.test.js).
//
// A RawPeer is one end of a WebSocket connection spoken byte by byte over a bare TCP socket: it
// writes hand-built frames (any opcode, RSV bits, FIN, masked or not) and parses what the other
// end sends with a chunk-list reader (no quadratic re-buffering, so multi-MiB echoes are cheap).
// Every wait it offers is bounded and names what it was waiting for.
//
// Two sessions put a RawPeer in front of this project's code:
// - serverSession(config): a raw TCP client (upgrade request, then masked frames) against
//   `require('..').server` mounted on an http server on 127.0.0.1, echoing text as text and
//   binary as binary;
// - clientSession(config): a raw TCP server (helpers.rawServer answering with a correct 101, then
//   unmasked frames) against `require('..').client`, whose message handler echoes.
// Both return {role, peer, conn, localClose}: `conn` is the project's WebSocketConnection and
// `localClose` resolves with its first 'close' event's [code, description].
//
// Everything opened is registered with helpers.defer; call helpers.runCleanups in afterEach.
const assert = require('assert');
const crypto = require('crypto');
const net = require('net');
const { EventEmitter } = require('events');
const { setImmediate: tick } = require('timers/promises');
const { defer, listen, newKey, acceptFor, next, rawServer, upgrade101, clientConnect } = require('./helpers');

const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xA };
const OP_NAMES = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };
const opName = (op) => OP_NAMES[op] || '0x' + op.toString(16);

// Rejects with "timed out after <ms> ms waiting for <what>" unless `promise` settles first.
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('timed out after ' + ms + ' ms waiting for ' + what)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// XORs `buf` in place with the 4-byte `key` (masking and unmasking are the same operation).
function xorMask(buf, key) {
  for (let i = 0; i < buf.length; i++) {
    buf[i] ^= key[i & 3];
  }
  return buf;
}

// One frame's bytes. opts: fin (default true), rsv (3-bit field, RSV1 = 4, RSV2 = 2, RSV3 = 1),
// mask (true: a random masking key, as a client must; false: in the clear, as a server must).
function encodeFrame(opcode, payload, opts) {
  const o = opts || {};
  const data = Buffer.from(payload === undefined ? [] : payload);
  const n = data.length;
  const lenBytes = n < 126 ? 0 : n < 0x10000 ? 2 : 8;
  const header = Buffer.alloc(2 + lenBytes + (o.mask ? 4 : 0));
  header[0] = (o.fin === false ? 0 : 0x80) | ((o.rsv || 0) << 4) | (opcode & 0x0F);
  header[1] = (o.mask ? 0x80 : 0) | (n < 126 ? n : n < 0x10000 ? 126 : 127);
  if (lenBytes === 2) {
    header.writeUInt16BE(n, 2);
  } else if (lenBytes === 8) {
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  if (o.mask) {
    const key = crypto.randomBytes(4);
    key.copy(header, 2 + lenBytes);
    xorMask(data, key); // `data` is our own copy
  }
  return Buffer.concat([header, data]);
}

// A close frame's payload: the 2-byte status, then the reason (a string or raw bytes).
function closePayload(code, reason) {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return reason === undefined ? head : Buffer.concat([head, Buffer.from(reason)]);
}

// Incremental frame parser over a list of received chunks.
class FrameReader {
  constructor() {
    this.chunks = [];
    this.length = 0;
  }

  push(chunk) {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  // A copy of the first `n` buffered bytes (n small).
  peek(n) {
    const out = Buffer.alloc(n);
    let at = 0;
    for (const c of this.chunks) {
      at += c.copy(out, at, 0, Math.min(c.length, n - at));
      if (at === n) {
        break;
      }
    }
    return out;
  }

  take(n) {
    const parts = [];
    for (let need = n; need > 0;) {
      const c = this.chunks[0];
      if (c.length <= need) {
        parts.push(c);
        this.chunks.shift();
        need -= c.length;
      } else {
        parts.push(c.subarray(0, need));
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    this.length -= n;
    return parts.length === 1 ? Buffer.from(parts[0]) : Buffer.concat(parts, n);
  }

  // The next whole frame {fin, rsv, opcode, masked, payload (unmasked)}, or null.
  read() {
    if (this.length < 2) {
      return null;
    }
    const h = this.peek(Math.min(this.length, 14));
    const masked = (h[1] & 0x80) !== 0;
    const len7 = h[1] & 0x7F;
    const lenBytes = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const off = 2 + lenBytes + (masked ? 4 : 0);
    if (h.length < off) {
      return null;
    }
    const len = len7 === 126 ? h.readUInt16BE(2) : len7 === 127 ? Number(h.readBigUInt64BE(2)) : len7;
    if (this.length < off + len) {
      return null;
    }
    const key = masked ? h.subarray(off - 4, off) : null;
    this.take(off);
    const payload = len === 0 ? Buffer.alloc(0) : this.take(len);
    if (masked) {
      xorMask(payload, key);
    }
    return { fin: (h[0] & 0x80) !== 0, rsv: (h[0] >> 4) & 7, opcode: h[0] & 0x0F, masked, payload };
  }
}

// One end of a connection over `socket`. `masks`: whether the frames we send are masked (we are
// the client); the frames we receive must then be unmasked, and the other way round.
class RawPeer {
  constructor(socket, masks, leftover) {
    this.socket = socket;
    this.masks = masks;
    this.reader = new FrameReader();
    this.frames = []; // received, not yet taken
    this.received = 0; // frames received in all
    this.eof = false; // the other end sent FIN
    this.gone = false; // the socket is closed
    this.changed = new EventEmitter();
    this.changed.setMaxListeners(0);
    if (typeof socket.setNoDelay === 'function') {
      socket.setNoDelay(true); // an HTTP/2 stream has none
    }
    this.allowRsv1 = false; // permessage-deflate agreed: RSV1 may mark a compressed message
    this.errors = []; // socket errors (an RST after a protocol error is not this peer's failure)
    socket.on('error', (e) => this.errors.push(e.code || e.message));
    socket.on('data', (d) => this._onData(d));
    socket.on('end', () => {
      this.eof = true;
      this.changed.emit('change');
    });
    socket.on('close', () => {
      this.gone = true;
      this.changed.emit('change');
    });
    if (leftover && leftover.length > 0) {
      this._onData(leftover);
    }
  }

  _onData(chunk) {
    this.reader.push(chunk);
    for (let f; (f = this.reader.read()) !== null;) {
      this.frames.push(f);
      this.received++;
    }
    this.changed.emit('change');
  }

  // Resolves once test() returns something other than undefined; rejects after `ms`.
  _until(test, ms, what) {
    const v = test();
    if (v !== undefined) {
      return Promise.resolve(v);
    }
    let listener;
    const p = new Promise((resolve) => {
      listener = () => {
        const w = test();
        if (w !== undefined) {
          // test() may take something (a frame): it must not run again before the listener is
          // removed, which happens a tick later (a resumed stream emits several chunks at once)
          this.changed.removeListener('change', listener);
          resolve(w);
        }
      };
      this.changed.on('change', listener);
    });
    return within(p, ms, what).finally(() => this.changed.removeListener('change', listener));
  }

  // The bytes of a frame as this peer sends them (see encodeFrame for opts).
  frame(opcode, payload, opts) {
    return encodeFrame(opcode, payload, Object.assign({ mask: this.masks }, opts));
  }

  write(bytes) {
    if (!this.socket.destroyed) {
      this.socket.write(bytes);
    }
  }

  send(opcode, payload, opts) {
    this.write(this.frame(opcode, payload, opts));
  }

  // Writes `bytes` in many small writes with a turn of the event loop between them, so that the
  // other end reads them piecemeal: 1-7 byte pieces for the first and last 300 bytes (headers and
  // frame boundaries), pieces of up to 8 KiB in between.
  async dribble(bytes) {
    const sizes = [1, 3, 7, 2, 5, 4, 6];
    let k = 0;
    for (let i = 0; i < bytes.length;) {
      const edge = i < 300 || bytes.length - i <= 300;
      const n = edge ? sizes[k++ % sizes.length] : Math.min(8192, bytes.length - 300 - i);
      this.write(bytes.subarray(i, i + n));
      i += n;
      await tick();
    }
  }

  // The next frame received; null if the connection ended first. Checks what RFC 6455 requires
  // of every frame this end gets: RSV bits clear (no extension), masked iff sent by a client.
  async nextFrame(ms, what) {
    const f = await this._until(() => {
      if (this.frames.length > 0) {
        return this.frames.shift();
      }
      return this.eof || this.gone ? null : undefined;
    }, ms || 3000, what || 'a frame');
    if (f !== null) {
      const allowed = this.allowRsv1 && (f.opcode === OP.TEXT || f.opcode === OP.BINARY) ? 4 : 0;
      assert.strictEqual(f.rsv & ~allowed, 0, 'a ' + opName(f.opcode) + ' frame arrived with RSV bits ' + f.rsv);
      assert.strictEqual(f.masked, !this.masks, 'a ' + opName(f.opcode) + ' frame arrived ' +
        (f.masked ? 'masked (from a server)' : 'unmasked (from a client)'));
    }
    return f;
  }

  // The next frame, which must be there and of opcode `op`.
  async expectFrame(op, ms, what) {
    const f = await this.nextFrame(ms, what || 'a ' + opName(op) + ' frame');
    assert.ok(f !== null, 'the connection ended (' + this.state() + '); expected a ' + opName(op) + ' frame');
    assert.strictEqual(opName(f.opcode), opName(op), 'expected a ' + opName(op) + ' frame, got ' +
      describeFrame(f));
    return f;
  }

  // How the connection stands, for failure messages.
  state() {
    return [this.eof ? 'EOF received' : 'no EOF', this.gone ? 'socket closed' : 'socket open',
      this.received + ' frames received', this.reader.length + ' bytes unparsed',
      'errors: ' + (this.errors.join(', ') || 'none')].join('; ');
  }

  // The next message, reassembled: {opcode, payload, fragments (count), sizes (of each)}. Only continuation frames may
  // come between its first and last frame.
  async nextMessage(ms) {
    const first = await this.nextFrame(ms, 'a message');
    assert.ok(first !== null, 'the connection ended (' + this.state() + '); expected a message');
    assert.ok(first.opcode === OP.TEXT || first.opcode === OP.BINARY,
      'expected a text or binary frame, got ' + describeFrame(first));
    const parts = [first.payload];
    for (let f = first; !f.fin;) {
      f = await this.nextFrame(ms, 'a continuation frame');
      assert.ok(f !== null, 'the connection ended inside a fragmented message (' + this.state() + ')');
      assert.strictEqual(f.opcode, OP.CONT, 'expected a continuation frame, got ' + describeFrame(f));
      parts.push(f.payload);
    }
    return {
      opcode: first.opcode, payload: Buffer.concat(parts), fragments: parts.length, sizes: parts.map((p) => p.length),
      compressed: (first.rsv & 4) !== 0,
    };
  }

  // The next message must be `payload` with opcode `op`, byte for byte.
  async expectEcho(op, payload, ms) {
    const m = await this.nextMessage(ms);
    assert.strictEqual(opName(m.opcode), opName(op), 'echo opcode');
    assertSameBytes(m.payload, Buffer.from(payload), opName(op) + ' echo');
    return m;
  }

  // The next frame must be a close frame: returns {code (null when empty), reason (Buffer)}.
  async expectClose(ms) {
    const f = await this.expectFrame(OP.CLOSE, ms);
    assert.ok(f.fin, 'a close frame must not be fragmented');
    assert.ok(f.payload.length !== 1 && f.payload.length <= 125, 'close payload of ' + f.payload.length + ' bytes');
    return {
      code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null,
      reason: f.payload.subarray(2),
    };
  }

  // Resolves when the other end has closed its side of the TCP connection (FIN or reset).
  ended(ms, what) {
    return this._until(() => (this.eof || this.gone ? true : undefined), ms || 3000,
      what || 'the other end to close the TCP connection');
  }

  // Resolves when the socket is fully closed.
  closed(ms, what) {
    return this._until(() => (this.gone ? true : undefined), ms || 3000, what || 'the TCP connection to close');
  }
}

function describeFrame(f) {
  const text = f.payload.length <= 40 ? ' ' + JSON.stringify(f.payload.toString('latin1')) : '';
  const code = f.opcode === OP.CLOSE && f.payload.length >= 2 ? ' code ' + f.payload.readUInt16BE(0) : '';
  return opName(f.opcode) + (f.fin ? '' : ' (fin=0)') + ' frame of ' + f.payload.length + ' bytes' + code + text;
}

// Compares two buffers with a short message (lengths, first differing offset) instead of a dump.
function assertSameBytes(actual, expected, what) {
  if (actual.equals(expected)) {
    return;
  }
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) {
    i++;
  }
  assert.fail(what + ': got ' + actual.length + ' bytes, expected ' + expected.length +
    '; first difference at byte ' + i + ' (got ' + hexAt(actual, i) + ', expected ' + hexAt(expected, i) + ')');
}
const hexAt = (b, i) => (i < b.length ? b.subarray(i, i + 8).toString('hex') : 'end');

// ---------------------------------------------------------------------------------------------
// Sessions

// Accepts the first request of `wss` and echoes on its connection (text as text, binary as
// binary); resolves with the connection.
function echoFirstRequest(wss) {
  return new Promise((resolve) => {
    wss.on('request', (r) => {
      const c = r.accept(null, r.origin);
      c.on('error', () => {});
      c.on('message', (m) => (m.type === 'utf8' ? c.sendUTF(m.utf8Data) : c.sendBytes(m.binaryData)));
      resolve(c);
    });
  });
}

// This project's server (its `config` over the documented defaults) echoing, and a raw client.
// opts.extensions: a Sec-WebSocket-Extensions value for the request; the session's `head` is
// the 101's head.
async function serverSession(config, opts) {
  const { server: WebSocketServer } = require('..');
  const h = await listen();
  const wss = new WebSocketServer(Object.assign({ httpServer: h }, config));
  defer(() => {
    wss.connections.slice().forEach((c) => c.drop(1001, 'test over', true));
    wss.unmount();
  });
  const connP = echoFirstRequest(wss);

  const port = h.address().port;
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  defer(() => socket.destroy());
  socket.on('error', () => {});
  const key = newKey();
  const extensions = opts && opts.extensions !== undefined
    ? 'Sec-WebSocket-Extensions: ' + opts.extensions + '\r\n' : '';
  socket.write('GET /conformance HTTP/1.1\r\nHost: 127.0.0.1:' + port + '\r\nUpgrade: websocket\r\n' +
    'Connection: Upgrade\r\nSec-WebSocket-Key: ' + key + '\r\nSec-WebSocket-Version: 13\r\n' +
    extensions + '\r\n');
  // Read the response head; whatever follows it is frames.
  const { head, rest } = await within(new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf('\r\n\r\n');
      if (i >= 0) {
        socket.removeListener('data', onData);
        socket.pause();
        resolve({ head: buf.subarray(0, i).toString('latin1'), rest: buf.subarray(i + 4) });
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('the server closed before answering the upgrade')));
  }), 3000, 'the 101 response');
  assert.match(head, /^HTTP\/1\.1 101 /, head);
  const accept = head.split('\r\n').find((l) => /^sec-websocket-accept:/i.test(l));
  assert.strictEqual(accept && accept.slice(accept.indexOf(':') + 1).trim(), acceptFor(key), head);
  const peer = new RawPeer(socket, true, rest);
  socket.resume();
  const conn = await within(connP, 3000, 'the server-side connection');
  return { role: 'server', peer, conn, head, localClose: next(conn, 'close') };
}

// A raw server answering the upgrade with a correct 101, and this project's client (its `config`
// over the documented defaults) connected to it, echoing. opts.answer(headers): extra header
// lines for the 101, given the request's headers; the session's `request` is those headers.
async function clientSession(config, opts) {
  let gotPeer;
  let request = null;
  const peerP = new Promise((resolve) => { gotPeer = resolve; });
  const rs = await rawServer((p) => {
    // The request head has been read and the client sends nothing before the 101: take the
    // socket over from rawServer's own frame parser.
    p.socket.removeAllListeners('data');
    request = p.headers;
    gotPeer(new RawPeer(p.socket, false));
    upgrade101(p, opts && opts.answer ? opts.answer(p.headers) : undefined);
  }, { allowHalfOpen: true }); // like the raw client: an EOF from the client does not end our side
  const conn = await within(clientConnect([rs.url], config), 3000, 'the client to connect');
  conn.on('error', () => {});
  conn.on('message', (m) => (m.type === 'utf8' ? conn.sendUTF(m.utf8Data) : conn.sendBytes(m.binaryData)));
  const peer = await within(peerP, 3000, 'the raw server to see the request');
  return { role: 'client', peer, conn, request, localClose: next(conn, 'close') };
}

// serverSession over HTTP/2 (RFC 8441): this project's server mounted on a cleartext HTTP/2
// server (h2c), and the raw client's frames on an extended CONNECT stream of Node's http2 client.
// Ending the stream plays the part of closing the TCP connection.
async function serverSessionHttp2(config, opts) {
  const http2 = require('http2');
  const { server: WebSocketServer } = require('..');
  const server = http2.createServer();
  const sessions = new Set();
  server.on('session', (sess) => {
    sessions.add(sess);
    sess.on('close', () => sessions.delete(sess));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const wss = new WebSocketServer(Object.assign({ httpServer: server }, config));
  defer(() => new Promise((resolve) => {
    wss.connections.slice().forEach((c) => c.drop(1001, 'test over', true));
    wss.unmount();
    for (const sess of sessions) sess.destroy();
    server.close(() => resolve());
  }));
  const connP = echoFirstRequest(wss);
  const client = http2.connect('http://127.0.0.1:' + server.address().port);
  client.on('error', () => {});
  defer(() => client.destroy());
  await within(new Promise((resolve) => client.once('remoteSettings', resolve)), 3000, 'the SETTINGS');
  const headers = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'http',
    ':path': '/conformance',
    ':authority': '127.0.0.1',
    'sec-websocket-version': '13',
  };
  if (opts && opts.extensions !== undefined) {
    headers['sec-websocket-extensions'] = opts.extensions;
  }
  const stream = client.request(headers, { endStream: false });
  const response = await within(new Promise((resolve, reject) => {
    stream.once('response', resolve);
    stream.once('close', () => reject(new Error('the stream closed before the response')));
  }), 3000, 'the 200 response');
  assert.strictEqual(response[':status'], 200);
  const head = Object.keys(response).map((k) => k + ': ' + response[k]).join('\r\n');
  const peer = new RawPeer(stream, true);
  const conn = await within(connP, 3000, 'the server-side connection');
  return { role: 'server', peer, conn, head, localClose: next(conn, 'close') };
}

const SESSIONS = { server: serverSession, client: clientSession, 'server-h2': serverSessionHttp2 };

// Finishes a close handshake the project's side started (its close frame already read): answer
// with a close frame, then check the TCP connection ends. As a server, the project must close the
// TCP connection first (RFC 6455 §7.1.1), so the raw client waits for its FIN without closing its
// own side. As a client, the raw server closes its side as a server should, and the project's
// client must close the connection in turn.
async function answerClose(s, payload, ms) {
  s.peer.send(OP.CLOSE, payload === undefined ? Buffer.alloc(0) : payload);
  await finishTcp(s, ms);
}

async function finishTcp(s, ms) {
  if (s.role === 'server') {
    await s.peer.ended(ms || 3000, 'the server to close the TCP connection after the close handshake');
    s.peer.socket.end();
  } else {
    s.peer.socket.end();
  }
  await s.peer.closed(ms || 3000, 'the TCP connection to close after the close handshake');
}

module.exports = {
  OP,
  opName,
  within,
  encodeFrame,
  closePayload,
  FrameReader,
  RawPeer,
  assertSameBytes,
  describeFrame,
  serverSession,
  serverSessionHttp2,
  clientSession,
  SESSIONS,
  answerClose,
  finishTcp,
};
