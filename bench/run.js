#!/usr/bin/env node
'use strict';
// The websocket-rs benchmark: the same echo job on websocket-rs, ws and websocket (WebSocket-Node
// 1.0.35) servers, and uWebSockets.js (uws) as a reference, in one run, each server pinned to one
// core and driven by bench/loadgen pinned to another. Reports server CPU-µs per operation and RSS per idle connection, and each figure as a
// ratio to ws measured in the same run. The client scenario turns it around: each implementation's
// client (bench/clients/echo-client.js) on the first core against one fixed Rust echo server
// (`loadgen serve`) on the second, client CPU-µs per message. Two variants of the small echo:
// websocket-rs with every socket forced through its bridged transport (echo64-bridge), and all
// three over TLS (echo64-tls: https.Server, wss://, certificates made for the run). The fan-out
// scenario: one sender and 100 receivers, the server broadcasting every message to all its
// connections; server CPU-µs per delivered message. The deflate scenarios compare websocket-rs and
// ws with permessage-deflate on (websocket has none): small echoes with the extension agreed,
// 1 KiB JSON echoes compressed both ways (CPU and compressed size), RSS per idle connection after
// one compressed message, and a decompression bomb against a 1 MiB limit (peak RSS growth). Every
// run also draws the ratios as an SVG bar chart (bench/results/<timestamp>.svg and
// bench/chart.svg). uws (uWebSockets.js, @trufflesuite/uws-js-unofficial) runs the server
// scenarios it has a like-for-like setup for; its TLS, Redis, deflate and client cells are skipped
// (UWS_SKIPS), and all of them if the package is missing or does not load. See bench/README.md.
//
//   npm run bench                 full run (~10 min)
//   npm run bench -- --quick      short run (< 2 min)
//   options: --impl websocket-rs,ws,websocket,uws
//            --scenario echo64,echo64-bridge,echo64-tls,echo1m,fanout,topics,topics-redis,handshakes,idle,
//                       client64,deflate64,deflate-json,deflate-idle,deflate-bomb
//            --rounds K: run every cell K times, the implementations interleaved (a different
//            order each round), and report each cell's median: on a shared machine one cell can
//            land on a noisy minute that its neighbours missed
//            --help

const { spawn, execFileSync } = require('child_process');
const { renderChart } = require('./chart');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const ECHO_JS = path.join(__dirname, 'servers', 'echo.js');
const CLIENT_JS = path.join(__dirname, 'clients', 'echo-client.js');
const LOADGEN_DIR = path.join(__dirname, 'loadgen');
const LOADGEN = path.join(LOADGEN_DIR, 'target', 'release', 'loadgen');
const RESULTS_DIR = path.join(__dirname, 'results');
const CERTS_JS = path.join(ROOT, '__test__', 'certs.js');
const CHART_SVG = path.join(__dirname, 'chart.svg');
const IMPLS = ['websocket-rs', 'ws', 'websocket', 'uws'];
const BASELINE = 'ws';
const MiB = 1024 * 1024;
const SCENARIO_IDS = 'echo64,echo64-bridge,echo64-tls,echo1m,fanout,topics,topics-redis,handshakes,idle,client64,' +
  'deflate64,deflate-json,deflate-idle,deflate-bomb';
// the deflate scenarios: websocket (WebSocket-Node) has no permessage-deflate
const DEFLATE_IMPLS = ['websocket-rs', 'ws'];
const NO_DEFLATE = 'websocket (WebSocket-Node) has no permessage-deflate';
// uws (uWebSockets.js) runs the plain server scenarios only: what it skips, and why
const UWS_PACKAGE = '@trufflesuite/uws-js-unofficial';
const UWS_SKIPS = {
  tls: 'uws: the others run Node\'s https.Server; uWS.SSLApp is its own TLS stack (not wired up)',
  redis: 'uws: no cross-process pub/sub in this server',
  deflate: 'uws: its compression options are not perMessageDeflate: true (not wired up)',
  client: 'uws: uWebSockets.js has no WebSocket client',
};

// Why `impl` does not run scenario `sc` at all (a `skipped` cell), or null.
function skipReason(impl, sc) {
  if (impl === 'uws') {
    if (sc.kind === 'client') return UWS_SKIPS.client;
    if (sc.tls) return UWS_SKIPS.tls;
    if (sc.redis) return UWS_SKIPS.redis;
    if (sc.deflate) return UWS_SKIPS.deflate;
  }
  if (sc.impls && !sc.impls.includes(impl)) return NO_DEFLATE;
  return null;
}

// ------------------------------------------------------------------------------------------------
// arguments

function parseArgs(argv) {
  const opts = { quick: false, impls: IMPLS.slice(), scenarios: null, rounds: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') opts.quick = true;
    else if (a === '--impl') opts.impls = argv[++i].split(',').filter(Boolean);
    else if (a === '--scenario') opts.scenarios = argv[++i].split(',').filter(Boolean);
    else if (a === '--rounds') {
      opts.rounds = Number(argv[++i]);
      if (!Number.isInteger(opts.rounds) || opts.rounds < 1 || opts.rounds > 9) {
        console.error('--rounds takes 1 to 9');
        process.exit(2);
      }
    } else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/run.js [--quick] [--impl websocket-rs,ws,websocket,uws] ' +
        `[--scenario ${SCENARIO_IDS}] [--rounds K]`);
      process.exit(0);
    } else {
      console.error('unknown argument: ' + a);
      process.exit(2);
    }
  }
  for (const i of opts.impls) {
    if (!IMPLS.includes(i)) {
      console.error('unknown implementation: ' + i);
      process.exit(2);
    }
  }
  opts.impls = IMPLS.filter((i) => opts.impls.includes(i)); // keep the canonical order
  return opts;
}

