'use strict';
// WEBSOCKET_RS_FORCE_BRIDGE=1 (npm test runs the suite in both modes) reaches the children too.
const FORCED_BRIDGE = process.env.WEBSOCKET_RS_FORCE_BRIDGE === '1';
// Lifetime of what the server creates: file descriptors after many connections, and the
// process (and worker_threads) staying alive exactly while connections are open.
const assert = require('assert');
const childProcess = require('child_process');
const fs = require('fs');
const http = require('http');
const path = require('path');
const WebSocket = require('ws');

const WebSocketServer = require('..').server;

const FIXTURES = path.join(__dirname, 'fixtures');

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function fdCount() {
  return fs.readdirSync('/proc/self/fd').length;
}

// Polls the fd count until it reads the same several times in a row (closes in flight on the
// runtime thread or in libuv have landed) and is at most `ceiling`; returns the last reading.
async function settledFdCount(ceiling) {
  let last = -1;
  let same = 0;
  for (;;) {
    const n = fdCount();
    same = n === last ? same + 1 : 0;
    last = n;
    if (same >= 4 && (ceiling === undefined || n <= ceiling)) {
      return n;
    }
    await delay(25);
  }
}

function openClient(port, pathname) {
  const ws = new WebSocket('ws://127.0.0.1:' + port + (pathname || '/'));
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  return opened.then(() => ws);
}

// Sends `text` and resolves with the next message received, as a string.
function echo(ws, text) {
  const got = new Promise((resolve) => ws.once('message', (data) => resolve(String(data))));
  ws.send(text);
  return got;
}

// ---------------------------------------------------------------------------------------------
// A child process running a fixture script, with its stdout read as lines.

class Child {
  constructor(script, args) {
    this.lines = [];
    this.waiters = [];
    this.stderr = '';
    this.proc = childProcess.spawn(process.execPath, [path.join(FIXTURES, script)].concat(args || []), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => resolve({ code: code, signal: signal }));
    });
    let partial = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (chunk) => {
      partial += chunk;
      let nl;
      while ((nl = partial.indexOf('\n')) !== -1) {
        this.lines.push(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
      this._notify();
    });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (chunk) => {
      this.stderr += chunk;
    });
    this.proc.once('exit', () => this._notify());
  }

  get alive() {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  _notify() {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w());
  }

  // The first output line starting with `prefix` (its remainder, trimmed); rejects if the
  // child exits without printing one.
  line(prefix) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.find((l) => l.startsWith(prefix));
        if (found !== undefined) {
          resolve(found.slice(prefix.length).trim());
        } else if (!this.alive) {
          reject(new Error('child exited without printing "' + prefix + '"; stdout: ' +
            JSON.stringify(this.lines) + ' stderr: ' + this.stderr));
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  kill() {
    if (this.alive) {
      this.proc.kill('SIGKILL');
    }
  }
}

// ---------------------------------------------------------------------------------------------

