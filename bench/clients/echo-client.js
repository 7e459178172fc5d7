'use strict';
// The client benchmark's client: opens --conns WebSocket connections to an echo server with one
// implementation's client API, keeps --inflight text messages in flight on each, and checks every
// echo. bench/run.js measures this process's CPU time (scenario client64, see bench/README.md).
//
//   node bench/clients/echo-client.js --impl websocket-rs|ws|websocket --url ws://127.0.0.1:P/
//        [--conns 50] [--inflight 32] [--size 64] [--warmup W] --messages N
//        [--ca FILE] (wss://: the PEM CA to trust) [--http2] (websocket-rs: every connection an
//        HTTP/2 stream, all of them on one session; bench/http2.js)
//   node bench/clients/echo-client.js --impl websocket-rs --check   (can a client be constructed?)
//
// stdout protocol (one JSON object per line):
//   1. opens every connection, runs W warm-up echoes (not measured: V8's JIT settles), then prints
//      {"connected": n, "warmup": W, "errors": e}
//   2. waits for a "go" line on stdin, runs N echoes (N messages in all, spread over the
//      connections, each keeping at most --inflight unanswered), then prints
//      {"messages": N, "seconds": s, "cpu_us": ..., "errors": e}
//      (cpu_us: process.cpuUsage() over the phase, a cross-check of the runner's /proc reading)
//   3. waits for a "close" line (or stdin's end), closes every connection with a closing
//      handshake, prints {"closed": n, "errors": e} and exits.
// websocket-rs and websocket run the very same code (same API).

const path = require('path');
const readline = require('readline');

function parseArgs(argv) {
  const o = { impl: null, url: null, conns: 50, inflight: 32, size: 64, warmup: 0, messages: null,
    check: false, ca: null, http2: false };
  const num = (v, name) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: not a count: ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--impl') o.impl = argv[++i];
    else if (a === '--url') o.url = argv[++i];
    else if (a === '--conns') o.conns = num(argv[++i], 'conns');
    else if (a === '--inflight') o.inflight = num(argv[++i], 'inflight');
    else if (a === '--size') o.size = num(argv[++i], 'size');
    else if (a === '--warmup') o.warmup = num(argv[++i], 'warmup');
    else if (a === '--messages') o.messages = num(argv[++i], 'messages');
    else if (a === '--check') o.check = true;
    else if (a === '--ca') o.ca = require('fs').readFileSync(argv[++i]);
    else if (a === '--http2') o.http2 = true;
    else throw new Error('unknown argument ' + a);
  }
  if (!['websocket-rs', 'ws', 'websocket'].includes(o.impl)) {
    throw new Error('--impl must be websocket-rs, ws or websocket');
  }
  if (o.http2 && o.impl !== 'websocket-rs') throw new Error('--http2: websocket-rs only');
  if (!o.check) {
    if (!o.url) throw new Error('--url is required');
    if (o.messages === null) throw new Error('--messages is required');
    if (o.conns < 1 || o.inflight < 1) throw new Error('--conns and --inflight must be at least 1');
  }
  return o;
}

// The same text as the loadgen's (bench/loadgen/src/main.rs, make_payload): ASCII, so the
// size in bytes is the size in characters.
function makePayload(size) {
  const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-';
  let s = '';
  for (let i = 0; i < size; i++) s += ALPHA[(i * 7 + Math.floor(i / ALPHA.length)) % ALPHA.length];
  return s;
}

// ------------------------------------------------------------------------------------------------
// one adapter per API: open(url, payload, handlers, options) resolves with { send(), close() }; handlers are
// onEcho(ok), onClose(), onError(err)

function webSocketNodeApi(impl) {
  // websocket-rs is the repository this bench/ directory lives in
  return impl === 'websocket' ? require('websocket') : require(path.join(__dirname, '..', '..'));
}

function openWebSocketNode(api, url, payload, h, o) {
  return new Promise((resolve, reject) => {
    const client = new api.client(o.ca ? { tlsOptions: { ca: o.ca } } : undefined);
    client.on('connectFailed', (err) => reject(new Error('connectFailed: ' + String(err))));
    client.on('connect', (connection) => {
      connection.on('message', (message) => {
        h.onEcho(message.type === 'utf8' && message.utf8Data === payload);
      });
      connection.on('error', (err) => h.onError(err));
      connection.on('close', () => h.onClose());
      resolve({
        send: () => connection.sendUTF(payload),
        close: () => connection.close(),
      });
    });
    client.connect(url, null, null, null, o.http2 ? { http2: true } : undefined);
  });
}

function openWs(WebSocket, url, payload, h, o) {
  const expected = Buffer.from(payload);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, o.ca ? { ca: o.ca } : undefined);
    let open = false;
    ws.on('open', () => {
      open = true;
      resolve({
        send: () => ws.send(payload),
        close: () => ws.close(),
      });
    });
    ws.on('message', (data, isBinary) => h.onEcho(!isBinary && expected.equals(data)));
    ws.on('error', (err) => (open ? h.onError(err) : reject(err)));
    ws.on('close', () => h.onClose());
  });
}