// Sizes. Quick: a few seconds per cell; full: enough to drown the noise of a shared machine.
function scenarioList(quick) {
  const echo64Params = () => ({ conns: 50, inflight: 32, size: 64, kind: 'text',
    warmup: quick ? 100000 : 300000, messages: quick ? 500000 : 3000000 });
  return [
    {
      id: 'echo64',
      title: 'echo 64 B text',
      desc: '50 connections x 32 in flight, 64-byte text messages echoed',
      metric: 'CPU-µs/msg',
      kind: 'echo',
      saturates: true, // 1,600 messages in flight keep any of these servers' core busy
      params: echo64Params(),
      timeoutMs: quick ? 30000 : 150000,
    },
    {
      // websocket-rs's bridged transport (Node keeps the socket, feeds the Rust core; what TLS
      // and other non-TCP sockets use) on plain TCP, against the same ws and websocket cells
      id: 'echo64-bridge',
      title: 'echo 64 B text, forced bridge (websocket-rs)',
      desc: 'echo64 with the websocket-rs server started with WEBSOCKET_RS_FORCE_BRIDGE=1 ' +
        '(every socket bridged); ws and websocket as in echo64',
      metric: 'CPU-µs/msg',
      kind: 'echo',
      saturates: true,
      serverEnv: { 'websocket-rs': { WEBSOCKET_RS_FORCE_BRIDGE: '1' } },
      params: echo64Params(),
      timeoutMs: quick ? 30000 : 150000,
    },
    {
      id: 'echo64-tls',
      title: 'echo 64 B text, TLS (wss://)',
      desc: 'echo64 over TLS: the echo server is an https.Server (CA-signed P-256 certificate made ' +
        'for the run), the loadgen connects with wss:// (rustls, TLS 1.3)',
      metric: 'CPU-µs/msg',
      kind: 'echo',
      saturates: true,
      tls: true,
      params: echo64Params(),
      timeoutMs: quick ? 30000 : 150000,
    },
    {
      id: 'echo1m',
      title: 'echo 1 MiB binary',
      desc: '4 connections x 1 in flight, 1 MiB binary messages echoed',
      metric: 'CPU-µs/msg',
      kind: 'echo',
      params: { conns: 4, inflight: 1, size: MiB, kind: 'binary',
        warmup: quick ? 100 : 300, messages: quick ? 1500 : 6000 },
      timeoutMs: quick ? 30000 : 150000,
    },
    {
      // one sender, 100 receivers, the server broadcasting every message to all 101 connections
      // (the sender's too): the loadgen checks that each connection gets every message once, in
      // order; a message counts as delivered when all 101 have it
      id: 'fanout',
      title: 'fan-out 64 B text (101 conns)',
      desc: '1 sender + 100 receivers; the server broadcasts every message to all 101 connections ' +
        '(broadcastUTF / ws clients loop); sender keeps 16 messages undelivered; per delivery',
      metric: 'CPU-µs/delivery',
      kind: 'fanout',
      // not `saturates`: with 16 messages in flight the sender waits for each window to reach all
      // 101 connections, and a server that answers a window in one write per connection
      // (websocket-rs) idles part of each round trip; the figure is CPU per delivery regardless
      saturates: false,
      params: { receivers: 100, inflight: 16, size: 64,
        warmup: quick ? 1000 : 2000, messages: quick ? 4000 : 15000 },
      timeoutMs: quick ? 30000 : 90000,
    },
    {
      // the fan-out above through topics: every connection subscribes to one topic and the
      // server publishes each message to it (websocket-rs: server.publish, one native call; ws:
      // a loop over the topic's Set of sockets; websocket has no topics: broadcastUTF)
      id: 'topics',
      title: 'topic fan-out 64 B (101 subs)',
      desc: '1 publisher + 100 subscribers of one topic; every message published to all 101 ' +
        '(server.publish / ws loop over a Set); sender keeps 16 undelivered; per delivery',
      metric: 'CPU-µs/delivery',
      kind: 'fanout',
      mode: 'topics',
      saturates: false,
      params: { receivers: 100, inflight: 16, size: 64,
        warmup: quick ? 1000 : 2000, messages: quick ? 4000 : 15000 },
      timeoutMs: quick ? 30000 : 90000,
    },
    {
      // one topic across two server processes through Redis: 100 subscribers on each, the
      // publisher on the first; every message reaches 101 connections locally and 100 through
      // Redis. websocket-rs: the pubsub option (cross-process delivery in Rust); ws and
      // websocket: the ioredis pattern their users write (bench/servers/echo.js --redis). CPU of
      // both server processes, per delivery. Needs redis-server (skipped without it).
      id: 'topics-redis',
      title: 'topics via Redis, 2 procs (201 subs)',
      desc: '2 server processes x 100 subscribers of one topic + 1 publisher, joined by Redis ' +
        '(pubsub option / ws or websocket + ioredis); CPU of both servers per delivery',
      metric: 'CPU-µs/delivery',
      kind: 'fanout',
      mode: 'topics',
      redis: true,
      saturates: false,
      params: { receivers: 100, receivers2: 100, inflight: 16, size: 64,
        warmup: quick ? 500 : 1000, messages: quick ? 2000 : 8000 },
      timeoutMs: quick ? 45000 : 120000,
    },
    {
      id: 'handshakes',
      title: 'handshakes',
      desc: 'connect, upgrade, close (1000), 50 at a time',
      metric: 'CPU-µs/handshake',
      kind: 'handshakes',
      // V8 needs ~3,000 handshakes before the per-handshake cost settles (measured: 400 -> 170 µs)
      params: { warmup: 3000, count: quick ? 3000 : 15000, concurrency: 50 },
      timeoutMs: quick ? 30000 : 120000,
    },
    {
      // RSS read at two counts, K = 10,000 and N = 20,000 (2,500 and 5,000 quick): the loadgen
      // pauses at K (--pause-at). Three rows: the average at K (the figure of earlier runs), the
      // average at N, and the slope between them, which leaves out what is paid once
      id: 'idle',
      title: quick ? 'idle connections (2,500)' : 'idle connections (10,000)',
      desc: 'RSS after opening K idle connections minus before, divided by K',
      metric: 'KB/conn',
      kind: 'idle',
      valueAtPause: true, // the row's figure is the average at K (pauseAt), not at N
      params: { conns: quick ? 5000 : 20000, pauseAt: quick ? 2500 : 10000, warmup: 2000, batch: 100 },
      extraRows: [
        { id: 'idle-all', title: quick ? 'idle connections (5,000)' : 'idle connections (20,000)',
          metric: 'KB/conn', field: 'avgKBPerConn',
          desc: 'RSS after opening N idle connections minus before, divided by N (same run as idle)' },
        { id: 'idle-slope', title: 'idle connections: slope',
          metric: quick ? 'KB/conn (2.5k→5k)' : 'KB/conn (10k→20k)', field: 'slopeKBPerConn',
          desc: '(RSS at N - RSS at K) / (N - K), same readings as idle' },
      ],
      timeoutMs: quick ? 45000 : 150000,
    },
    {
      id: 'client64',
      title: 'client echo 64 B text',
      desc: 'the implementation as a client: 50 connections x 32 in flight, 64-byte text messages, ' +
        'to a Rust echo server (loadgen serve); client CPU',
      metric: 'CPU-µs/msg',
      kind: 'client',
      saturates: true, // 1,600 messages in flight keep any of these clients' core busy
      // the warm-up runs inside the client process (its JIT is what must settle), on the same
      // connections, before the measured phase
      // (1,000,000 in the quick run: websocket-rs's client needs about a second for them, and
      // /proc counts CPU in 10 ms ticks)
      params: { conns: 50, inflight: 32, size: 64, kind: 'text',
        warmup: quick ? 100000 : 300000, messages: quick ? 1000000 : 3000000 },
      timeoutMs: quick ? 45000 : 150000,
    },
    {
      // echo64 with permessage-deflate agreed on every connection (servers: perMessageDeflate:
      // true; loadgen: offers it and requires it, and sends uncompressed: 64 B is below its
      // threshold). Both servers compress every echo: with context takeover the threshold does
      // not apply (ws's rule, which websocket-rs follows); the loadgen inflates and checks them
      id: 'deflate64',
      title: 'echo 64 B text, deflate on',
      desc: 'echo64 with perMessageDeflate: true and permessage-deflate agreed; the loadgen sends ' +
        'uncompressed (64 B < threshold 1024); both servers compress every echo (with context ' +
        'takeover the threshold does not apply, as in ws)',
      metric: 'CPU-µs/msg',
      kind: 'echo',
      deflate: true,
      impls: DEFLATE_IMPLS,
      saturates: true,
      // fewer messages than echo64: ws compresses every echo (about 30 µs each)
      params: Object.assign(echo64Params(), { warmup: quick ? 20000 : 50000, messages: quick ? 100000 : 400000 }),
      timeoutMs: quick ? 60000 : 150000,
    },
    {
      id: 'deflate-json',
      title: 'echo 1 KiB JSON, deflate',
      desc: '50 connections x 8 in flight, 1,024-byte JSON text messages (64 documents, same keys, ' +
        'varying values, cycled per connection) compressed both ways with context takeover ' +
        '(perMessageDeflate: true; loadgen: zlib-rs level 1); every echo inflated and checked',
      metric: 'CPU-µs/msg',
      kind: 'deflate-json',
      deflate: true,
      impls: DEFLATE_IMPLS,
      saturates: true,
      params: { conns: 50, inflight: 8, size: 1024, docs: 64, level: 1,
        warmup: quick ? 10000 : 30000, messages: quick ? 50000 : 200000 },
      // a second row: the compressed payload bytes per message the server sent
      extraRows: [{ id: 'deflate-json-size', title: 'echo 1 KiB JSON: compressed size',
        metric: 'B/msg (server)', field: 'compressedBytesPerMsg',
        desc: 'payload bytes of the server\'s compressed echoes on the wire, per message (deflate-json)' }],
      timeoutMs: quick ? 45000 : 150000,
    },
    {
      // idle connections that each exchanged one compressed message first: what a connection
      // keeps of its compression contexts once idle (websocket-rs releases its zlib state 1 s
      // after the last compressed message and keeps only the window; ws keeps its zlib streams).
      // RSS read 3.5 s after the last exchange, after a full GC; also at N/2 for the slope.
      id: 'deflate-idle',
      title: quick ? 'idle after 1 deflated msg (5,000)' : 'idle after 1 deflated msg (10,000)',
      desc: 'N connections with permessage-deflate, each sends one compressed 1 KiB JSON message ' +
        'and gets its compressed echo, then idles; RSS after minus before, divided by N (read 3.5 s ' +
        'after the last exchange, after a full GC)',
      metric: 'KB/conn',
      kind: 'idle',
      deflate: true,
      impls: DEFLATE_IMPLS,
      settleMs: 3500, // websocket-rs releases a connection's zlib state 1 s after its last message
      params: { conns: quick ? 5000 : 10000, pauseAt: quick ? 2500 : 5000, warmup: 2000, batch: 100,
        size: 1024, docs: 64, level: 1 },
      extraRows: [{ id: 'deflate-idle-slope', title: 'idle after 1 deflated msg: slope',
        metric: 'KB/conn (N/2→N)', field: 'slopeKBPerConn',
        desc: '(RSS at N - RSS at N/2) / (N/2), same readings as deflate-idle' }],
      timeoutMs: quick ? 60000 : 120000,
    },
    {
      // a decompression bomb: one binary message of 16 MiB of zeros, raw deflate (~16 KiB on
      // the wire), against a server with a 1 MiB message limit (websocket-rs:
      // maxReceivedMessageSize; ws: maxPayload): it must close with 1009 without inflating it
      id: 'deflate-bomb',
      title: 'deflate bomb (16 MiB of zeros)',
      desc: 'one permessage-deflate message inflating to 16 MiB (~16 KiB on the wire) against a ' +
        '1 MiB message limit; close code must be 1009; peak RSS growth of the server (VmHWM), ' +
        'worst of 3 bombs on fresh connections',
      metric: 'MiB peak RSS',
      kind: 'bomb',
      deflate: true,
      impls: DEFLATE_IMPLS,
      maxMessage: MiB,
      params: { inflated: 16 * MiB, limit: MiB, bombs: 3 },
      timeoutMs: quick ? 30000 : 60000,
    },
  ];
}