describe('lifetime', function () {
  describe('file descriptors', function () {
    this.timeout(45000);

    let httpServer = null;
    let wsServer = null;
    let clients = [];

    afterEach(async function () {
      clients.forEach((ws) => ws.terminate());
      clients = [];
      if (wsServer) {
        wsServer.shutDown();
        wsServer = null;
      }
      if (httpServer) {
        await new Promise((resolve) => {
          httpServer.close(resolve);
          httpServer.closeAllConnections();
        });
        httpServer = null;
      }
    });

    it('1,000 connections opened and closed (half cleanly, half terminated) leave no fd behind',
      async function () {
        httpServer = http.createServer();
        await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
        const port = httpServer.address().port;
        wsServer = new WebSocketServer({ httpServer: httpServer });
        let serverCloses = 0;
        const codes = {};
        let closeWaiter = null;
        wsServer.on('request', (request) => request.accept(null, request.origin));
        wsServer.on('connect', (connection) => {
          connection.on('message', (m) => connection.sendUTF(m.utf8Data));
          connection.on('error', () => {});
        });
        wsServer.on('close', (connection, code) => {
          serverCloses++;
          codes[code] = (codes[code] || 0) + 1;
          if (closeWaiter) {
            closeWaiter();
          }
        });
        const serverClosesReach = (n) => new Promise((resolve) => {
          const check = () => {
            if (serverCloses >= n) {
              closeWaiter = null;
              resolve();
            } else {
              closeWaiter = check;
            }
          };
          check();
        });

        // Warm-up: the runtime thread, its epoll and eventfd, the event channel.
        const warm = await openClient(port, '/warm-up');
        assert.strictEqual(await echo(warm, 'warm'), 'warm');
        warm.close(1000);
        await warm.closed;
        await serverClosesReach(1);
        const baseline = await settledFdCount();

        const TOTAL = 1000;
        const BATCH = 100;
        for (let start = 0; start < TOTAL; start += BATCH) {
          clients = await Promise.all(Array.from({ length: BATCH },
            (_, i) => openClient(port, '/c' + (start + i))));
          // Every connection works before it goes.
          const echoes = await Promise.all(clients.map((ws, i) => echo(ws, 'm' + i)));
          echoes.forEach((text, i) => assert.strictEqual(text, 'm' + i));
          clients.forEach((ws, i) => {
            if (i % 2 === 0) {
              ws.close(1000);
            } else {
              ws.terminate();
            }
          });
          await Promise.all(clients.map((ws) => ws.closed));
          clients = [];
          await serverClosesReach(1 + start + BATCH);
        }

        assert.strictEqual(serverCloses, 1 + TOTAL);
        assert.strictEqual(codes[1000], 1 + TOTAL / 2, JSON.stringify(codes));
        assert.strictEqual(codes[1006], TOTAL / 2, JSON.stringify(codes));
        assert.strictEqual(wsServer.connections.length, 0);
        assert.strictEqual(wsServer.pendingRequests.length, 0);
        // Bounded by the mocha timeout: waits for the fd count to settle at baseline + 2 or less.
        const after = await settledFdCount(baseline + 2);
        assert.ok(after <= baseline + 2, 'fds: baseline ' + baseline + ', after ' + after);
      });
  });

  describe('process lifetime (child process)', function () {
    this.timeout(20000);

    let child = null;
    let clients = [];

    afterEach(function () {
      clients.forEach((ws) => ws.terminate());
      clients = [];
      if (child) {
        child.kill();
        child = null;
      }
    });

    it("a script shaped like WebSocket-Node's echo-server (connection._debug.printOutput() on close) " +
      'serves a second client after the first leaves', async function () {
      child = new Child('echo-server-debug.js');
      const port = Number(await child.line('PORT '));
      const first = await openClient(port);
      clients.push(first);
      assert.strictEqual(await echo(first, 'one'), 'one');
      first.close(1000);
      assert.strictEqual(await first.closed, 1000);
      assert.strictEqual(await child.line('CLOSE '), '1000', 'stderr: ' + child.stderr);
      const second = await openClient(port);
      clients.push(second);
      assert.strictEqual(await echo(second, 'two'), 'two');
      assert.ok(child.alive, 'stderr: ' + child.stderr);
      assert.strictEqual(child.stderr, '');
    });

    it('the child stays alive while a connection is open and exits by itself (0) after ' +
      'shutDown() and httpServer.close()', async function () {
      child = new Child('lifetime-server.js', ['keep-http']);
      const port = Number(await child.line('PORT '));
      const ws = await openClient(port);
      clients.push(ws);
      assert.strictEqual(await echo(ws, 'one'), 'one');
      await delay(300);
      assert.ok(child.alive, 'child alive');
      assert.strictEqual(await echo(ws, 'two'), 'two');

      ws.send('shutdown');
      assert.strictEqual(await ws.closed, 1000);
      const exit = await child.exited;
      assert.deepStrictEqual(exit, { code: 0, signal: null }, 'stderr: ' + child.stderr);
      assert.ok(child.lines.includes('CLOSE 1000'), JSON.stringify(child.lines));
    });

    it('an open connection alone keeps the child alive (http server already closed); ' +
      'after shutDown() it exits by itself with 0', async function () {
      child = new Child('lifetime-server.js', ['close-http-early']);
      const port = Number(await child.line('PORT '));
      const ws = await openClient(port);
      clients.push(ws);
      // An adopted socket leaves the http server at once, so its close completes; a bridged
      // one stays with the server (as in the original) until the connection ends.
      const httpClosed = child.line('HTTP_CLOSED');
      if (!FORCED_BRIDGE) {
        await httpClosed;
      }
      assert.strictEqual(await echo(ws, 'one'), 'one');
      await delay(500);
      assert.ok(child.alive, 'the open connection keeps the child alive');
      assert.strictEqual(await echo(ws, 'two'), 'two');

      ws.send('shutdown');
      assert.strictEqual(await ws.closed, 1000);
      await httpClosed;
      const exit = await child.exited;
      assert.deepStrictEqual(exit, { code: 0, signal: null }, 'stderr: ' + child.stderr);
    });

    it('two worker_threads each run a server, echo, shut down, and the process exits with 0',
      async function () {
        child = new Child('two-workers.js');
        const ports = (await child.line('PORTS ')).split(' ').map(Number);
        assert.strictEqual(ports.length, 2);
        assert.notStrictEqual(ports[0], ports[1]);
        const a = await openClient(ports[0]);
        const b = await openClient(ports[1]);
        clients.push(a, b);
        const [ea, eb] = await Promise.all([echo(a, 'hello'), echo(b, 'hello')]);
        assert.strictEqual(ea, 'worker 0: hello');
        assert.strictEqual(eb, 'worker 1: hello');

        a.send('shutdown');
        assert.strictEqual(await a.closed, 1000);
        await child.line('WORKER_EXIT 0');
        // The other worker still serves after the first one went away.
        assert.strictEqual(await echo(b, 'still there'), 'worker 1: still there');
        b.send('shutdown');
        assert.strictEqual(await b.closed, 1000);

        const exit = await child.exited;
        assert.deepStrictEqual(exit, { code: 0, signal: null }, 'stderr: ' + child.stderr);
        assert.ok(child.lines.includes('WORKER_EXIT 0 0'), JSON.stringify(child.lines));
        assert.ok(child.lines.includes('WORKER_EXIT 1 0'), JSON.stringify(child.lines));
        assert.ok(!child.lines.some((l) => l.startsWith('WORKER_ERROR')),
          JSON.stringify(child.lines));
      });

    it('a worker terminated with open connections: the process survives and the clients ' +
      'see their connections closed', async function () {
      child = new Child('terminate-worker.js');
      const port = Number(await child.line('PORT '));
      const all = await Promise.all(Array.from({ length: 5 }, () => openClient(port)));
      clients.push(...all);
      all.forEach((ws) => ws.on('error', () => {}));
      for (const ws of all) {
        assert.strictEqual(await echo(ws, 'before'), 'before');
      }
      // Keep traffic flowing on every connection while the worker goes away.
      let sending = true;
      const pumps = all.map(async (ws) => {
        for (let i = 0; sending && ws.readyState === WebSocket.OPEN; i++) {
          ws.send('pump ' + i);
          await new Promise((resolve) => setImmediate(resolve));
        }
      });
      all[0].send('terminate');
      const codes = await Promise.all(all.map((ws) => ws.closed));
      sending = false;
      await Promise.all(pumps);
      for (const code of codes) {
        assert.ok(code === 1006 || code === 1001, 'close code ' + code);
      }

      assert.strictEqual(await child.line('TERMINATED '), '1');
      // The process lives on, and the addon still works in it.
      const port2 = Number(await child.line('PORT2 '));
      assert.ok(child.alive);
      const ws2 = await openClient(port2);
      clients.push(ws2);
      assert.strictEqual(await echo(ws2, 'after'), 'after');
      ws2.send('shutdown');
      assert.strictEqual(await ws2.closed, 1000);
      const exit = await child.exited;
      assert.deepStrictEqual(exit, { code: 0, signal: null }, 'stderr: ' + child.stderr);
      assert.ok(!child.lines.some((l) => l.startsWith('WORKER_ERROR')),
        JSON.stringify(child.lines));
    });
  });
});
