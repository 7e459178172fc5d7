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

// ---------------------------------------------------------------------------------------------
// Additions for the client, W3C and router tests.

const SERVER_KINDS = ['ours', 'ws', 'orig'];

// A server-side connection of any kind behind one interface: `events` emits 'message' (a string
// for text, a Buffer for binary), 'ping' and 'pong' (a Buffer) and 'close' (code, reason);
// `received` keeps every message; `closed` resolves with [code, reason].
function wrapPeer(kind, raw, echo) {
  const events = new EventEmitter();
  const peer = { kind, raw, events, received: [] };
  const onMessage = (data) => {
    peer.received.push(data);
    events.emit('message', data);
    if (echo) {
      return typeof data === 'string' ? peer.sendText(data) : peer.sendBinary(data);
    }
    return undefined;
  };
  peer.closed = new Promise((resolve) => events.once('close', (code, reason) => resolve([code, reason])));
  if (kind === 'ws') {
    raw.on('message', (data, isBinary) => onMessage(isBinary ? data : data.toString()));
    raw.on('ping', (data) => events.emit('ping', data));
    raw.on('pong', (data) => events.emit('pong', data));
    raw.on('close', (code, reason) => events.emit('close', code, reason.toString()));
    raw.on('error', () => {});
    peer.sendText = (s) => raw.send(s);
    peer.sendBinary = (b) => raw.send(b, { binary: true });
    peer.sendFragments = (parts, binary) => parts.forEach((p, i) => raw.send(p, { binary, fin: i === parts.length - 1 }));
    peer.ping = (data) => raw.ping(data);
    peer.close = (code, reason) => raw.close(code, reason);
    peer.pauseReading = () => raw._socket.pause();
    peer.resumeReading = () => raw._socket.resume();
  } else {
    const Frame = kind === 'ours' ? require('..').frame : orig.frame;
    raw.on('message', (m) => onMessage(m.type === 'utf8' ? m.utf8Data : m.binaryData));
    raw.on('ping', (cancel, data) => events.emit('ping', data)); // not cancelled: answered
    raw.on('pong', (data) => events.emit('pong', data));
    raw.on('close', (code, reason) => events.emit('close', code, reason));
    raw.on('error', () => {});
    peer.sendText = (s) => raw.sendUTF(s);
    peer.sendBinary = (b) => raw.sendBytes(b);
    peer.sendFragments = (parts, binary) => parts.forEach((p, i) => {
      const f = new Frame(Buffer.alloc(4), Buffer.alloc(10), {});
      f.fin = i === parts.length - 1;
      f.opcode = i > 0 ? 0 : binary ? 2 : 1;
      f.binaryPayload = Buffer.from(p);
      raw.sendFrame(f);
    });
    peer.ping = (data) => raw.ping(data);
    peer.close = (code, reason) => raw.close(code, reason);
    peer.pauseReading = () => raw.pause();
    peer.resumeReading = () => raw.resume();
  }
  peer.nextMessage = () => (peer.received.length > peer._taken
    ? Promise.resolve(peer.received[peer._taken++])
    : next(events, 'message').then(() => peer.received[peer._taken++]));
  peer._taken = 0;
  return peer;
}