// ------------------------------------------------------------------------------------------------
// child processes: every one is tracked and killed on exit, error or signal

const children = new Set();

function killAll() {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch (_) {
      // already gone
    }
  }
  children.clear();
}

process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping every process the benchmark started`);
    killAll();
    process.exit(130);
  });
}
process.on('uncaughtException', (e) => {
  console.error(e);
  killAll();
  process.exit(1);
});
process.on('unhandledRejection', (e) => {
  console.error(e);
  killAll();
  process.exit(1);
});

// Collects a child's stdout lines and lets callers wait for one that matches.
class Proc {
  constructor(name, cmd, args, options = {}) {
    this.name = name;
    this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: ROOT, ...options });
    this.pid = this.child.pid;
    this.lines = [];
    this.stderr = '';
    this.waiters = [];
    this.exited = null; // {code, signal}
    this.exitWaiters = [];
    children.add(this.child);
    let partial = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d) => {
      partial += d;
      let i;
      while ((i = partial.indexOf('\n')) >= 0) {
        this.lines.push(partial.slice(0, i));
        partial = partial.slice(i + 1);
      }
      this.wake();
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d).slice(-4000);
    });
    if (this.child.stdin) this.child.stdin.on('error', () => {}); // EPIPE if it died
    this.child.on('error', (e) => {
      this.stderr += String(e.message);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = { code, signal };
      children.delete(this.child);
      this.wake();
      for (const w of this.exitWaiters.splice(0)) w();
    });
  }

  wake() {
    for (const w of this.waiters.slice()) w();
  }

  describeExit() {
    const e = this.exited;
    const how = e.signal ? `signal ${e.signal}` : `code ${e.code}`;
    const err = this.stderr.trim().split('\n').slice(-3).join(' | ');
    return `${this.name} exited (${how})${err ? ': ' + err : ''}`;
  }

  // Resolves with the first line (from `from` on) that matches; rejects on timeout or exit.
  waitLine(match, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      let scanned = 0;
      const check = () => {
        for (; scanned < this.lines.length; scanned++) {
          const l = this.lines[scanned];
          if (match(l)) {
            this.lines.splice(0, scanned + 1);
            done();
            resolve(l);
            return;
          }
        }
        if (this.exited) {
          done();
          reject(new Error(`${this.describeExit()} before ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${this.name}: ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        const i = this.waiters.indexOf(check);
        if (i >= 0) this.waiters.splice(i, 1);
      };
      this.waiters.push(check);
      check();
    });
  }

  waitJson(key, timeoutMs, what) {
    return this.waitLine((l) => {
      if (!l.startsWith('{')) return false;
      try {
        return key in JSON.parse(l);
      } catch (_) {
        return false;
      }
    }, timeoutMs, what).then((l) => JSON.parse(l));
  }

  waitExit(timeoutMs) {
    if (this.exited) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.exitWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  kill(sig) {
    if (this.exited) return;
    try {
      process.kill(this.pid, sig);
    } catch (_) {
      // gone
    }
  }

  // SIGTERM, then SIGKILL if it does not go within graceMs.
  async stop(graceMs = 3000) {
    if (this.exited) return;
    this.kill('SIGTERM');
    if (!(await this.waitExit(graceMs))) {
      this.kill('SIGKILL');
      await this.waitExit(2000);
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------
// /proc

let CLK_TCK = 100;

function readCpuTicks(pid) {
  // process totals (all threads): utime + stime, fields 14 and 15 of /proc/<pid>/stat
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  return Number(f[11]) + Number(f[12]);
}

function readRssKB(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(s);
  if (!m) throw new Error('no VmRSS for pid ' + pid);
  return Number(m[1]);
}

function cpuSample(pid) {
  return { ticks: readCpuTicks(pid), t: process.hrtime.bigint() };
}

// seconds of CPU and of wall time between two samples
function cpuDelta(a, b) {
  return { cpu: (b.ticks - a.ticks) / CLK_TCK, wall: Number(b.t - a.t) / 1e9 };
}

function allowedCpus() {
  try {
    const s = fs.readFileSync('/proc/self/status', 'utf8');
    const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(s);
    const cpus = [];
    for (const part of m[1].trim().split(',')) {
      const [a, b] = part.split('-').map(Number);
      for (let c = a; c <= (b === undefined ? a : b); c++) cpus.push(c);
    }
    return cpus;
  } catch (_) {
    return os.cpus().map((_, i) => i);
  }
}

// ------------------------------------------------------------------------------------------------
// building blocks

let PIN = { server: null, loadgen: null };

// Starts `cmd args` pinned to `core` with the soft fd limit raised to the hard limit; the pid
// stays the process's own (bash and taskset exec). `env`: variables added to ours.
function spawnPinned(name, core, cmd, args, env = null) {
  const pinned = core === null ? [cmd, ...args] : ['taskset', '-c', String(core), cmd, ...args];
  return new Proc(name, 'bash',
    ['-c', 'ulimit -Sn "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'bench', ...pinned],
    env ? { env: { ...process.env, ...env } } : {});
}

// TLS material for the TLS scenario, made once per run (only if it has a TLS scenario) by
// __test__/certs.js (openssl): the CA-signed server certificate (SAN: localhost, 127.0.0.1) and its
// key for the servers, the CA certificate for the loadgen, as files in a temporary directory that
// goes at exit.
let certFiles = null;

function ensureCerts() {
  if (certFiles) {
    if (certFiles.error) throw new Error(certFiles.error);
    return certFiles;
  }
  let dir = null;
  try {
    const certs = require(CERTS_JS).makeCerts();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'websocket-rs-bench-certs-'));
    const write = (name, data) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, data, { mode: 0o600 });
      return f;
    };
    certFiles = {
      dir,
      key: write('server.key', certs.serverKey),
      cert: write('server.crt', certs.serverCert),
      ca: write('ca.crt', certs.ca),
    };
  } catch (e) {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    certFiles = { error: `cannot make TLS certificates (needs openssl): ${e.message}` };
    throw new Error(certFiles.error);
  }
  return certFiles;
}

function removeCerts() {
  if (certFiles && certFiles.dir) {
    try {
      fs.rmSync(certFiles.dir, { recursive: true, force: true });
    } catch (_) {
      // best effort
    }
  }
  certFiles = null;
}

process.on('exit', removeCerts);

async function startServer(impl, sc) {
  const args = ['--expose-gc', ECHO_JS, '--impl', impl, '--port', '0', '--exit-on-stdin-eof'];
  if (sc.kind === 'fanout') args.push('--mode', sc.mode || 'fanout');
  if (sc.deflate) args.push('--deflate');
  if (sc.maxMessage) args.push('--max-message', String(sc.maxMessage));
  if (sc.redis) args.push('--redis', (await benchRedis()).url);
  const certs = sc.tls ? ensureCerts() : null;
  if (certs) args.push('--tls-key', certs.key, '--tls-cert', certs.cert);
  const env = (sc.serverEnv && sc.serverEnv[impl]) || null;
  const p = spawnPinned(`${impl} server`, PIN.server, process.execPath, args, env);
  const line = await p.waitLine((l) => l.startsWith('READY '), 15000, 'READY');
  p.port = Number(line.split(' ')[1]);
  p.url = `${certs ? 'wss' : 'ws'}://127.0.0.1:${p.port}/`;
  p.loadgenArgs = certs ? ['--ca', certs.ca] : []; // the loadgen trusts the run's CA only
  return p;
}