function opener(impl) {
  if (impl === 'ws') {
    const { WebSocket } = require('ws');
    return (url, payload, h, o) => openWs(WebSocket, url, payload, h, o);
  }
  const api = webSocketNodeApi(impl);
  return (url, payload, h, o) => openWebSocketNode(api, url, payload, h, o);
}

// ------------------------------------------------------------------------------------------------

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.check) {
    try {
      if (o.impl === 'ws') require('ws');
      else new (webSocketNodeApi(o.impl).client)();
      process.stdout.write('OK\n');
    } catch (e) {
      process.stdout.write('ERROR ' + String((e && e.message) || e).replace(/\s+/g, ' ') + '\n');
      process.exitCode = 3;
    }
    return;
  }

  // stdin lines, in order
  const lines = [];
  const lineWaiters = [];
  let stdinEnded = false;
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (l) => {
    lines.push(l.trim());
    for (const w of lineWaiters.splice(0)) w();
  });
  rl.on('close', () => {
    stdinEnded = true;
    for (const w of lineWaiters.splice(0)) w();
  });
  const nextLine = async () => {
    while (lines.length === 0 && !stdinEnded) await new Promise((r) => lineWaiters.push(r));
    return lines.length ? lines.shift() : null;
  };

  const payload = makePayload(o.size);
  const open = opener(o.impl);
  let errors = 0;
  let firstError = null;
  const fail = (msg) => {
    errors++;
    if (firstError === null) firstError = msg;
  };

  // The echo loop. Every connection keeps up to `inflight` messages unanswered; each echo that
  // arrives is checked and, while the phase's budget lasts, answered with the next message.
  let phase = null; // { budget, received, target, done }
  const conns = [];
  const connect = (i) => {
    const c = { i, api: null, outstanding: 0, open: false, closed: null };
    const h = {
      onEcho(ok) {
        if (!ok) fail(`connection ${i}: an echo differs from the message sent`);
        const p = phase;
        if (p === null || c.outstanding === 0) {
          fail(`connection ${i}: an echo nobody asked for`);
          return;
        }
        c.outstanding--;
        p.received++;
        if (p.budget > 0) {
          p.budget--;
          c.outstanding++;
          c.api.send();
        }
        if (p.received === p.target) p.done();
      },
      onError(err) {
        fail(`connection ${i}: ${(err && err.message) || err}`);
      },
      onClose() {
        const wasOpen = c.open;
        c.open = false;
        if (c.closed) c.closed();
        else if (wasOpen) {
          fail(`connection ${i} closed during the run`);
          if (phase) phase.abort();
        }
      },
    };
    return open(o.url, payload, h, o).then((api) => {
      c.api = api;
      c.open = true;
      conns.push(c);
    }, (err) => fail(`connection ${i}: ${err.message}`));
  };

  const run = (n) => new Promise((resolve) => {
    const p = { budget: n, received: 0, target: n };
    const finish = () => {
      phase = null;
      resolve(p.received);
    };
    p.done = finish;
    p.abort = finish;
    phase = p;
    if (n === 0) {
      finish();
      return;
    }
    for (const c of conns) {
      const k = Math.min(o.inflight, p.budget);
      p.budget -= k;
      c.outstanding += k;
      for (let j = 0; j < k; j++) c.api.send();
    }
  });

  const pending = [];
  for (let i = 0; i < o.conns; i++) pending.push(connect(i));
  await Promise.all(pending);
  if (conns.length === 0) {
    out({ connected: 0, warmup: 0, errors, first_error: firstError });
    process.exit(1);
  }
  let warmed = 0;
  if (errors === 0 && o.warmup > 0) warmed = await run(o.warmup);
  out({ connected: conns.length, warmup: warmed, errors,
    ...(firstError ? { first_error: firstError } : {}) });

  const go = await nextLine();
  if (go !== 'go') process.exit(go === null ? 0 : 2);

  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const received = errors === 0 ? await run(o.messages) : 0;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  if (received !== o.messages && errors === 0) fail(`only ${received} of ${o.messages} echoes`);
  out({ messages: received, seconds, cpu_us: cpu.user + cpu.system, errors,
    ...(firstError ? { first_error: firstError } : {}) });

  await nextLine(); // "close", or the end of stdin
  const errorsBefore = errors;
  const closing = conns.filter((c) => c.open).map((c) => new Promise((resolve) => {
    const t = setTimeout(() => {
      fail(`connection ${c.i}: closing handshake timed out`);
      resolve(false);
    }, 5000);
    c.closed = () => {
      clearTimeout(t);
      resolve(true);
    };
    c.api.close();
  }));
  const closed = (await Promise.all(closing)).filter(Boolean).length;
  out({ closed, errors: errors - errorsBefore, ...(firstError ? { first_error: firstError } : {}) });
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write('echo-client: ' + ((e && e.stack) || e) + '\n');
  process.exit(1);
});
