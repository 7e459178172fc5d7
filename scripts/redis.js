'use strict';
// A real Redis for the pubsub tests and the cross-process bench: Debian's redis-server, started
// on a free port of 127.0.0.1 (or a Unix socket) with no persistence, stopped after, and a tiny
// RESP client to ask it things (PUBSUB NUMSUB). `redisAvailable()` says whether the command
// exists; `requireRedis()` skips a mocha suite with a notice without it, unless
// WEBSOCKET_RS_REQUIRE_REDIS=1 (CI), which makes that a failure.
const childProcess = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const REDIS = process.env.REDIS_SERVER || 'redis-server';

function redisAvailable() {
  try {
    childProcess.execFileSync(REDIS, ['--version'], { stdio: 'ignore' });
    return true;
  } catch (_) {
    return false;
  }
}

// In a mocha `before`: skips the suite (with a notice) when there is no redis-server, or fails
// when WEBSOCKET_RS_REQUIRE_REDIS=1.
function requireRedis(ctx) {
  if (redisAvailable()) {
    return;
  }
  const why = `${REDIS} not found (apt-get install redis-server, or set REDIS_SERVER)`;
  if (process.env.WEBSOCKET_RS_REQUIRE_REDIS === '1') {
    throw new Error(why);
  }
  console.warn(`\n    NOTICE: Redis tests skipped: ${why}; WEBSOCKET_RS_REQUIRE_REDIS=1 makes this a failure\n`);
  ctx.skip();
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// A redis-server process. `start()` (again after `stop()`: same port or socket) resolves once it
// accepts connections.
class RedisServer {
  // opts.unix: listen on a Unix socket; opts.spawn(cmd, args): how to start the process (the
  // bench pins it to a core), returning a ChildProcess with piped stdout and stderr.
  // opts.tls: { cert, key, ca } PEM Buffers: TLS only (rediss://), clients not asked for a
  // certificate.
  constructor(opts) {
    this.unix = Boolean(opts && opts.unix);
    this.spawn = opts && opts.spawn;
    this.tls = (opts && opts.tls) || null;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsrs-redis-'));
    this.port = 0;
    this.socket = path.join(this.dir, 'redis.sock');
    this.proc = null;
  }

  get url() {
    if (this.unix) return 'redis+unix://' + this.socket;
    return (this.tls ? 'rediss://' : 'redis://') + '127.0.0.1:' + this.port;
  }

  async start() {
    if (!this.unix && this.port === 0) {
      this.port = await freePort();
    }
    const args = ['--save', '', '--appendonly', 'no', '--dir', this.dir, '--bind', '127.0.0.1'];
    if (this.unix) {
      args.push('--port', '0', '--unixsocket', this.socket, '--unixsocketperm', '700');
    } else if (this.tls) {
      for (const [name, pem] of Object.entries(this.tls)) {
        fs.writeFileSync(path.join(this.dir, name + '.pem'), pem, { mode: 0o600 });
      }
      const f = (name) => path.join(this.dir, name + '.pem');
      args.push('--port', '0', '--tls-port', String(this.port), '--tls-cert-file', f('cert'),
        '--tls-key-file', f('key'), '--tls-ca-cert-file', f('ca'), '--tls-auth-clients', 'no');
    } else {
      args.push('--port', String(this.port));
    }
    const proc = this.spawn ? this.spawn(REDIS, args) : childProcess.spawn(REDIS, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    let out = '';
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('redis-server did not start:\n' + out)), 10000);
      const onData = (d) => {
        out += d;
        if (/ready to accept connections/i.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error('redis-server exited (' + code + '):\n' + out));
      });
    });
    proc.stdout.resume();
    proc.stderr.resume();
  }

  stop() {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  }

  async destroy() {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // Runs one command (an array of strings) and resolves with its reply, parsed from RESP.
  command(args) {
    return new Promise((resolve, reject) => {
      const s = this.unix ? net.connect(this.socket)
        : this.tls ? require('tls').connect({ port: this.port, host: '127.0.0.1', ca: this.tls.ca, servername: 'localhost' })
          : net.connect(this.port, '127.0.0.1');
      let buf = Buffer.alloc(0);
      s.on('error', reject);
      s.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        const r = parseReply(buf, 0);
        if (r !== null) {
          s.destroy();
          resolve(r.value);
        }
      });
      s.write('*' + args.length + '\r\n' + args.map((a) => '$' + Buffer.byteLength(a) + '\r\n' + a + '\r\n').join(''));
    });
  }

  // The number of subscribers Redis counts on `channel`.
  async numsub(channel) {
    const r = await this.command(['PUBSUB', 'NUMSUB', channel]);
    return Number(r[1]);
  }
}

// A RESP2 reply at `at` in `buf`: { value, end }, or null when incomplete.
function parseReply(buf, at) {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[at]);
  const line = buf.toString('utf8', at + 1, eol);
  if (type === '+' || type === '-' || type === ':') return { value: line, end: eol + 2 };
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, end: eol + 2 };
    if (buf.length < eol + 2 + n + 2) return null;
    return { value: buf.toString('utf8', eol + 2, eol + 2 + n), end: eol + 2 + n + 2 };
  }
  if (type === '*') {
    const n = Number(line);
    const out = [];
    let pos = eol + 2;
    for (let i = 0; i < n; i++) {
      const r = parseReply(buf, pos);
      if (r === null) return null;
      out.push(r.value);
      pos = r.end;
    }
    return { value: out, end: pos };
  }
  throw new Error('unexpected RESP type ' + type);
}

module.exports = { RedisServer, requireRedis, redisAvailable };