// The run's redis-server for the topics-redis scenario (scripts/redis.js), started on first use
// on the loadgen's core, killed at exit.
let redisServer = null;
async function benchRedis() {
  if (redisServer === null) {
    const { RedisServer, redisAvailable } = require('../scripts/redis');
    if (!redisAvailable()) throw new Error('redis-server not found (apt-get install redis-server)');
    const pin = PIN.loadgen;
    redisServer = new RedisServer({
      spawn: (cmd, args) => require('child_process').spawn(pin === null ? cmd : 'taskset',
        pin === null ? args : ['-c', String(pin), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
    });
    process.on('exit', () => redisServer.proc && redisServer.proc.kill('SIGKILL'));
    await redisServer.start();
  }
  return redisServer;
}

function startLoadgen(args) {
  return spawnPinned('loadgen', PIN.loadgen, LOADGEN, args);
}

// Runs the loadgen to completion and returns its result line (the JSON with `key`).
async function runLoadgen(args, key, timeoutMs) {
  const lg = startLoadgen(args);
  try {
    const res = await lg.waitJson(key, timeoutMs, `"${key}" result`);
    if (!(await lg.waitExit(10000))) throw new Error('loadgen did not exit after its result');
    return res;
  } finally {
    await lg.stop(1000);
  }
}

function checkErrors(res, what) {
  if (res.errors > 0) {
    throw new Error(`${what}: ${res.errors} loadgen error(s)` +
      (res.first_error ? ` (first: ${res.first_error})` : ''));
  }
}

function echoArgs(server, p, messages, sync, deflate = false) {
  const a = ['echo', '--url', server.url, ...server.loadgenArgs, '--conns', String(p.conns),
    '--inflight', String(p.inflight), '--size', String(p.size), '--kind', p.kind,
    '--messages', String(messages)];
  if (sync) a.push('--sync');
  if (deflate) a.push('--deflate');
  return a;
}

// The server's full garbage collection (node --expose-gc; "gc" on its stdin), before memory
// readings.
async function collectGarbage(server) {
  server.child.stdin.write('gc\n');
  await server.waitLine((l) => l === 'GC-DONE', 15000, 'GC-DONE');
}

function readStatusKB(pid, field) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(s);
  if (!m) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]);
}

// Resets the process's peak RSS (VmHWM) to its current RSS; false if not allowed.
function resetPeakRss(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch (_) {
    return false;
  }
}

// ------------------------------------------------------------------------------------------------
// scenarios: each returns { value, ...details } for one implementation, or throws

// The timed part of an echo-style scenario: a warm-up run of the loadgen with `args(n, false)`,
// then a synchronized run of `args(p.messages, true)` whose server and loadgen CPU are sampled
// around it. Returns the loadgen's connection and result lines and the CPU deltas.
async function timedEcho(server, sc, args) {
  const p = sc.params;
  const deadline = Date.now() + sc.timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());

  const warm = await runLoadgen(args(p.warmup, false), 'messages', left());
  checkErrors(warm, 'warm-up');
  await sleep(200); // let the warm-up connections' closes finish

  const lg = startLoadgen(args(p.messages, true));
  try {
    const conn = await lg.waitJson('connected', left(), 'connections');
    checkErrors(conn, 'connecting');
    const s0 = cpuSample(server.pid);
    const l0 = cpuSample(lg.pid);
    lg.child.stdin.write('go\n');
    const res = await lg.waitJson('messages', left(), 'echo result');
    const s1 = cpuSample(server.pid);
    const l1 = cpuSample(lg.pid);
    checkErrors(res, 'echo');
    if (res.messages !== p.messages) throw new Error(`only ${res.messages} of ${p.messages} echoes`);
    await lg.waitExit(10000);
    const sd = cpuDelta(s0, s1);
    const ld = cpuDelta(l0, l1);
    return {
      conn,
      res,
      figures: {
        value: (sd.cpu * 1e6) / res.messages,
        messages: res.messages,
        seconds: res.seconds,
        rate: res.messages / res.seconds,
        rateUnit: 'msg/s',
        serverCore: sd.cpu / sd.wall,
        loadgenCore: ld.cpu / ld.wall,
      },
    };
  } finally {
    await lg.stop(1000);
  }
}

async function runEcho(server, sc) {
  const p = sc.params;
  const { res, figures } = await timedEcho(server, sc,
    (messages, sync) => echoArgs(server, p, messages, sync, sc.deflate));
  return Object.assign(figures, sc.deflate ? {
    // --deflate: how many echoes the server compressed (inflated and checked by the loadgen),
    // and their average payload on the wire
    compressedEchoes: res.compressed_echoes,
    compressedBytesPerEcho: res.compressed_echoes ? res.compressed_bytes / res.compressed_echoes : null,
  } : {});
}

// deflate-json: like runEcho, with the loadgen's deflate-json mode (compressed JSON both ways,
// every echo inflated and checked). Also reports the server's compressed payload bytes per
// message.
async function runDeflateJson(server, sc) {
  const p = sc.params;
  const jsonArgs = (messages, sync) => ['deflate-json', '--url', server.url, ...server.loadgenArgs,
    '--conns', String(p.conns), '--inflight', String(p.inflight), '--size', String(p.size),
    '--docs', String(p.docs), '--level', String(p.level), '--messages', String(messages),
    ...(sync ? ['--sync'] : [])];
  const { conn, res, figures } = await timedEcho(server, sc, jsonArgs);
  if (res.server_compressed_msgs !== res.messages) {
    throw new Error(`${res.server_uncompressed_msgs} of ${res.messages} echoes came back uncompressed`);
  }
  return Object.assign(figures, {
    agreed: conn.agreed,
    compressedBytesPerMsg: res.server_compressed_bytes / res.messages,
    clientCompressedBytesPerMsg: res.client_compressed_bytes / res.messages,
    uncompressedBytesPerMsg: p.size,
  });
}

// deflate-bomb: warm the server's deflate path with ordinary compressed traffic (so first-use
// costs are not billed to the bomb), then, `bombs` times on a fresh connection each: full GC,
// reset the peak RSS (VmHWM, /proc/<pid>/clear_refs), the bomb (bench/deflate-bomb.js), which
// must be answered with close 1009, and the peak RSS read again. The figure is the worst growth.
async function runBomb(server, sc) {
  const p = sc.params;
  const deadline = Date.now() + sc.timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());
  const { attack } = require('./deflate-bomb');

  const warm = await runLoadgen(['deflate-json', '--url', server.url, ...server.loadgenArgs,
    '--conns', '20', '--inflight', '1', '--messages', '400'], 'messages', left());
  checkErrors(warm, 'warm-up');
  await sleep(1500); // past websocket-rs's 1 s release of idle zlib state

  const bombs = [];
  for (let i = 0; i < p.bombs; i++) {
    await collectGarbage(server);
    const rssBeforeKB = readStatusKB(server.pid, 'VmRSS');
    const reset = resetPeakRss(server.pid);
    const hwmBeforeKB = readStatusKB(server.pid, 'VmHWM');
    const r = await attack({ host: '127.0.0.1', port: server.port, inflatedSize: p.inflated,
      timeoutMs: Math.min(10000, left()) });
    await sleep(300); // the server's side of the close
    const hwmAfterKB = readStatusKB(server.pid, 'VmHWM');
    const rssAfterKB = readStatusKB(server.pid, 'VmRSS');
    if (server.exited) throw new Error(server.describeExit());
    if (r.closeCode !== 1009) {
      throw new Error(r.closeCode === null ? 'the server closed TCP without a close frame'
        : `the server closed with ${r.closeCode}, not 1009`);
    }
    // without the reset, VmHWM is the process's lifetime peak: growth over the RSS before is an
    // upper bound
    const growthKB = hwmAfterKB - (reset ? hwmBeforeKB : rssBeforeKB);
    bombs.push({ closeCode: r.closeCode, closeReason: r.closeReason, closeMs: r.closeMs,
      wireBytes: r.wireBytes, growthKB, rssBeforeKB, hwmBeforeKB, hwmAfterKB, rssAfterKB,
      peakReset: reset });
  }
  const worst = bombs.reduce((a, b) => (b.growthKB > a.growthKB ? b : a));
  return {
    value: Math.max(0, worst.growthKB) / 1024,
    closeCode: worst.closeCode,
    closeMs: Math.max(...bombs.map((b) => b.closeMs)),
    wireBytes: worst.wireBytes,
    inflatedBytes: p.inflated,
    limitBytes: p.limit,
    peakReset: bombs.every((b) => b.peakReset),
    bombs,
    rate: bombs.length,
    rateUnit: 'bombs',
  };
}

