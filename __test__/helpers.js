'use strict';
// Shared test helpers: real peers (`ws`, the original `websocket` client, raw TCP clients that
// speak the upgrade and frames by hand), payload builders and a cleanup registry. Everything a
// helper opens is registered with `defer` and closed by `runCleanups` (call it in afterEach).
const assert = require('assert');
const crypto = require('crypto');
const http = require('http');
const net = require('net');
const { EventEmitter, once } = require('events');
const WebSocket = require('ws');
const orig = require('websocket');

const deq = assert.deepStrictEqual;
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// Cleanups registered by a test, run after it (last registered first) by `runCleanups`.
const cleanups = [];
const defer = (fn) => cleanups.push(fn);
async function runCleanups() {
  for (const fn of cleanups.splice(0).reverse()) {
    await Promise.resolve().then(fn).catch(() => {}); // best effort
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const newKey = () => crypto.randomBytes(16).toString('base64');
const acceptFor = (key) => crypto.createHash('sha1').update(key + GUID).digest('base64');

// An http server on 127.0.0.1 (port 0) whose plain requests get 200 'plain http'.
async function listen() {
  const h = http.createServer((req, res) => res.end('plain http'));
  await new Promise((resolve) => h.listen(0, '127.0.0.1', resolve));
  defer(() => h.closeAllConnections() || new Promise((resolve) => h.close(resolve)));
  return h;
}

// A `ws` client, resolved once open.
function wsConnect(url, protocols, options) {
  const ws = new WebSocket(url, protocols, options);
  defer(() => ws.terminate());
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(new Error('unexpected ' + res.statusCode)));
  });
}

// A `ws` client that must be refused: resolves with the HTTP response (null if there was none).
function wsRefused(url, protocols, options) {
  const ws = new WebSocket(url, protocols, options);
  defer(() => ws.terminate());
  ws.on('error', () => {});
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the connection opened')));
    ws.once('unexpected-response', (req, res) => resolve(res.resume()) || req.destroy());
    ws.once('close', () => resolve(null));
  });
}

// The original `websocket` package's client, resolved with its connection.
function origConnect(url, protocols, config) {
  const client = new orig.client(config);
  return new Promise((resolve, reject) => {
    client.once('connect', (c) => resolve(c) || defer(() => c.drop()));
    client.once('connectFailed', reject);
    client.connect(url, protocols);
  });
}

// Resolves with the argument lists of the next `n` `event`s of `emitter`.
function collect(emitter, event, n) {
  const out = [];
  return new Promise((resolve) => {
    const f = (...args) => {
      if (out.push(args) === n) {
        emitter.removeListener(event, f);
        resolve(out);
      }
    };
    emitter.on(event, f);
  });
}

// The next `event` of `emitter`, without rejecting on 'error' as events.once does.
const next = (emitter, event) => new Promise((resolve) => emitter.once(event, (...a) => resolve(a)));
const nextText = async (ws) => (await once(ws, 'message'))[0].toString();
// The fields of `obj` named like the keys of `expected`, to compare with it in one assertion.
const pick = (obj, expected) => Object.fromEntries(Object.keys(expected).map((k) => [k, obj[k]]));
const hasFields = (obj, expected) => deq(pick(obj, expected), expected);

// Upgrade headers of a valid version 13 request, plus `extra`.
function upgradeHeaders(extra) {
  return Object.assign({
    Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': newKey(), 'Sec-WebSocket-Version': '13',
  }, extra);
}

// An upgrade request made with http.request: {res, socket} on a 101, {res} otherwise.
function rawRequest(port, headers, path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: path || '/', headers, agent: false });
    req.on('upgrade', (res, socket) => {
      defer(() => socket.destroy());
      socket.on('error', () => {});
      resolve({ res, socket });
    });
    req.on('response', (res) => res.resume().on('end', () => resolve({ res })));
    req.on('error', reject);
    req.end();
  });
}

