'use strict';
// Connection churn and soak against an echo server (bench/servers/echo.js).
//
//   node bench/churn.js                        100,000 connections, then the server's fds and RSS
//   node bench/churn.js --conns 20000 --impl ws
//   node bench/churn.js --soak-minutes 60      an hour of churn mixed with echo traffic, a report
//                                              line per minute (for long runs, not for CI)
//
// Each connection does the upgrade, echoes one message, then ends one of four ways, in turn: a
// clean close handshake, a close frame followed at once by a reset, a plain TCP FIN without a
// close frame, or a reset with no warning. The server's open descriptors and RSS (after a full
// GC, node --expose-gc) are read from /proc before and after; "fds back to start" and "RSS within
// 10% of the start" are what issue #6 asks.
//
// The first 20,000 connections are a warm-up and not counted: besides JIT and allocator pools,
// V8's young generation grows during the first tens of thousands of handshakes of any Node
// server (8 to 32 MiB here, ws's as much as ours), then stays. Measured from 2,000 connections,
// that one-time growth reads as +24 to +35% for every implementation; `--warmup 2000` shows it.
// `--soak-minutes` shows the plateau after it (about +0.2% from 200,000 to 450,000).

const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const path = require('path');

const ECHO_JS = path.join(__dirname, 'servers', 'echo.js');

function parseArgs(argv) {
  const o = { conns: 100000, concurrency: 50, impl: 'websocket-rs', warmup: 20000, soakMinutes: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--conns') o.conns = Number(argv[++i]);
    else if (a === '--concurrency') o.concurrency = Number(argv[++i]);
    else if (a === '--impl') o.impl = argv[++i];
    else if (a === '--warmup') o.warmup = Number(argv[++i]);
    else if (a === '--soak-minutes') o.soakMinutes = Number(argv[++i]);
    else {
      console.error('usage: node bench/churn.js [--conns N] [--concurrency C] [--impl websocket-rs|ws|websocket] ' +
        '[--warmup N] [--soak-minutes M]');
      process.exit(2);
    }
  }
  return o;
}

function startServer(impl) {
  const child = spawn(process.execPath, ['--expose-gc', ECHO_JS, '--impl', impl, '--port', '0',
    '--exit-on-stdin-eof'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const waiters = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    out += d;
    for (const w of waiters.splice(0)) w();
  });
  const line = (prefix, ms) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not say ' + prefix)), ms);
    const check = () => {
      const lines = out.split('\n');
      const i = lines.findIndex((l) => l.startsWith(prefix));
      if (i >= 0) {
        out = lines.slice(i + 1).join('\n');
        clearTimeout(timer);
        resolve(lines[i]);
      } else {
        waiters.push(check);
      }
    };
    check();
  });
  return { child, line };
}

function masked(opcode, payload) {
  const mask = crypto.randomBytes(4);
  const head = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]));
  return Buffer.concat([head, mask, body]);
}
const HELLO = masked(1, Buffer.from('churn'));
const CLOSE = masked(8, Buffer.from([0x03, 0xe8]));

// One connection's life; resolves when it is over (whatever the server did), never rejects.
function oneConnection(port, ending) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let stage = 0; // 0: waiting for 101, 1: waiting for the echo, 2: ending
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), 10000);
    let failed = false;
    const finish = () => {
      clearTimeout(timer);
      resolve(failed);
    };
    socket.on('error', () => {});
    socket.on('close', finish);
    socket.on('connect', () => {
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: ' + crypto.randomBytes(16).toString('base64') + '\r\n' +
        'Sec-WebSocket-Version: 13\r\n\r\n');
    });
    socket.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (stage === 0) {
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        if (!buf.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) {
          failed = true;
          socket.destroy();
          return;
        }
        buf = buf.subarray(i + 4);
        stage = 1;
        socket.write(HELLO);
      }
      if (stage === 1 && buf.length >= 7) {
        stage = 2;
        if (ending === 0) socket.write(CLOSE); // clean: wait for the server's close and FIN
        else if (ending === 1) socket.write(CLOSE, () => socket.resetAndDestroy());
        else if (ending === 2) socket.end();
        else socket.resetAndDestroy();
      }
    });
  });
}

async function churn(port, count, concurrency) {
  let next = 0;
  let failures = 0;
  const worker = async () => {
    while (next < count) {
      const k = next++;
      if (await oneConnection(port, k % 4)) failures++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures;
}

function fdCount(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

function rssKB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function settle(server) {
  await sleep(1000); // closes in flight finish
  server.child.stdin.write('gc\n');
  await server.line('GC-DONE', 15000);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const server = startServer(o.impl);
  const port = Number((await server.line('READY ', 15000)).split(' ')[1]);
  const pid = server.child.pid;
  try {
    if (await churn(port, o.warmup, o.concurrency)) throw new Error('warm-up connections failed');
    await settle(server);
    const start = { fds: fdCount(pid), rssKB: rssKB(pid) };
    const t0 = Date.now();
    let total = 0;
    let failures = 0;
    if (o.soakMinutes > 0) {
      const end = t0 + o.soakMinutes * 60000;
      for (let minute = 1; Date.now() < end; minute++) {
        const until = Math.min(end, t0 + minute * 60000);
        while (Date.now() < until) {
          failures += await churn(port, 1000, o.concurrency);
          total += 1000;
        }
        console.log(JSON.stringify({ minute, connections: total, failures, fds: fdCount(pid), rssKB: rssKB(pid) }));
      }
    } else {
      failures = await churn(port, o.conns, o.concurrency);
      total = o.conns;
    }
    const seconds = (Date.now() - t0) / 1000;
    await settle(server);
    const end = { fds: fdCount(pid), rssKB: rssKB(pid) };
    const report = {
      impl: o.impl,
      connections: total,
      failures,
      seconds: Number(seconds.toFixed(1)),
      rate: Math.round(total / seconds),
      fds: { start: start.fds, end: end.fds, back: end.fds <= start.fds },
      rssKB: { start: start.rssKB, end: end.rssKB, growth: Number(((end.rssKB / start.rssKB - 1) * 100).toFixed(1)) + '%' },
      rssWithin10Percent: end.rssKB <= start.rssKB * 1.1,
    };
    console.log(JSON.stringify(report, null, 2));
    process.exitCode = report.fds.back && report.rssWithin10Percent && failures === 0 ? 0 : 1;
  } finally {
    server.child.stdin.end();
    server.child.kill('SIGTERM');
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