// Fan-out: the loadgen opens 100 receivers and 1 sender, runs the warm-up messages on them, says
// "connected" and waits for go; then the sender sends N messages (at most `inflight` not yet
// delivered to all 101 connections) and the server broadcasts each to all of them.
async function runFanout(server, sc) {
  const p = sc.params;
  const deadline = Date.now() + sc.timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());
  const second = server.second || null; // topics-redis: the other server process
  const conns = p.receivers + (second ? p.receivers2 : 0) + 1;
  const lg = startLoadgen(['fanout', '--url', server.url, ...server.loadgenArgs,
    '--receivers', String(p.receivers), '--inflight', String(p.inflight), '--size', String(p.size),
    '--warmup', String(p.warmup), '--messages', String(p.messages), '--sync',
    ...(second ? ['--url2', second.url, '--receivers2', String(p.receivers2)] : [])]);
  try {
    // connections and warm-up are not billed
    const conn = await lg.waitJson('connected', left(), 'connections and warm-up');
    checkErrors(conn, 'connecting and warm-up');
    if (conn.connected !== conns) throw new Error(`only ${conn.connected} of ${conns} connections`);
    const s0 = cpuSample(server.pid);
    const t0 = second ? cpuSample(second.pid) : null;
    const l0 = cpuSample(lg.pid);
    lg.child.stdin.write('go\n');
    const res = await lg.waitJson('messages', left(), 'fan-out result');
    const s1 = cpuSample(server.pid);
    const t1 = second ? cpuSample(second.pid) : null;
    const l1 = cpuSample(lg.pid);
    checkErrors(res, 'fan-out');
    if (res.messages !== p.messages || res.deliveries !== p.messages * conns) {
      throw new Error(`${res.messages} of ${p.messages} messages, ${res.deliveries} of ` +
        `${p.messages * conns} deliveries`);
    }
    await lg.waitExit(10000);
    const sd = cpuDelta(s0, s1);
    if (second) sd.cpu += cpuDelta(t0, t1).cpu; // both server processes
    const ld = cpuDelta(l0, l1);
    return {
      value: (sd.cpu * 1e6) / res.deliveries,
      messages: res.messages,
      deliveries: res.deliveries,
      connections: res.connections,
      cpuUsPerMessage: (sd.cpu * 1e6) / res.messages, // per broadcast (to all 101)
      seconds: res.seconds,
      rate: res.deliveries / res.seconds,
      rateUnit: 'deliv/s',
      serverCore: sd.cpu / sd.wall,
      loadgenCore: ld.cpu / ld.wall,
      // how the server's writes batched: deliveries per read of the loadgen's connections, and
      // messages per write of the sender (the window refills as deliveries complete)
      deliveriesPerRead: res.deliveries / res.reads,
      messagesPerSenderWrite: res.messages / res.sender_writes,
    };
  } finally {
    await lg.stop(1000);
  }
}

async function runHandshakes(server, sc) {
  const p = sc.params;
  const deadline = Date.now() + sc.timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());
  const hsArgs = (n) => ['handshakes', '--url', server.url, ...server.loadgenArgs,
    '--count', String(n), '--concurrency', String(p.concurrency)];

  const warm = await runLoadgen(hsArgs(p.warmup), 'handshakes', left());
  checkErrors(warm, 'warm-up');
  await sleep(300);

  const lg = startLoadgen(hsArgs(p.count));
  try {
    const s0 = cpuSample(server.pid);
    const res = await lg.waitJson('handshakes', left(), 'handshakes result');
    await sleep(200); // the server's share of the last closes
    const s1 = cpuSample(server.pid);
    checkErrors(res, 'handshakes');
    if (res.handshakes !== p.count) throw new Error(`only ${res.handshakes} of ${p.count} handshakes`);
    const sd = cpuDelta(s0, s1);
    return {
      value: (sd.cpu * 1e6) / res.handshakes,
      handshakes: res.handshakes,
      seconds: res.seconds,
      rate: res.handshakes / res.seconds,
      rateUnit: 'hs/s',
      serverCore: sd.cpu / res.seconds,
      loadgenCore: res.cpu_ticks / CLK_TCK / res.seconds, // the loadgen exits right after its result
    };
  } finally {
    await lg.stop(1000);
  }
}

async function runIdle(server, sc) {
  const p = sc.params;
  const deadline = Date.now() + sc.timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());
  const deflateArgs = sc.deflate ? ['--deflate'] : [];

  // warm the accept/upgrade path so that lazily loaded code is not billed to the connections
  const warm = await runLoadgen(['handshakes', '--url', server.url, ...server.loadgenArgs,
    '--count', String(p.warmup), '--concurrency', '50', ...deflateArgs], 'handshakes', left());
  checkErrors(warm, 'warm-up');
  if (sc.deflate) {
    // and the compression path, on a few connections (their zlib state goes when they close)
    const w2 = await runLoadgen(['deflate-json', '--url', server.url, ...server.loadgenArgs,
      '--conns', '20', '--inflight', '1', '--messages', '400'], 'messages', left());
    checkErrors(w2, 'deflate warm-up');
  }
  await sleep(500);

  // Both readings follow a full GC in the server (the same for every implementation), so the
  // figure is what open connections keep, not how much garbage the handshakes left behind.
  const collect = () => collectGarbage(server);
  const settle = sc.settleMs || 1000;
  await collect();
  const rss0 = readRssKB(server.pid);
  // the second reading, at K = pauseAt connections (a multiple of the batch: the loadgen pauses
  // between batches)
  const half = p.pauseAt ? Math.floor(p.pauseAt / p.batch) * p.batch : 0;
  const lg = startLoadgen(['idle', '--url', server.url, ...server.loadgenArgs, '--conns', String(p.conns),
    '--hold-secs', String(Math.ceil(sc.timeoutMs / 1000) + 30), '--batch', String(p.batch),
    ...(sc.deflate ? ['--deflate', '--size', String(p.size), '--docs', String(p.docs),
      '--level', String(p.level)] : []),
    ...(half > 0 ? ['--pause-at', String(half)] : [])]);
  try {
    // the slope: a reading at K connections too (the loadgen waits for a line on stdin)
    let mid = null;
    if (half > 0) {
      const h = await lg.waitJson('paused', left(), `${half} connections open`);
      checkErrors(h, 'opening');
      await sleep(settle);
      await collect();
      mid = { conns: h.paused, rssKB: readRssKB(server.pid) };
      lg.child.stdin.write('go\n');
    }
    const res = await lg.waitJson('open', left(), 'all connections open');
    checkErrors(res, 'opening');
    if (res.open !== p.conns) throw new Error(`only ${res.open} of ${p.conns} connections opened`);
    await sleep(settle); // let the server settle (deflate: past the release of idle zlib state)
    await collect();
    const rss1 = readRssKB(server.pid);
    lg.child.stdin.end(); // the loadgen closes every connection with a closing handshake
    const closed = await lg.waitJson('closed', left(), 'connections closed');
    if (closed.closed !== res.open) {
      throw new Error(`only ${closed.closed} of ${res.open} connections closed cleanly` +
        (closed.first_error ? ` (first: ${closed.first_error})` : ''));
    }
    const avgKBPerConn = (rss1 - rss0) / res.open;
    const avgHalfKBPerConn = mid ? (mid.rssKB - rss0) / mid.conns : null;
    return {
      value: sc.valueAtPause ? avgHalfKBPerConn : avgKBPerConn,
      conns: res.open,
      rssBeforeKB: rss0,
      rssAfterKB: rss1,
      avgKBPerConn,
      ...(mid ? {
        rssHalfKB: mid.rssKB,
        halfConns: mid.conns,
        avgHalfKBPerConn,
        slopeKBPerConn: (rss1 - mid.rssKB) / (res.open - mid.conns),
      } : {}),
      seconds: res.seconds,
      rate: res.open / res.seconds,
      rateUnit: 'conn/s',
    };
  } finally {
    await lg.stop(1000);
  }
}

// The client scenario: the implementation is the client (bench/clients/echo-client.js, pinned
// where the servers run) and the server is one fixed Rust echo server (`loadgen serve`, pinned
// where the loadgen runs), started once per scenario and shared by the implementations' cells.
let echoServer = null;

async function ensureEchoServer() {
  if (echoServer && !echoServer.exited) return echoServer;
  const p = spawnPinned('Rust echo server', PIN.loadgen, LOADGEN,
    ['serve', '--port', '0', '--exit-on-stdin-eof']);
  const line = await p.waitLine((l) => l.startsWith('READY '), 15000, 'READY');
  p.port = Number(line.split(' ')[1]);
  p.url = `ws://127.0.0.1:${p.port}/`;
  echoServer = p;
  return p;
}

async function stopEchoServer() {
  if (!echoServer) return;
  const p = echoServer;
  echoServer = null;
  p.child.stdin.end(); // it exits at the end of its stdin
  if (!(await p.waitExit(2000))) await p.stop(1000);
}

// The echo server's counters (cumulative since it started).
async function echoStats(echo) {
  echo.child.stdin.write('stats\n');
  return echo.waitJson('echo_stats', 5000, 'stats');
}