// A masked (client) frame.
function maskedFrame(opcode, payload, fin) {
  payload = Buffer.from(payload);
  const n = payload.length;
  const header = Buffer.alloc(n < 126 ? 2 : n < 0x10000 ? 4 : 10);
  header[0] = (fin === false ? 0 : 0x80) | opcode;
  header[1] = 0x80 | (n < 126 ? n : n < 0x10000 ? 126 : 127);
  if (header.length === 4) {
    header.writeUInt16BE(n, 2);
  } else if (header.length === 10) {
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  const mask = crypto.randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]));
  return Buffer.concat([header, mask, body]);
}

// One unmasked (server) frame from the front of `buf`: {frame, used}, or null if incomplete.
function parseFrame(buf) {
  const len7 = buf.length < 2 ? 0 : buf[1] & 0x7F;
  const off = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
  const len = buf.length < off ? Infinity
    : len7 === 126 ? buf.readUInt16BE(2) : len7 === 127 ? Number(buf.readBigUInt64BE(2)) : len7;
  if (buf.length < off + len) {
    return null;
  }
  const frame = { fin: (buf[0] & 0x80) !== 0, opcode: buf[0] & 0x0F, payload: buf.subarray(off, off + len) };
  return { frame, used: off + len };
}

// A WebSocket client over a bare TCP socket: writes the upgrade request (with `early` bytes in
// the same write), then gives the response head (`head`) and the server's frames (`nextFrame()`).
async function rawClient(port, options) {
  const opts = options || {};
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: Boolean(opts.allowHalfOpen) });
  defer(() => socket.destroy());
  socket.on('error', () => {});
  await once(socket, 'connect');
  const client = { socket, key: newKey() };
  const request = 'GET / HTTP/1.1\r\nHost: 127.0.0.1:' + port + '\r\nUpgrade: websocket\r\n' +
    'Connection: Upgrade\r\nSec-WebSocket-Key: ' + client.key + '\r\nSec-WebSocket-Version: 13\r\n\r\n';
  const frames = new EventEmitter(); // 'frame' when `queue` grows
  const queue = [];
  let buf = Buffer.alloc(0);
  let head = null;
  client.head = new Promise((resolve) => { head = resolve; });
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (head !== null) {
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) {
        return;
      }
      head(buf.subarray(0, i).toString('latin1'));
      head = null;
      buf = buf.subarray(i + 4);
    }
    for (let p; (p = parseFrame(buf)) !== null; buf = buf.subarray(p.used)) {
      queue.push(p.frame);
      frames.emit('frame');
    }
  });
  client.nextFrame = async () => {
    while (queue.length === 0) {
      await once(frames, 'frame');
    }
    return queue.shift();
  };
  client.send = (opcode, payload, fin) => socket.write(maskedFrame(opcode, payload, fin));
  socket.write(opts.early ? Buffer.concat([Buffer.from(request), opts.early]) : request);
  return client;
}

// A string of exactly `n` UTF-8 bytes mixing 1-, 2-, 3- and 4-byte characters.
function utf8Text(n) {
  const parts = ['a', 'é', '€', '😀', 'b'];
  let s = '';
  for (let i = 0, len = 0; len < n; i++) {
    const p = parts[i % parts.length];
    const b = Buffer.byteLength(p);
    s += len + b > n ? 'z'.repeat(n - len) : p;
    len = len + b > n ? n : len + b;
  }
  return s;
}

const bytesOf = (n, seed) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + (seed || 7)) & 0xFF));

// Runs `fn(caught)` with mocha's uncaughtException handlers set aside; `caught` resolves with
// the first uncaught exception. The handlers are restored whatever happens.
async function withUncaught(fn) {
  const saved = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  let handler;
  const caught = new Promise((resolve) => { handler = resolve; });
  process.on('uncaughtException', handler);
  try {
    return await fn(caught);
  } finally {
    process.removeListener('uncaughtException', handler);
    saved.forEach((l) => process.on('uncaughtException', l));
  }
}

module.exports = {
  defer,
  runCleanups,
  sleep,
  newKey,
  acceptFor,
  listen,
  wsConnect,
  wsRefused,
  origConnect,
  collect,
  next,
  nextText,
  pick,
  hasFields,
  upgradeHeaders,
  rawRequest,
  maskedFrame,
  parseFrame,
  rawClient,
  utf8Text,
  bytesOf,
  withUncaught,
};
