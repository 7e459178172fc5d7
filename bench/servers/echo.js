'use strict';
// The benchmark's echo server: one http.Server on 127.0.0.1 with a WebSocket server mounted on it,
// echoing every message back with the same type (or, with --mode fanout, broadcasting every
// message to all its connections, the sender's included). --impl uws is the exception: a
// uWebSockets.js App with its own listener and HTTP parser (no http.Server), see mountUws.
//
//   node bench/servers/echo.js --impl websocket-rs|ws|websocket|uws --port P   (P = 0: any free port)
//   node bench/servers/echo.js --impl websocket-rs --check                 (can it be constructed?)
//   --exit-on-stdin-eof: also exit when stdin closes (bench/run.js uses it so that no server
//   outlives a runner that was killed)
//   --tls-key FILE --tls-cert FILE: an https.Server with this PEM key and certificate instead
//   (wss://); everything else is the same
//   --http2 (with --tls-key/--tls-cert; websocket-rs only): an http2.createSecureServer with
//   allowHTTP1 instead, so WebSockets come as HTTP/2 extended CONNECT streams (RFC 8441) or as
//   HTTP/1.1 upgrades, whichever the client uses (bench/http2.js)
//   --mode echo|fanout (default echo). fanout: websocket-rs and websocket call
//   wsServer.broadcastUTF(message.utf8Data) (broadcastBytes for binary) on every message
//   (websocket-rs: one native call for all connections; websocket: a JS loop of sendUTF);
//   ws runs the broadcast loop of its README over wss.clients (send to every OPEN client)
//   --mode topics: the same fan-out through topics: websocket-rs subscribes every connection to
//   one topic and calls wsServer.publish(topic, data) on every message (one native call); ws
//   loops over the topic's subscribers (a Set of sockets, the pattern ws users write);
//   websocket has no topics and uses broadcastUTF as in fanout
//   --redis URL (with --mode topics): the topic also spans processes through Redis. websocket-rs:
//   the `pubsub` option (publishes cross in Rust); ws and websocket: what their users write
//   today, ioredis: a subscriber connection on the topic's channel and a publisher, every
//   message sent to the local clients in a JS loop and PUBLISHed with an 8-byte origin id so a
//   process skips its own
//   --deflate: permessage-deflate on, with every default: `perMessageDeflate: true` for
//   websocket-rs and ws (their defaults: threshold 1024 B, context takeover both ways; level 4
//   for websocket-rs, 6 for ws); websocket
//   (WebSocket-Node) has no compression and refuses the flag
//   --max-message N: the largest message (and frame) accepted, in bytes (default 64 MiB):
//   maxReceivedMessageSize and maxReceivedFrameSize for websocket-rs and websocket, maxPayload
//   for ws; over it the connection is closed with 1009. uws: maxPayloadLength; over it uWS closes
//   the TCP connection without a close frame
//   --impl uws: uWebSockets.js (the package @trufflesuite/uws-js-unofficial, its native binary
//   loaded directly, never the package's ws-based fallback); echo and fanout/topics (every
//   connection subscribed to one topic, app.publish on every message); --tls-key/--tls-cert,
//   --redis and --deflate are refused (see parseArgs)
//
// Prints `READY <port>` once listening; exits with code 0 on SIGTERM or SIGINT.
// websocket-rs and websocket share one code path: same API, same options.

const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');

const MAX = 64 * 1024 * 1024;