// A WebSocket server of `kind` ('ours': this project's, 'ws': a `ws` WebSocketServer, 'orig': the
// original `websocket` package's) on 127.0.0.1. Every upgrade request (Node's IncomingMessage)
// lands in `upgrades`; every accepted connection becomes a peer (wrapPeer), in `peers` and from
// `nextPeer()`. Options: `config` (server config, or `ws` options), `protocol(requested)` (the
// protocol to accept, default the first requested, false for none), `reject` ({status, reason}:
// refuse every request), `echo` (send every message back).
async function peerServer(kind, options) {
  const opts = options || {};
  const h = await listen();
  const port = h.address().port;
  const srv = { kind, h, port, url: 'ws://127.0.0.1:' + port + '/', upgrades: [], peers: [] };
  h.on('upgrade', (req) => srv.upgrades.push(req));
  const peerEvents = new EventEmitter();
  let taken = 0;
  const addPeer = (raw) => {
    srv.peers.push(wrapPeer(kind, raw, opts.echo));
    peerEvents.emit('peer');
  };
  srv.nextPeer = async () => {
    while (srv.peers.length <= taken) {
      await next(peerEvents, 'peer');
    }
    return srv.peers[taken++];
  };
  const choose = (requested) => (opts.protocol ? opts.protocol(requested) : requested[0]);
  if (kind === 'ws') {
    const wss = new WebSocket.Server(Object.assign({
      server: h,
      handleProtocols: (set) => choose(Array.from(set)) || false,
      verifyClient: opts.reject ? (info, cb) => cb(false, opts.reject.status, opts.reject.reason) : undefined,
    }, opts.config));
    wss.on('connection', addPeer);
    wss.on('error', () => {});
    srv.server = wss;
    defer(() => {
      wss.clients.forEach((c) => c.terminate());
      return new Promise((resolve) => wss.close(() => resolve()));
    });
  } else {
    const Server = kind === 'ours' ? require('..').server : orig.server;
    const wss = new Server(Object.assign({
      httpServer: h, maxReceivedFrameSize: 0x200000, maxReceivedMessageSize: 0x1000000,
    }, opts.config));
    if (!opts.noRequestHandler) {
      wss.on('request', (r) => {
        if (opts.reject) {
          r.reject(opts.reject.status, opts.reject.reason);
          return;
        }
        const p = r.requestedProtocols.length > 0 ? choose(r.requestedProtocols) : null;
        addPeer(r.accept(p || null, r.origin));
      });
    }
    srv.server = wss;
    defer(() => {
      wss.connections.slice().forEach((c) => c.drop(1001, 'test over', true));
      wss.unmount();
    });
  }
  return srv;
}

// One frame from the front of `buf`, masked or not: {fin, rsv, opcode, masked, key, payload
// (unmasked), used}, or null if incomplete.
function parseAnyFrame(buf) {
  if (buf.length < 2) {
    return null;
  }
  const masked = (buf[1] & 0x80) !== 0;
  const len7 = buf[1] & 0x7F;
  const lenBytes = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const off = 2 + lenBytes + (masked ? 4 : 0);
  if (buf.length < off) {
    return null;
  }
  const len = len7 === 126 ? buf.readUInt16BE(2) : len7 === 127 ? Number(buf.readBigUInt64BE(2)) : len7;
  if (buf.length < off + len) {
    return null;
  }
  const key = masked ? Buffer.from(buf.subarray(off - 4, off)) : null;
  const payload = Buffer.from(buf.subarray(off, off + len));
  if (masked) {
    for (let i = 0; i < payload.length; i++) {
      payload[i] ^= key[i & 3];
    }
  }
  return {
    fin: (buf[0] & 0x80) !== 0, rsv: (buf[0] >> 4) & 7, opcode: buf[0] & 0x0F, masked, key, payload, used: off + len,
  };
}

// An unmasked (server) frame.
function serverFrame(opcode, payload, fin) {
  payload = Buffer.from(payload);
  const n = payload.length;
  const header = Buffer.alloc(n < 126 ? 2 : n < 0x10000 ? 4 : 10);
  header[0] = (fin === false ? 0 : 0x80) | opcode;
  header[1] = n < 126 ? n : n < 0x10000 ? 126 : 127;
  if (header.length === 4) {
    header.writeUInt16BE(n, 2);
  } else if (header.length === 10) {
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([header, payload]);
}

// A bare TCP server that plays the server side of the handshake by hand. For each connection,
// once the request head has arrived, `onRequest(peer)` runs with peer = {socket, head (string),
// headers (lower-cased names), key, accept (the right Sec-WebSocket-Accept), nextFrame(),
// frames (every frame parsed after the head), send(opcode, payload, fin)}. `upgrade101(peer,
// extra)` writes a valid 101 with `extra` header lines. `options` go to net.createServer.
async function rawServer(onRequest, options) {
  const sockets = new Set();
  const server = net.createServer(options || {}, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const frames = new EventEmitter();
    const peer = { socket, frames: [], taken: 0 };
    let buf = Buffer.alloc(0);
    let headDone = false;
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!headDone) {
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) {
          return;
        }
        headDone = true;
        peer.head = buf.subarray(0, i).toString('latin1');
        buf = buf.subarray(i + 4);
        peer.headers = {};
        for (const line of peer.head.split('\r\n').slice(1)) {
          const c = line.indexOf(':');
          peer.headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
        }
        peer.key = peer.headers['sec-websocket-key'];
        peer.accept = peer.key ? acceptFor(peer.key) : undefined;
        onRequest(peer);
      }
      for (let f; (f = parseAnyFrame(buf)) !== null; buf = buf.subarray(f.used)) {
        peer.frames.push(f);
        frames.emit('frame');
      }
    });
    peer.nextFrame = async () => {
      while (peer.frames.length <= peer.taken) {
        await once(frames, 'frame');
      }
      return peer.frames[peer.taken++];
    };
    peer.send = (opcode, payload, fin) => socket.write(serverFrame(opcode, payload, fin));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(() => {
    sockets.forEach((s) => s.destroy());
    return new Promise((resolve) => server.close(() => resolve()));
  });
  const port = server.address().port;
  return { server, port, url: 'ws://127.0.0.1:' + port + '/' };
}