async function runClient(impl, echo, sc) {
  const p = sc.params;
  const deadline = Date.now() + sc.timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());

  const before = await echoStats(echo);
  const cl = spawnPinned(`${impl} client`, PIN.server, process.execPath, [CLIENT_JS, '--impl', impl,
    '--url', echo.url, '--conns', String(p.conns), '--inflight', String(p.inflight),
    '--size', String(p.size), '--warmup', String(p.warmup), '--messages', String(p.messages)]);
  try {
    // connections and warm-up (inside the client: its JIT is what must settle) are not billed
    const conn = await cl.waitJson('connected', left(), 'connections and warm-up');
    checkErrors(conn, 'connecting and warm-up');
    if (conn.connected !== p.conns) throw new Error(`only ${conn.connected} of ${p.conns} connections`);
    if (conn.warmup !== p.warmup) throw new Error(`only ${conn.warmup} of ${p.warmup} warm-up echoes`);
    const c0 = cpuSample(cl.pid);
    const e0 = cpuSample(echo.pid);
    cl.child.stdin.write('go\n');
    const res = await cl.waitJson('messages', left(), 'echo result');
    const c1 = cpuSample(cl.pid);
    const e1 = cpuSample(echo.pid);
    checkErrors(res, 'echo');
    if (res.messages !== p.messages) throw new Error(`only ${res.messages} of ${p.messages} echoes`);
    cl.child.stdin.write('close\n'); // closing handshakes, after the measured phase
    const closed = await cl.waitJson('closed', left(), 'connections closed');
    if (closed.closed !== conn.connected) {
      throw new Error(`only ${closed.closed} of ${conn.connected} connections closed cleanly` +
        (closed.first_error ? ` (first: ${closed.first_error})` : ''));
    }
    await cl.waitExit(5000);
    const after = await echoStats(echo);
    if (after.errors > before.errors) {
      throw new Error(`the echo server saw ${after.errors - before.errors} protocol error(s)` +
        (after.first_error ? ` (first: ${after.first_error})` : ''));
    }
    const echoed = after.messages - before.messages;
    if (echoed !== p.warmup + p.messages) {
      throw new Error(`the echo server echoed ${echoed} messages, the client sent ${p.warmup + p.messages}`);
    }
    const cd = cpuDelta(c0, c1);
    const ed = cpuDelta(e0, e1);
    return {
      value: (cd.cpu * 1e6) / res.messages,
      messages: res.messages,
      seconds: res.seconds,
      rate: res.messages / res.seconds,
      rateUnit: 'msg/s',
      clientCore: cd.cpu / cd.wall,
      echoServerCore: ed.cpu / ed.wall,
      echoServerCpuUsPerMsg: (ed.cpu * 1e6) / res.messages,
      // the client's own process.cpuUsage() over the phase: a cross-check of the /proc reading
      clientSelfCpuUsPerMsg: res.cpu_us / res.messages,
    };
  } finally {
    await cl.stop(1000);
  }
}

const RUNNERS = { echo: runEcho, fanout: runFanout, handshakes: runHandshakes, idle: runIdle,
  'deflate-json': runDeflateJson, bomb: runBomb };