function parseArgs(argv) {
  const out = { impl: null, port: 0, check: false, exitOnStdinEof: false, tlsKey: null, tlsCert: null,
    mode: 'echo', redis: null, deflate: false, maxMessage: MAX, http2: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--impl') out.impl = argv[++i];
    else if (a === '--port') out.port = Number(argv[++i]);
    else if (a === '--check') out.check = true;
    else if (a === '--exit-on-stdin-eof') out.exitOnStdinEof = true;
    else if (a === '--tls-key') out.tlsKey = argv[++i];
    else if (a === '--redis') out.redis = argv[++i];
    else if (a === '--tls-cert') out.tlsCert = argv[++i];
    else if (a === '--mode') out.mode = argv[++i];
    else if (a === '--deflate') out.deflate = true;
    else if (a === '--http2') out.http2 = true;
    else if (a === '--max-message') out.maxMessage = Number(argv[++i]);
    else throw new Error('unknown argument ' + a);
  }
  if (!['websocket-rs', 'ws', 'websocket', 'uws'].includes(out.impl)) {
    throw new Error('--impl must be websocket-rs, ws, websocket or uws');
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) throw new Error('bad --port');
  if (!out.tlsKey !== !out.tlsCert) throw new Error('--tls-key and --tls-cert go together');
  if (out.http2 && (out.impl !== 'websocket-rs' || !out.tlsKey)) {
    throw new Error('--http2: websocket-rs only (the others have no HTTP/2 WebSockets), with --tls-key/--tls-cert');
  }
  if (!['echo', 'fanout', 'topics'].includes(out.mode)) throw new Error('--mode must be echo, fanout or topics');
  if (out.deflate && out.impl === 'websocket') {
    throw new Error('--deflate: websocket (WebSocket-Node) has no permessage-deflate');
  }
  if (!Number.isInteger(out.maxMessage) || out.maxMessage < 1) throw new Error('bad --max-message');
  if (out.impl === 'uws') {
    // what the other servers do here has no like-for-like counterpart in this uws server
    if (out.tlsKey) {
      throw new Error('--tls-key/--tls-cert: not with uws (the others run Node\'s https.Server; ' +
        'uWS.SSLApp would be its own TLS stack, not wired up here)');
    }
    if (out.redis) throw new Error('--redis: not with uws (no cross-process pub/sub here)');
    if (out.deflate) {
      throw new Error('--deflate: not with uws (its compression options are not perMessageDeflate: true\'s ' +
        'defaults; not wired up here)');
    }
    if (out.maxMessage > 0xffffffff) throw new Error('--max-message: uws takes at most 2^32 - 1');
  }
  return out;
}

function loadWebSocketNodeApi(impl) {
  // websocket-rs is the repository this bench/ directory lives in
  return impl === 'websocket' ? require('websocket') : require(path.join(__dirname, '..', '..'));
}

// The ioredis pattern of ws and websocket users for a topic across processes (--redis): returns
// { publish(data, isBinary) } after the subscription is active; messages from other processes go
// to `deliver(data, isBinary)`.
async function ioredisTopic(url, deliver) {
  const Redis = require('ioredis');
  const crypto = require('crypto');
  const origin = crypto.randomBytes(8);
  const pub = new Redis(url);
  const sub = new Redis(url);
  sub.on('messageBuffer', (channel, message) => {
    if (message.subarray(0, 8).equals(origin)) return;
    deliver(message.subarray(9), message[8] === 1);
  });
  await sub.subscribe(TOPIC_CHANNEL);
  return {
    publish(data, isBinary) {
      const body = Buffer.isBuffer(data) ? data : Buffer.from(data);
      pub.publish(TOPIC_CHANNEL, Buffer.concat([origin, Buffer.from([isBinary ? 1 : 0]), body]));
    },
  };
}
const TOPIC_CHANNEL = 'bench:room';

function mountWs(httpServer, mode, redis, opts) {
  const { WebSocketServer, WebSocket } = require('ws');
  const wss = new WebSocketServer({ server: httpServer, maxPayload: opts.maxMessage,
    perMessageDeflate: opts.deflate });
  const room = new Set(); // --mode topics: the one topic's subscribers
  const local = (data, isBinary) => {
    for (const client of room) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  };
  let remote = null;
  if (mode === 'topics' && redis) {
    wss.ready = ioredisTopic(redis, local).then((r) => (remote = r));
  }
  wss.on('connection', (ws) => {
    if (mode === 'topics') {
      room.add(ws);
      ws.on('close', () => room.delete(ws));
      ws.on('message', (data, isBinary) => {
        local(data, isBinary);
        if (remote) remote.publish(data, isBinary);
      });
    } else if (mode === 'fanout') {
      // ws's own broadcast example (README, "Server broadcast")
      ws.on('message', (data, isBinary) => {
        wss.clients.forEach((client) => {
          if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
        });
      });
    } else {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    }
    ws.on('error', () => {});
  });
  return wss;
}

