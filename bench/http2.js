'use strict';
// WebSockets over HTTP/2 (RFC 8441) against WebSockets over HTTP/1.1 TLS, on the same server:
// bench/servers/echo.js --impl websocket-rs --http2 (an http2 secure server with allowHTTP1,
// pinned to CPU 0) echoes 64-byte text messages for bench/clients/echo-client.js (websocket-rs's
// client, pinned to CPU 1): 50 connections x 32 in flight, all 50 as streams of one HTTP/2
// session, or as 50 TLS connections. The figure is the server's CPU time per message, read from
// /proc; the two transports alternate for --rounds rounds (default 3) and each reports its median.
//
//   node bench/http2.js [--quick] [--rounds K]
//
// The loadgen of bench/run.js speaks no HTTP/2, hence a Node client here, the same for both
// transports; it is slower than the Rust loadgen, so the server does not saturate its core and
// the figures are not comparable with run.js's echo64-tls row, only with each other.
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { makeCerts } = require('../__test__/certs');

const ECHO_JS = path.join(__dirname, 'servers', 'echo.js');
const CLIENT_JS = path.join(__dirname, 'clients', 'echo-client.js');
const PIN = { server: '0', client: '1' };

function parseArgs(argv) {
  const o = { quick: false, rounds: 3 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--quick') o.quick = true;
    else if (argv[i] === '--rounds') o.rounds = Number(argv[++i]);
    else throw new Error('usage: node bench/http2.js [--quick] [--rounds K]');
  }
  if (!Number.isInteger(o.rounds) || o.rounds < 1 || o.rounds > 9) throw new Error('--rounds takes 1 to 9');
  return o;
}

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch (e) {
    return false;
  }
})();

function start(cpu, args) {
  const cmd = hasTaskset ? 'taskset' : process.execPath;
  const full = hasTaskset ? ['-c', cpu, process.execPath, ...args] : args;
  const child = spawn(cmd, full, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  const waiters = [];
  readline.createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w();
  });
  child.nextLine = async (ms, what) => {
    const deadline = Date.now() + ms;
    while (lines.length === 0) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('no ' + what);
      await new Promise((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
    return lines.shift();
  };
  return child;
}

// user + system CPU time of `pid` in microseconds
function cpuMicros(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / 100;
}

async function cell(port, caFile, http2, p) {
  const args = [CLIENT_JS, '--impl', 'websocket-rs', '--url', `wss://localhost:${port}/`, '--ca', caFile,
    '--conns', '50', '--inflight', '32', '--size', '64', '--warmup', String(p.warmup), '--messages', String(p.messages)];
  if (http2) args.push('--http2');
  const client = start(PIN.client, args);
  try {
    const ready = JSON.parse(await client.nextLine(60000, 'connections'));
    if (ready.errors > 0 || ready.connected !== 50) throw new Error('client: ' + JSON.stringify(ready));
    return await measure(client, p);
  } finally {
    client.stdin.end();
    await new Promise((r) => (client.exitCode !== null ? r() : client.once('exit', r)));
  }
}

let serverPid = 0;
async function measure(client, p) {
  const c0 = cpuMicros(serverPid);
  client.stdin.write('go\n');
  const res = JSON.parse(await client.nextLine(p.timeoutMs, 'result'));
  const c1 = cpuMicros(serverPid);
  if (res.errors > 0 || res.messages !== p.messages) throw new Error('client: ' + JSON.stringify(res));
  client.stdin.write('close\n');
  return { usPerMsg: (c1 - c0) / res.messages, rate: res.messages / res.seconds };
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[(xs.length - 1) >> 1];

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const p = o.quick
    ? { warmup: 50000, messages: 300000, timeoutMs: 60000 }
    : { warmup: 200000, messages: 1500000, timeoutMs: 300000 };
  const certs = makeCerts();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'websocket-rs-h2bench-'));
  const file = (n, b) => {
    fs.writeFileSync(path.join(dir, n), b);
    return path.join(dir, n);
  };
  const key = file('key.pem', certs.serverKey);
  const cert = file('cert.pem', certs.serverCert);
  const ca = file('ca.pem', certs.ca);
  const server = start(PIN.server, [ECHO_JS, '--impl', 'websocket-rs', '--port', '0', '--tls-key', key,
    '--tls-cert', cert, '--http2', '--exit-on-stdin-eof']);
  serverPid = server.pid;
  try {
    const port = Number((await server.nextLine(10000, 'READY')).split(' ')[1]);
    const results = { h1: [], h2: [] };
    console.log(`echo 64 B text, 50 conns x 32 in flight, ${p.messages} messages per cell; ` +
      `server on CPU ${PIN.server}, client on CPU ${PIN.client}${hasTaskset ? '' : ' (no taskset: not pinned)'}`);
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? ['h1', 'h2'] : ['h2', 'h1'];
      for (const t of order) {
        const r = await cell(port, ca, t === 'h2', p);
        results[t].push(r);
        console.log(`  round ${round + 1} ${t === 'h2' ? 'HTTP/2 stream   ' : 'HTTP/1.1 TLS    '} ` +
          `${r.usPerMsg.toFixed(2)} server CPU-µs/msg (${(r.rate / 1000).toFixed(1)}k msg/s)`);
      }
    }
    const h1 = median(results.h1.map((r) => r.usPerMsg));
    const h2 = median(results.h2.map((r) => r.usPerMsg));
    console.log(`\nmedian server CPU per message: HTTP/1.1 TLS ${h1.toFixed(2)} µs, HTTP/2 ${h2.toFixed(2)} µs ` +
      `(HTTP/2 / HTTP/1.1 = ${(h2 / h1).toFixed(2)}x)`);
  } finally {
    server.stdin.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error('bench/http2.js: ' + ((e && e.stack) || e));
  process.exit(1);
});
