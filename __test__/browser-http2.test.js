'use strict';
// WebSockets over HTTP/2 (RFC 8441) with Chromium's own WebSocket: a page loaded over HTTP/2
// from this project's server opens wss: WebSockets that arrive as extended CONNECT streams of the
// page's session (ALPN h2, :protocol websocket, no 'upgrade' event), exchange text and binary both
// ways up to 1 MiB, and close cleanly. A WebSocket to another host name of the same server (no
// connection open to it yet, so Chromium uses HTTP/1.1) arrives as an upgrade and works too.
// Chromium: see browser.js; the certificate is self-signed, hence --ignore-certificate-errors.
const assert = require('assert');
const http2 = require('http2');
const { TIMEOUT, launchOrSkip } = require('./browser');
const { requireCerts } = require('./certs');
const { server: WebSocketServer } = require('..');

const PAGE = `<!doctype html><title>h2</title><script>
window.run = async (url, messages) => {
  const ws = new WebSocket(url, ['chat']);
  ws.binaryType = 'arraybuffer';
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('ws error')); });
  const echoes = [];
  const done = new Promise((resolve) => {
    ws.onmessage = (e) => {
      echoes.push(typeof e.data === 'string' ? { text: e.data }
        : { length: e.data.byteLength, sum: new Uint8Array(e.data).reduce((a, b) => (a + b) % 65536, 0) });
      if (echoes.length === messages.length) resolve();
    };
  });
  for (const m of messages) {
    if (m.text !== undefined) ws.send(m.text.repeat(m.times));
    else ws.send(new Uint8Array(m.length).map((_, i) => (i * 7 + m.seed) & 255));
  }
  await done;
  const closed = new Promise((resolve) => { ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }); });
  ws.close(1000, 'bye');
  return { protocol: ws.protocol, echoes, close: await closed };
};
</script>`;

const checksum = (length, seed) => {
  let sum = 0;
  for (let i = 0; i < length; i++) sum = (sum + ((i * 7 + seed) & 255)) % 65536;
  return sum;
};

describe('WebSockets over HTTP/2 with Chromium', function () {
  this.timeout(TIMEOUT);
  let browser;
  let server;
  let wss;
  const seen = [];
  const upgrades = [];
  const pages = [];

  before(async function () {
    browser = await launchOrSkip(this, 'browser HTTP/2 WebSocket tests', ['--ignore-certificate-errors']);
    const certs = requireCerts();
    server = http2.createSecureServer({ key: certs.serverKey, cert: certs.serverCert, allowHTTP1: true });
    // the application's page handler (Node's compatibility API); the WebSocket server mounts beside it
    server.on('request', (req, res) => {
      pages.push({ path: req.url, httpVersion: req.httpVersion, session: req.stream ? req.stream.session : null });
      res.setHeader('content-type', 'text/html');
      res.end(PAGE);
    });
    server.on('upgrade', (req) => upgrades.push(req.url));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    wss = new WebSocketServer({ httpServer: server, maxReceivedFrameSize: 2 << 20, maxReceivedMessageSize: 2 << 20 });
    wss.on('request', (r) => {
      const h2 = r.httpRequest.httpVersionMajor === 2;
      const record = {
        resource: r.resource,
        httpVersion: r.httpRequest.httpVersion,
        alpn: h2 ? r.httpRequest.stream.session.alpnProtocol : r.socket.alpnProtocol,
        session: h2 ? r.httpRequest.stream.session : null,
        protocolHeader: r.httpRequest.headers[':protocol'],
        origin: r.origin,
        messages: [],
      };
      seen.push(record);
      const c = r.accept('chat', r.origin);
      c.on('message', (m) => {
        record.messages.push(m.type);
        if (m.type === 'utf8') c.sendUTF(m.utf8Data); else c.sendBytes(m.binaryData);
      });
      c.on('close', (code) => {
        record.closeCode = code;
      });
    });
  });

  after(async function () {
    if (browser) await browser.close().catch(() => {});
    if (wss) wss.shutDown();
    if (server) server.close();
  });

  const messages = [
    { text: 'hello over h2', times: 1 },
    { length: 1000, seed: 3 },
    { text: 'ünïcødé ✓ ', times: 100000 },
    { length: 1 << 20, seed: 11 },
  ];

  function checkEchoes(result) {
    assert.strictEqual(result.protocol, 'chat');
    assert.deepStrictEqual({ code: result.close.code, wasClean: result.close.wasClean }, { code: 1000, wasClean: true });
    assert.strictEqual(result.echoes[0].text, 'hello over h2');
    assert.deepStrictEqual(result.echoes[1], { length: 1000, sum: checksum(1000, 3) });
    assert.strictEqual(result.echoes[2].text, 'ünïcødé ✓ '.repeat(100000));
    assert.deepStrictEqual(result.echoes[3], { length: 1 << 20, sum: checksum(1 << 20, 11) });
  }

  it('a page loaded over HTTP/2 opens its WebSocket as a stream of the same session', async function () {
    const port = server.address().port;
    const page = await browser.newPage();
    await page.goto(`https://localhost:${port}/page`);
    const result = await page.evaluate(([url, m]) => window.run(url, m), [`wss://localhost:${port}/h2-socket`, messages]);
    checkEchoes(result);
    await page.close();
    assert.strictEqual(pages[0].path, '/page');
    assert.strictEqual(pages[0].httpVersion, '2.0');
    const record = seen.find((r) => r.resource === '/h2-socket');
    assert.ok(record, 'the server saw the WebSocket');
    assert.strictEqual(record.httpVersion, '2.0');
    assert.strictEqual(record.alpn, 'h2');
    assert.strictEqual(record.session, pages[0].session, 'the WebSocket is a stream of the page\'s session');
    assert.strictEqual(record.protocolHeader, 'websocket');
    assert.strictEqual(record.origin, `https://localhost:${port}`);
    assert.deepStrictEqual(record.messages, ['utf8', 'binary', 'utf8', 'binary']);
    assert.ok(!upgrades.includes('/h2-socket'), 'no upgrade event for the HTTP/2 WebSocket');
    for (let i = 0; i < 50 && record.closeCode === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.strictEqual(record.closeCode, 1000);
  });

  it('a WebSocket to a host with no connection yet comes over HTTP/1.1 to the same server', async function () {
    const port = server.address().port;
    const page = await browser.newPage();
    await page.goto(`https://localhost:${port}/page2`);
    // 127.0.0.1 names the same server, but Chromium has no connection to it: it upgrades over HTTP/1.1
    const result = await page.evaluate(([url, m]) => window.run(url, m), [`wss://127.0.0.1:${port}/h1-socket`, messages]);
    checkEchoes(result);
    await page.close();
    const record = seen.find((r) => r.resource === '/h1-socket');
    assert.ok(record, 'the server saw the WebSocket');
    assert.strictEqual(record.httpVersion, '1.1');
    assert.deepStrictEqual(upgrades, ['/h1-socket']);
    assert.deepStrictEqual(record.messages, ['utf8', 'binary', 'utf8', 'binary']);
  });
});