// uWebSockets.js's native binary, loaded directly. The package's main file (src/uws.js) falls back
// silently (a warning on stderr) to a JavaScript implementation on top of ws when the binary does
// not load; that would measure ws under another name, so a binary that does not load is an error.
function loadUws() {
  let dir;
  try {
    dir = path.dirname(require.resolve('@trufflesuite/uws-js-unofficial/package.json'));
  } catch (_) {
    throw new Error('uws not available: @trufflesuite/uws-js-unofficial is not installed (npm install)');
  }
  const file = path.join(dir, 'binaries',
    `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  try {
    return require(file);
  } catch (e) {
    throw new Error(`uws not available: cannot load ${path.basename(file)}: ${e.message}`);
  }
}

// uws: a uWS.App with its own listener (its own HTTP parser; no http.Server). Returns
// { listen(port, cb(port)), stop() }.
function mountUws(mode, opts) {
  const uWS = loadUws();
  const app = uWS.App();
  const TOPIC = 'room';
  const behavior = {
    compression: uWS.DISABLED,
    maxPayloadLength: opts.maxMessage,
    // 0: no idle timeout, so no automatic pings and nothing closed during the idle scenario
    idleTimeout: 0,
    // uWS drops a send (or a publish to a subscriber) once a socket has more than maxBackpressure
    // bytes buffered (default 64 KiB); the other servers buffer without limit, so this one does too
    // in practice (a dropped message would fail the loadgen's checks anyway)
    maxBackpressure: 1024 * 1024 * 1024,
    closeOnBackpressureLimit: false,
  };
  if (mode === 'fanout' || mode === 'topics') {
    // every connection subscribes to one topic and every message is published to it with the
    // app-level publish, which reaches every subscriber, the sender included (what the other
    // servers' broadcast does); ws.publish(topic, ...) would skip the sender. topics is the same
    // as fanout here: uWS's broadcast is its pub/sub.
    behavior.open = (ws) => {
      ws.subscribe(TOPIC);
    };
    behavior.message = (ws, message, isBinary) => {
      app.publish(TOPIC, message, isBinary);
    };
  } else {
    // the message is an ArrayBuffer valid during the call; echoed with the same type
    behavior.message = (ws, message, isBinary) => {
      ws.send(message, isBinary);
    };
  }
  app.ws('/*', behavior);
  app.any('/*', (res) => {
    res.writeStatus('404 Not Found').end();
  });
  let listenSocket = null;
  return {
    listen(port, cb) {
      app.listen('127.0.0.1', port, (token) => {
        if (!token) {
          process.stderr.write(`echo server: uws cannot listen on 127.0.0.1:${port}\n`);
          process.exit(1);
        }
        listenSocket = token;
        cb(uWS.us_socket_local_port(token));
      });
    },
    stop() {
      if (listenSocket) uWS.us_listen_socket_close(listenSocket);
      listenSocket = null;
      // closes every socket of the app (forcefully, no closing handshake, as the other servers'
      // exit does)
      if (typeof app.close === 'function') app.close();
    },
  };
}

function mountWebSocketNode(impl, httpServer, mode, redis, opts) {
  const WebSocketServer = loadWebSocketNodeApi(impl).server;
  const native = impl === 'websocket-rs';
  const config = {
    httpServer,
    maxReceivedFrameSize: opts.maxMessage,
    maxReceivedMessageSize: opts.maxMessage,
    keepalive: false,
    pubsub: native && mode === 'topics' && redis ? { redis, prefix: 'bench:' } : undefined,
  };
  if (opts.deflate) config.perMessageDeflate = true; // websocket-rs only (see parseArgs)
  const wss = new WebSocketServer(config);
  let remote = null;
  if (mode === 'topics' && redis) {
    if (native) {
      wss.ready = new Promise((resolve) => wss.once('pubsubReady', resolve));
    } else {
      const local = (data, isBinary) => (isBinary ? wss.broadcastBytes(data) : wss.broadcastUTF(data.toString()));
      wss.ready = ioredisTopic(redis, local).then((r) => (remote = r));
    }
  }
  wss.on('request', (request) => {
    const conn = request.accept(null, request.origin);
    if (mode === 'topics' && !native && redis) {
      conn.on('message', (message) => {
        if (message.type === 'utf8') wss.broadcastUTF(message.utf8Data);
        else wss.broadcastBytes(message.binaryData);
        if (remote) remote.publish(message.type === 'utf8' ? message.utf8Data : message.binaryData, message.type !== 'utf8');
      });
    } else if (mode === 'topics' && typeof conn.subscribe === 'function') {
      conn.subscribe('room');
      conn.on('message', (message) => {
        wss.publish('room', message.type === 'utf8' ? message.utf8Data : message.binaryData);
      });
    } else if (mode === 'fanout' || mode === 'topics') {
      conn.on('message', (message) => {
        if (message.type === 'utf8') wss.broadcastUTF(message.utf8Data);
        else wss.broadcastBytes(message.binaryData);
      });
    } else {
      conn.on('message', (message) => {
        if (message.type === 'utf8') conn.sendUTF(message.utf8Data);
        else conn.sendBytes(message.binaryData);
      });
    }
    conn.on('error', () => {});
  });
  return wss;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.impl === 'uws') {
    mainUws(opts);
    return;
  }
  const notFound = (req, res) => {
    res.writeHead(404);
    res.end();
  };
  const httpServer = opts.http2
    ? require('http2').createSecureServer({ key: fs.readFileSync(opts.tlsKey), cert: fs.readFileSync(opts.tlsCert),
      allowHTTP1: true }, notFound)
    : opts.tlsKey
    ? https.createServer({ key: fs.readFileSync(opts.tlsKey), cert: fs.readFileSync(opts.tlsCert) }, notFound)
    : http.createServer(notFound);

  if (opts.check) {
    // exit 0 if the implementation's server can be constructed and mounted, else print why
    try {
      if (opts.impl === 'ws') mountWs(httpServer, opts.mode, null, opts);
      else mountWebSocketNode(opts.impl, httpServer, opts.mode, null, opts);
      process.stdout.write('OK\n');
      process.exit(0);
    } catch (e) {
      process.stdout.write('ERROR ' + String((e && e.message) || e).replace(/\s+/g, ' ') + '\n');
      process.exit(3);
    }
  }

  const wss = opts.impl === 'ws'
    ? mountWs(httpServer, opts.mode, opts.redis, opts)
    : mountWebSocketNode(opts.impl, httpServer, opts.mode, opts.redis, opts);

  const stop = () => {
    // The runner is done with us. No closing handshakes (10,000 of them would only delay the
    // next measurement): stop listening and exit; the kernel closes the sockets.
    httpServer.close();
    process.exit(0);
  };
  handleSignalsAndStdin(opts, stop);

  httpServer.on('error', (e) => {
    process.stderr.write('echo server: ' + e.message + '\n');
    process.exit(1);
  });
  // with --redis, READY waits until this process is connected to Redis
  Promise.resolve(wss.ready).then(() => {
    httpServer.listen(opts.port, '127.0.0.1', () => {
      process.stdout.write('READY ' + httpServer.address().port + '\n');
    });
  });
}

// --impl uws: no http.Server; the same --check, signals, stdin protocol and READY line.
function mainUws(opts) {
  if (opts.check) {
    try {
      mountUws(opts.mode, opts).stop();
      process.stdout.write('OK\n');
      process.exit(0);
    } catch (e) {
      process.stdout.write('ERROR ' + String((e && e.message) || e).replace(/\s+/g, ' ') + '\n');
      process.exit(3);
    }
  }
  const server = mountUws(opts.mode, opts);
  handleSignalsAndStdin(opts, () => {
    server.stop();
    process.exit(0);
  });
  server.listen(opts.port, (port) => {
    process.stdout.write('READY ' + port + '\n');
  });
}

// Exit on SIGTERM/SIGINT, and with --exit-on-stdin-eof at the end of stdin; "gc" on stdin.
function handleSignalsAndStdin(opts, stop) {
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (opts.exitOnStdinEof) {
    // started by bench/run.js: if the runner dies without a word, do not outlive it
    process.stdin.on('end', stop);
    process.stdin.on('error', stop);
    // "gc" on stdin: run a full garbage collection (node --expose-gc) and say when done, so
    // that memory is measured as what the connections hold, not as garbage awaiting collection.
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (text) => {
      if (text.split('\n').includes('gc')) {
        if (typeof global.gc === 'function') {
          global.gc();
          global.gc();
        }
        process.stdout.write('GC-DONE\n');
      }
    });
    process.stdin.resume();
  }
}

main();
