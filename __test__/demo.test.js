'use strict';
// The browser demo (examples/chat): its server as a child process, two headless Chromium pages
// talking through it with the browser's native WebSocket (Chromium: see browser.js).
const assert = require('assert');
const path = require('path');
const { spawn } = require('child_process');
const WebSocket = require('ws');

const SERVER = path.join(__dirname, '..', 'examples', 'chat', 'server.js');
const { TIMEOUT, launchOrSkip } = require('./browser');

// Starts the demo (on a free port unless given one); resolves with the port it printed.
function startServer(state, port) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER], {
      env: Object.assign({}, process.env, { PORT: String(port || 0), HOST: '127.0.0.1' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    state.child = child;
    process.once('exit', () => child.kill('SIGKILL')); // last resort if `after` never ran
    let out = '';
    const onData = (chunk) => {
      out += chunk;
      const m = /websocket-rs demo: http:\/\/localhost:(\d+)\//.exec(out);
      if (m) resolve(Number(m[1]));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code, signal) => reject(new Error(`demo server exited (${code || signal}) before listening:\n${out}`)));
    setTimeout(() => reject(new Error(`demo server did not print its address within 10 s:\n${out}`)), 10000).unref();
  });
}

function stopServer(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// Resolves with the HTTP status of a refused upgrade (or 101 if it was accepted).
function upgradeStatus(url, protocols, origin) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, origin ? { origin } : {});
    ws.on('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.on('unexpected-response', (req, res) => {
      res.resume();
      req.destroy();
      resolve(res.statusCode);
    });
    ws.on('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

describe('browser demo (examples/chat)', function () {
  this.timeout(TIMEOUT);
  const state = { child: null, browser: null };
  const pages = {};
  let port;
  let base;

  before(async function () {
    state.browser = await launchOrSkip(this, 'browser demo tests');
    port = await startServer(state);
    base = `http://127.0.0.1:${port}/`;
  });

  after(async function () {
    const browser = state.browser;
    await Promise.all([stopServer(state.child), browser && browser.close().catch(() => {})]);
  });

  async function openPage(nick) {
    const context = await state.browser.newContext({ viewport: { width: 1200, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT / 2);
    const errors = [];
    page.on('pageerror', (err) => errors.push(err));
    page.errors = errors;
    await page.goto(base);
    await page.waitForSelector('#status[data-state="open"]');
    await page.fill('#nick', nick);
    await page.press('#nick', 'Enter');
    await page.waitForFunction((n) => document.getElementById('nick').value === n && localStorage.getItem('nick') === n, nick);
    return page;
  }

  const chatShows = (page, text) =>
    page.waitForFunction(
      (t) => Array.from(document.querySelectorAll('#messages li')).some((li) => li.textContent.includes(t)),
      text,
    );

  // Counts the drawn (non-transparent) pixels of the board along row y (0..1).
  const inkOnRow = (page, y) =>
    page.evaluate((yy) => {
      const c = document.getElementById('board');
      const row = Math.round(yy * c.height);
      const data = c.getContext('2d').getImageData(0, row - 2, c.width, 5).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    }, y);

  it('serves the page and refuses foreign origins and other subprotocols', async function () {
    const res = await fetch(base);
    assert.strictEqual(res.status, 200);
    assert.match(await res.text(), /<canvas id="board"/);
    assert.strictEqual((await fetch(base + 'server.js')).status, 404);
    const ws = `ws://127.0.0.1:${port}/`;
    assert.strictEqual(await upgradeStatus(ws, 'chat-demo', `http://127.0.0.1:${port}`), 101);
    assert.strictEqual(await upgradeStatus(ws, 'chat-demo', 'https://evil.example'), 403);
    assert.strictEqual(await upgradeStatus(ws, 'other', `http://127.0.0.1:${port}`), 400);
  });

  it('two pages chat and share whiteboard strokes', async function () {
    const a = (pages.a = await openPage('alice'));
    const b = (pages.b = await openPage('bob'));

    // chat, both ways
    await a.fill('#text', 'hello from alice');
    await a.click('#send');
    await chatShows(b, 'alicehello from alice');
    await b.fill('#text', 'hi alice, bob here');
    await b.press('#text', 'Enter');
    await chatShows(a, 'bobhi alice, bob here');
    assert.strictEqual(await a.locator('#messages li.mine').count(), 1);
    assert.match(await b.textContent('#users'), /2 online/);

    // a horizontal stroke across the middle of A's board
    assert.strictEqual(await inkOnRow(b, 0.5), 0);
    const box = await a.locator('#board').boundingBox();
    const y = box.y + box.height / 2;
    await a.mouse.move(box.x + box.width * 0.2, y);
    await a.mouse.down();
    await a.mouse.move(box.x + box.width * 0.8, y, { steps: 20 });
    await a.mouse.up();
    await b.waitForFunction(() => Number(document.getElementById('board').dataset.remoteStrokes) > 0);
    await b.waitForFunction(() => {
      const c = document.getElementById('board');
      const px = (x) => c.getContext('2d').getImageData(Math.round(x * c.width), c.height / 2, 1, 1).data[3];
      return px(0.25) > 0 && px(0.5) > 0 && px(0.75) > 0;
    });
    const ink = await inkOnRow(b, 0.5);
    assert.ok(ink > 960 * 0.5, `expected a line across B's board, got ${ink} inked pixels`);
    assert.strictEqual(await inkOnRow(b, 0.2), 0, 'nothing drawn elsewhere');
    assert.strictEqual(await a.evaluate(() => document.getElementById('board').dataset.remoteStrokes), '0');

    // a page opened later gets the board's history
    const c = await openPage('carol');
    await c.waitForFunction(() => {
      const cv = document.getElementById('board');
      return cv.getContext('2d').getImageData(cv.width / 2, cv.height / 2, 1, 1).data[3] > 0;
    });
    await chatShows(a, 'is now carol');

    for (const page of [a, b, c]) assert.deepStrictEqual(page.errors, []);
    await c.context().close();
  });

  it('shows the disconnection and reconnects when the server comes back', async function () {
    const { a, b } = pages;
    assert.ok(a && b, 'needs the pages of the previous test');
    await stopServer(state.child);
    await Promise.all([a, b].map((page) => page.waitForSelector('#status[data-state="closed"]')));
    assert.strictEqual(await b.isDisabled('#send'), true);
    await startServer(state, port); // same port: the pages retry it (backoff 0.5 s, 1 s, 2 s, ...)
    await Promise.all([a, b].map((page) => page.waitForSelector('#status[data-state="open"]')));
    await b.fill('#text', 'bob is back');
    await b.click('#send');
    await chatShows(a, 'bobbob is back'); // the nickname was sent again on reconnect
    for (const page of [a, b]) assert.deepStrictEqual(page.errors, []);
  });
});