function upgrade101(peer, extra) {
  peer.socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Accept: ' + peer.accept + '\r\n' + (extra || []).map((l) => l + '\r\n').join('') + '\r\n');
}

// A port on 127.0.0.1 that nobody listens on (just released).
async function freePort() {
  const s = net.createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

// A WebSocketClient of `lib` (this project's by default) connecting with `args` (connect's
// arguments); resolves with its connection, rejects with the connectFailed error.
function clientConnect(args, config, lib) {
  const client = new (lib || require('..')).client(config);
  return new Promise((resolve, reject) => {
    client.once('connect', (c) => {
      defer(() => c.drop(1001, 'test over', true));
      resolve(c);
    });
    client.once('connectFailed', reject);
    client.connect(...args);
  });
}

// A WebSocketClient's connectFailed error; rejects if it connects.
function clientFails(args, config, lib) {
  const client = new (lib || require('..')).client(config);
  return new Promise((resolve, reject) => {
    client.once('connect', (c) => {
      c.drop();
      reject(new Error('connected'));
    });
    client.once('connectFailed', resolve);
    client.connect(...args);
  });
}

// An http.Agent that counts the connections it makes (to see that requestOptions.agent is used).
function countingAgent() {
  const http = require('http');
  const agent = new http.Agent();
  defer(() => agent.destroy());
  agent.used = 0;
  const create = agent.createConnection.bind(agent);
  agent.createConnection = (...args) => {
    agent.used++;
    return create(...args);
  };
  return agent;
}

Object.assign(module.exports, {
  countingAgent,
  SERVER_KINDS,
  wrapPeer,
  peerServer,
  parseAnyFrame,
  serverFrame,
  rawServer,
  upgrade101,
  freePort,
  clientConnect,
  clientFails,
});

// ---------------------------------------------------------------------------------------------
// Shared by the client, TLS and proxy tests.

// Runs `fn` and fails if anything reaches the process as an uncaught exception meanwhile, or
// within a few turns of the event loop after it.
async function nothingThrown(fn) {
  return withUncaught(async (caught) => {
    let thrown = null;
    caught.then((e) => { thrown = e; });
    const result = await fn();
    await sleep(50);
    assert.strictEqual(thrown, null, 'uncaught: ' + (thrown && thrown.stack));
    return result;
  });
}

// Closes `server` after the test, its open sockets (upgraded ones included) destroyed first.
function closeAfter(server) {
  const sockets = new Set();
  const track = (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  server.on('connection', track);
  server.on('secureConnection', track);
  server.on('tlsClientError', () => {});
  defer(() => {
    sockets.forEach((s) => s.destroy());
    return new Promise((resolve) => server.close(() => resolve()));
  });
}

const listening = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));

Object.assign(module.exports, { nothingThrown, closeAfter, listening });

// ---------------------------------------------------------------------------------------------
// Child processes that report on stdout, a line at a time.

// Collects `child`'s stdout lines. Returns { lines, line(prefix) }: `line` resolves with the
// rest of the first line starting with `prefix`, once there is one.
function childLines(child) {
  const lines = [];
  const waiters = [];
  let partial = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    partial += d;
    let i;
    while ((i = partial.indexOf('\n')) >= 0) {
      lines.push(partial.slice(0, i));
      partial = partial.slice(i + 1);
      waiters.splice(0).forEach((w) => w());
    }
  });
  const line = (prefix) => new Promise((resolve) => {
    const check = () => {
      const l = lines.find((x) => x.startsWith(prefix));
      if (l !== undefined) resolve(l.slice(prefix.length).trim());
      else waiters.push(check);
    };
    check();
  });
  return { lines, line };
}

Object.assign(module.exports, { childLines });