// Resolves like `work` unless `ms` pass first (then rejects): a hung process fails its cell,
// not the run.
async function withGuard(work, ms, what) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${(ms / 1000).toFixed(0)} s`)), ms);
  });
  work.catch(() => {}); // if the guard wins, the work's own later failure is moot
  try {
    return await Promise.race([work, guard]);
  } finally {
    clearTimeout(timer);
  }
}

function killChildrenExcept(keep) {
  for (const c of children) {
    if (!keep.includes(c)) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch (_) {
        // gone
      }
    }
  }
}

async function runClientCell(impl, sc) {
  const t0 = Date.now();
  let echo = null;
  try {
    echo = await ensureEchoServer();
    const r = await withGuard(runClient(impl, echo, sc), sc.timeoutMs + 15000, 'cell');
    if (echo.exited) throw new Error(echo.describeExit());
    return { status: 'ok', ...r, cellSeconds: (Date.now() - t0) / 1000 };
  } catch (e) {
    return { status: 'failed', error: e.message, cellSeconds: (Date.now() - t0) / 1000 };
  } finally {
    // a client left behind goes; the echo server stays for the next implementation
    killChildrenExcept(echo && !echo.exited ? [echo.child] : []);
  }
}

async function runCell(impl, sc) {
  if (sc.kind === 'client') return runClientCell(impl, sc);
  let server = null;
  const t0 = Date.now();
  try {
    server = await startServer(impl, sc);
    if (sc.redis) {
      server.second = await startServer(impl, sc);
      await topicSubscribedOnBoth(server, sc);
    }
    // the whole cell is bounded: a hung server or loadgen fails the cell, not the run
    const r = await withGuard(RUNNERS[sc.kind](server, sc), sc.timeoutMs + 15000, 'cell');
    if (server.exited) throw new Error(server.describeExit());
    return { status: 'ok', ...r, cellSeconds: (Date.now() - t0) / 1000 };
  } catch (e) {
    return { status: 'failed', error: e.message, cellSeconds: (Date.now() - t0) / 1000 };
  } finally {
    // anything the scenario left behind (a loadgen on a timed-out path) goes with the server
    killChildrenExcept(server ? [server.child].concat(server.second ? [server.second.child] : []) : []);
    if (server && server.second) await server.second.stop(3000);
    if (server) await server.stop(3000);
  }
}

// topics-redis: websocket-rs subscribes a topic's channel in Redis when the topic gets its first
// local subscriber, so a keeper connection goes to each server first and the run waits until
// Redis counts both processes on the channel (ws and websocket + ioredis subscribe at start).
// The two keepers receive every message too (2 of 203 connections), for every implementation.
async function topicSubscribedOnBoth(server, sc) {
  const redis = await benchRedis();
  const net = require('net');
  for (const s of [server, server.second]) {
    const sock = net.connect(s.port, '127.0.0.1');
    sock.on('error', () => {});
    sock.on('data', () => {}); // reads and drops what it is sent
    sock.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    s.keeper = sock;
  }
  const end = Date.now() + 10000;
  while (Date.now() < end) {
    if ((await redis.numsub('bench:room')) >= 2) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the two server processes did not both subscribe in Redis');
}

// ------------------------------------------------------------------------------------------------
// setup

function newestMtime(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newestMtime(path.join(p, e)));
  return m;
}

async function buildLoadgen() {
  let stale = true;
  if (fs.existsSync(LOADGEN)) {
    const src = Math.max(newestMtime(path.join(LOADGEN_DIR, 'src')),
      fs.statSync(path.join(LOADGEN_DIR, 'Cargo.toml')).mtimeMs);
    stale = fs.statSync(LOADGEN).mtimeMs < src;
  }
  if (!stale) return;
  console.log('building bench/loadgen (cargo build --release) ...');
  const p = new Proc('cargo', 'cargo', ['build', '--release', '--quiet', '--manifest-path',
    path.join(LOADGEN_DIR, 'Cargo.toml')]);
  p.child.stdin.end();
  if (!(await p.waitExit(600000))) {
    await p.stop();
    throw new Error('building the loadgen timed out');
  }
  if (p.exited.code !== 0 || !fs.existsSync(LOADGEN)) {
    throw new Error('building the loadgen failed:\n' + p.stderr);
  }
}

// Can this implementation's server (or client) be constructed? (websocket-rs may not be written
// yet.)
async function probe(impl, side) {
  const script = side === 'client' ? CLIENT_JS : ECHO_JS;
  const p = new Proc(`${impl} ${side} probe`, process.execPath, [script, '--impl', impl, '--check']);
  let line;
  try {
    line = await p.waitLine((l) => l === 'OK' || l.startsWith('ERROR '), 15000, 'probe answer');
  } catch (e) {
    return { ok: false, skip: false, why: e.message };
  } finally {
    await p.stop(1000);
  }
  if (line === 'OK') return { ok: true };
  const why = line.slice(6);
  // websocket-rs not written yet, or uws not installed / not loadable here: skip, do not fail
  return { ok: false, skip: /not implemented yet|uws not available/.test(why), why };
}

function versionOf(mod) {
  try {
    return require(path.join(ROOT, 'node_modules', mod, 'package.json')).version;
  } catch (_) {
    return null;
  }
}

function gitCommit() {
  try {
    return execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch (_) {
    return null;
  }
}

function machineInfo() {
  let cpuModel = null;
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    cpuModel = m ? m[1].trim() : null;
  } catch (_) {
    // not Linux?
  }
  let nproc = null;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch (_) {
    nproc = os.cpus().length;
  }
  return {
    nproc,
    cpuModel,
    kernel: os.release(),
    node: process.version,
    clkTck: CLK_TCK,
    loadavgAtStart: fs.readFileSync('/proc/loadavg', 'utf8').trim(),
    fdLimit: (() => {
      try {
        return execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
      } catch (_) {
        return null;
      }
    })(),
  };
}

// ------------------------------------------------------------------------------------------------
// report

function fmt(v) {
  if (v >= 1000) return v.toFixed(0);
  if (v >= 100) return v.toFixed(1);
  if (v >= 10) return v.toFixed(2);
  return v.toFixed(2);
}

function fmtRate(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(2) + 'M';
  if (v >= 1e3) return (v / 1e3).toFixed(1) + 'k';
  return v.toFixed(0);
}

function pad(s, n) {
  s = String(s);
  return s.length >= n ? s + ' ' : s + ' '.repeat(n - s.length);
}

// The cell to report from several rounds of one implementation: the successful round with the
// median value (its details with it), and every round's value in `rounds`. A failed or skipped
// result stands when no round succeeded.
function medianCell(runs) {
  const ok = runs.filter((r) => r.status === 'ok' && typeof r.value === 'number');
  if (ok.length === 0) return runs[0];
  const sorted = ok.slice().sort((a, b) => a.value - b.value);
  const pick = sorted[(sorted.length - 1) >> 1];
  return runs.length > 1 ? Object.assign({}, pick, { rounds: runs.map((r) => r.value) }) : pick;
}

// width of the scenario column (the progress lines use it too)
function titleWidth(scenarios) {
  return Math.max(28, ...scenarios.map((sc) => sc.title.length + 1));
}

// What the progress line adds for some scenarios.
function cellExtra(sc, r) {
  if (sc.kind === 'deflate-json') {
    return `, server sent ${r.compressedBytesPerMsg.toFixed(1)} B/msg compressed`;
  }
  if (sc.kind === 'echo' && sc.deflate) {
    return `, ${r.compressedEchoes} echoes compressed`;
  }
  if (sc.kind === 'idle' && r.slopeKBPerConn !== undefined) {
    return (sc.valueAtPause ? `, ${fmt(r.avgKBPerConn)} at ${r.conns}` : '') +
      `, slope ${fmt(r.slopeKBPerConn)} KB/conn (${r.halfConns}→${r.conns})`;
  }
  if (sc.kind === 'bomb') {
    return `, close ${r.closeCode} after ${r.closeMs.toFixed(1)} ms` +
      (r.peakReset ? '' : ', VmHWM could not be reset: upper bound');
  }
  return '';
}

// The scenarios as table and chart rows: each scenario, then the rows it derives from its own
// results (`extraRows`: another figure of the same cells, e.g. deflate-json's compressed size).
// Returns [rows, results with the derived rows' results added].
function tableRows(scenarios, results, impls) {
  const rows = [];
  const all = { ...results };
  for (const sc of scenarios) {
    rows.push(sc);
    for (const x of sc.extraRows || []) {
      rows.push({ id: x.id, title: x.title, desc: x.desc, metric: x.metric, kind: 'derived',
        derivedFrom: sc.id, params: sc.params });
      all[x.id] = Object.fromEntries(impls.map((impl) => {
        const r = results[sc.id][impl];
        if (r.status !== 'ok') return [impl, { status: r.status, error: r.error }];
        const v = r[x.field];
        return [impl, typeof v === 'number' && Number.isFinite(v)
          ? { status: 'ok', value: v, rate: r.rate, rateUnit: r.rateUnit }
          : { status: 'failed', error: `no ${x.field} in the ${sc.id} result` }];
      }));
    }
  }
  return [rows, all];
}

function printTable(scenarios, results, impls) {
  const W0 = titleWidth(scenarios);
  const W1 = 18;
  const W = 24;
  let out = '\n' + pad('scenario', W0) + pad('metric', W1) + impls.map((i) => pad(i, W)).join('') + '\n';
  out += '-'.repeat(W0 + W1 + W * impls.length) + '\n';
  for (const sc of scenarios) {
    const row = results[sc.id];
    const base = row[BASELINE];
    const cells = impls.map((impl) => {
      const r = row[impl];
      if (!r) return 'n/a';
      if (r.status === 'skipped') return 'skipped';
      if (r.status !== 'ok') return 'FAILED';
      const ratio = base && base.status === 'ok' ? ` (${(r.value / base.value).toFixed(2)}x)` : '';
      return fmt(r.value) + ratio;
    });
    out += pad(sc.title, W0) + pad(sc.metric, W1) + cells.map((c) => pad(c, W)).join('') + '\n';
  }
  out += '\nratios are to ws in this run (ws = 1.00x); lower is better for every metric.\n';

  // details: throughput and how busy each side was (the loadgen must not be the bottleneck)
  out += '\n' + pad('details', W0) + pad('', W1) + impls.map((i) => pad(i, W)).join('') + '\n';
  for (const sc of scenarios) {
    if (sc.kind === 'derived') continue;
    const row = results[sc.id];
    const rate = impls.map((impl) => {
      const r = row[impl];
      return r && r.status === 'ok' ? `${fmtRate(r.rate)} ${r.rateUnit}` : '';
    });
    out += pad(sc.title, W0) + pad('throughput', W1) + rate.map((c) => pad(c, W)).join('') + '\n';
    if (impls.some((impl) => row[impl] && row[impl].rounds)) {
      const rounds = impls.map((impl) => {
        const r = row[impl];
        return r && r.rounds ? r.rounds.map((v) => (typeof v === 'number' ? fmt(v) : '-')).join(' / ') : '';
      });
      out += pad('', W0) + pad('rounds (median)', W1) + rounds.map((c) => pad(c, W)).join('') + '\n';
    }
    if (sc.kind === 'client') {
      const busy = impls.map((impl) => {
        const r = row[impl];
        return r && r.status === 'ok'
          ? `${(r.clientCore * 100).toFixed(0)}% / ${(r.echoServerCore * 100).toFixed(0)}%` : '';
      });
      out += pad('', W0) + pad('core cli / echo', W1) + busy.map((c) => pad(c, W)).join('') + '\n';
    } else if (sc.kind === 'bomb') {
      const b = impls.map((impl) => {
        const r = row[impl];
        return r && r.status === 'ok' ? `close ${r.closeCode}, ${r.closeMs.toFixed(1)} ms` : '';
      });
      out += pad('', W0) + pad('close (worst)', W1) + b.map((c) => pad(c, W)).join('') + '\n';
    } else if (sc.kind !== 'idle') {
      const busy = impls.map((impl) => {
        const r = row[impl];
        return r && r.status === 'ok'
          ? `${(r.serverCore * 100).toFixed(0)}% / ${(r.loadgenCore * 100).toFixed(0)}%` : '';
      });
      out += pad('', W0) + pad('core srv / lg', W1) + busy.map((c) => pad(c, W)).join('') + '\n';
      if (sc.kind === 'echo' && sc.deflate) {
        const z = impls.map((impl) => {
          const r = row[impl];
          return r && r.status === 'ok' ? `${(100 * r.compressedEchoes / r.messages).toFixed(0)}%` +
            (r.compressedEchoes ? ` (${r.compressedBytesPerEcho.toFixed(1)} B)` : '') : '';
        });
        out += pad('', W0) + pad('echoes compressed', W1) + z.map((c) => pad(c, W)).join('') + '\n';
      }
    } else {
      const rss = impls.map((impl) => {
        const r = row[impl];
        return r && r.status === 'ok'
          ? `${(r.rssBeforeKB / 1024).toFixed(0)} -> ` +
            (r.rssHalfKB !== undefined ? `${(r.rssHalfKB / 1024).toFixed(0)} -> ` : '') +
            `${(r.rssAfterKB / 1024).toFixed(0)} MB` : '';
      });
      out += pad('', W0) + pad('server RSS', W1) + rss.map((c) => pad(c, W)).join('') + '\n';
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  try {
    CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch (_) {
    CLK_TCK = 100;
  }
  const notes = [];
  const cpus = allowedCpus();
  let haveTaskset = true;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
  } catch (_) {
    haveTaskset = false;
  }
  if (cpus.length >= 2 && haveTaskset) {
    PIN = { server: cpus[0], loadgen: cpus[1] };
  } else {
    notes.push('servers and loadgen NOT pinned (needs taskset and 2 CPUs): figures are less comparable');
  }

  let scenarios = scenarioList(opts.quick);
  if (opts.scenarios) {
    for (const s of opts.scenarios) {
      if (!scenarios.some((x) => x.id === s)) {
        console.error('unknown scenario: ' + s);
        process.exit(2);
      }
    }
    scenarios = scenarios.filter((s) => opts.scenarios.includes(s.id));
  }
  if (opts.quick) {
    notes.push('quick run: fewer messages, handshakes and connections than the full run ' +
      '(idle: 2,500 and 5,000 connections, not 10,000 and 20,000; deflate-idle: 5,000, not 10,000)');
  }

  await buildLoadgen();
  const machine = machineInfo();
  // The idle scenarios need a descriptor per connection in the server and in the loadgen (both
  // start with the soft limit raised to the hard one), and some for the process itself. Above the
  // hard limit the count is lowered to what fits, with a note (the reading at K stays if it fits).
  const FD_MARGIN = 200;
  const fdLimit = Number(machine.fdLimit);
  for (const sc of scenarios) {
    if (sc.kind !== 'idle' || !(fdLimit > 0) || sc.params.conns + FD_MARGIN <= fdLimit) continue;
    const p = sc.params;
    const conns = Math.floor((fdLimit - FD_MARGIN) / p.batch) * p.batch;
    const pauseAt = p.pauseAt && p.pauseAt < conns ? p.pauseAt : Math.floor(conns / 2 / p.batch) * p.batch;
    notes.push(`fd hard limit ${machine.fdLimit} is below the ${p.conns + FD_MARGIN} ${sc.id} needs: ` +
      `${conns} connections instead of ${p.conns}` + (p.pauseAt ? ` (second reading at ${pauseAt})` : ''));
    sc.params = { ...p, conns, ...(p.pauseAt ? { pauseAt } : {}) };
    const n = (v) => v.toLocaleString('en-US');
    const k = (v) => (v >= 1000 ? `${+(v / 1000).toFixed(1)}k` : String(v));
    if (sc.valueAtPause) {
      sc.title = `idle connections (${n(pauseAt)})`;
      for (const x of sc.extraRows || []) {
        if (x.field === 'avgKBPerConn') x.title = `idle connections (${n(conns)})`;
        if (x.field === 'slopeKBPerConn') x.metric = `KB/conn (${k(pauseAt)}→${k(conns)})`;
      }
    } else {
      sc.title = sc.title.replace(/\([\d,]+\)$/, `(${n(conns)})`);
    }
  }

  const sideOf = (sc) => (sc.kind === 'client' ? 'client' : 'server');
  const sides = [...new Set(scenarios.map(sideOf))];
  console.log(`websocket-rs bench (${opts.quick ? 'quick' : 'full'}): node ${machine.node}, ` +
    `${machine.nproc} CPUs (${machine.cpuModel}), server on CPU ${PIN.server}, loadgen on CPU ${PIN.loadgen}` +
    (sides.includes('client') ? ` (client scenario: client on CPU ${PIN.server}, ` +
      `Rust echo server on CPU ${PIN.loadgen})` : ''));

  // which implementations can run at all, as a server and as a client (not probed where every
  // cell of that side is skipped anyway, e.g. uws's client: there is none)
  const status = { server: {}, client: {} };
  for (const side of sides) {
    for (const impl of opts.impls) {
      if (scenarios.every((sc) => sideOf(sc) !== side || skipReason(impl, sc))) {
        status[side][impl] = { run: false, status: 'skipped', why: 'not run' };
        continue;
      }
      const pr = await probe(impl, side);
      if (pr.ok) status[side][impl] = { run: true };
      else if (pr.skip) {
        status[side][impl] = { run: false, status: 'skipped', why: pr.why };
        notes.push(impl === 'uws' ? `uws skipped: ${pr.why}`
          : `${impl} skipped: its ${side} is not implemented yet (${pr.why})`);
      } else {
        status[side][impl] = { run: false, status: 'failed', why: pr.why };
        notes.push(`${impl} ${side} cannot start: ${pr.why}`);
      }
    }
  }
  for (const n of notes) console.log('note: ' + n);

  // One run of scenario `sc` for `impl` (round `round` of opts.rounds), printed as it ends.
  async function runOneCell(sc, impl, round) {
    const client = sc.kind === 'client';
    // the measured side and the side that drives it
    const [me, peer] = client ? ['client', 'echo server'] : ['server', 'loadgen'];
    const label = opts.rounds > 1 ? `${impl} #${round + 1}` : impl;
    let r;
    const st = status[sideOf(sc)][impl];
    const skip = skipReason(impl, sc);
    if (skip) {
      r = { status: 'skipped', error: skip };
      if (round === 0) console.log(`${pad(sc.title, titleWidth(scenarios))} ${pad(label, 14)} skipped (${skip})`);
    } else if (!st.run) {
      r = { status: st.status, error: st.why };
    } else {
      process.stdout.write(`${pad(sc.title, titleWidth(scenarios))} ${pad(label, 14)} `);
      r = await runCell(impl, sc);
      if (r.status === 'ok') {
        const meCore = client ? r.clientCore : r.serverCore;
        const peerCore = client ? r.echoServerCore : r.loadgenCore;
        const busy = meCore !== undefined
          ? `, ${me} core ${(meCore * 100).toFixed(0)}%, ${peer} core ${(peerCore * 100).toFixed(0)}%`
          : '';
        console.log(`${fmt(r.value)} ${sc.metric}  (${fmtRate(r.rate)} ${r.rateUnit}${busy}` +
          `${cellExtra(sc, r)}; ${r.cellSeconds.toFixed(1)} s)`);
        if (sc.saturates && meCore < 0.8 && !(peerCore > 0.9)) {
          notes.push(`${sc.title} / ${impl}: the ${me} used only ${(meCore * 100).toFixed(0)}% ` +
            'of its core: other load on the machine? (see /proc/loadavg in the JSON)');
        }
        if (peerCore > 0.9 && meCore < 0.9) {
          if (client) r.echoServerBound = true;
          else r.loadgenBound = true;
          notes.push(`${sc.title} / ${impl}: the ${peer}'s core was saturated ` +
            `(${(peerCore * 100).toFixed(0)}%) while the ${me}'s was not: throughput is ` +
            `${peer.replace(' ', '-')}-bound`);
        }
      } else {
        console.log(`FAILED: ${r.error}`);
      }
    }
    return r;
  }

  const results = {};
  for (const sc of scenarios) {
    results[sc.id] = {};
    const client = sc.kind === 'client';
    const cells = {}; // impl -> results of its rounds
    for (let round = 0; round < opts.rounds; round++) {
      // each round starts one implementation further on, so none always runs first
      const order = opts.impls.map((_, k) => opts.impls[(k + round) % opts.impls.length]);
      for (const impl of order) {
        (cells[impl] || (cells[impl] = [])).push(await runOneCell(sc, impl, round));
      }
    }
    for (const impl of opts.impls) {
      results[sc.id][impl] = medianCell(cells[impl]);
    }
    if (client) await stopEchoServer();
  }

  const impls = opts.impls;
  const [rows, rowResults] = tableRows(scenarios, results, impls);
  console.log(printTable(rows, rowResults, impls));
  const lateNotes = notes.filter((n) => /-bound$|other load/.test(n));
  for (const n of lateNotes) console.log('note: ' + n);

  const totalSeconds = (Date.now() - started) / 1000;
  const report = {
    date: new Date().toISOString(),
    mode: opts.quick ? 'quick' : 'full',
    machine,
    pinning: PIN,
    // client scenario: the client runs where the servers do, the Rust echo server where the loadgen does
    clientPinning: { client: PIN.server, echoServer: PIN.loadgen },
    versions: {
      'websocket-rs': require(path.join(ROOT, 'package.json')).version,
      'websocket-rs commit': gitCommit(),
      ws: versionOf('ws'),
      websocket: versionOf('websocket'),
      uws: versionOf(UWS_PACKAGE) && `${UWS_PACKAGE} ${versionOf(UWS_PACKAGE)}`,
    },
    baseline: BASELINE,
    scenarios: rows.map((sc) => ({
      id: sc.id,
      title: sc.title,
      description: sc.desc,
      metric: sc.metric,
      params: sc.params,
      ...(sc.derivedFrom ? { derivedFrom: sc.derivedFrom } : {}),
      ...(sc.deflate ? { server: 'perMessageDeflate: true (websocket-rs and ws)' +
        (sc.maxMessage ? `, message limit ${sc.maxMessage} B (maxReceivedMessageSize / maxPayload)` : '') } : {}),
      ...(sc.serverEnv ? { serverEnv: sc.serverEnv } : {}),
      ...(sc.tls ? { tls: 'https.Server (P-256 certificate signed by a CA made for the run, ' +
        '__test__/certs.js); loadgen: wss://, rustls (ring), TLS 1.3, trusting that CA only' } : {}),
      ...(sc.kind === 'client'
        ? { echoServer: 'bench/loadgen serve (src/serve.rs)', client: 'bench/clients/echo-client.js' } : {}),
      results: Object.fromEntries(impls.map((impl) => {
        const r = rowResults[sc.id][impl];
        const base = rowResults[sc.id][BASELINE];
        const ratio = r.status === 'ok' && base && base.status === 'ok' ? r.value / base.value : null;
        return [impl, { ...r, ratioToWs: ratio }];
      })),
    })),
    notes,
    totalSeconds,
  };
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, report.date.replace(/[:.]/g, '-') + '.json');
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  // the chart: next to the JSON for every run, and at the stable bench/chart.svg (the one the
  // README shows) for a run of every scenario and implementation only, so that a subset run
  // (--scenario / --impl) does not replace it
  const charts = [];
  try {
    const svg = renderChart(report);
    const svgFile = file.replace(/\.json$/, '.svg');
    fs.writeFileSync(svgFile, svg);
    charts.push(path.relative(ROOT, svgFile));
    if (!opts.scenarios && opts.impls.length === IMPLS.length) {
      fs.writeFileSync(CHART_SVG, svg);
      charts.push(path.relative(ROOT, CHART_SVG));
    }
  } catch (e) {
    console.error('could not draw the chart: ' + (e && e.stack ? e.stack : e));
  }
  console.log(`results: ${path.relative(ROOT, file)}` +
    (charts.length ? `, chart: ${charts.join(', ')}` : '') + `   total ${totalSeconds.toFixed(1)} s`);

  const failed = rows.some((sc) => impls.some((i) => rowResults[sc.id][i].status === 'failed'));
  killAll();
  removeCerts();
  if (redisServer) await redisServer.destroy();
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  killAll();
  process.exit(1);
});
