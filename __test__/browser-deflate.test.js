'use strict';
// permessage-deflate with Chromium's own WebSocket, which offers the extension on every
// connection: a page served by this project's server exchanges compressed text and binary
// messages with it, both ways, up to 1 MiB, and the server's byte counters show that what
// crossed the wire was compressed. Chromium: see browser.js.
const assert = require('assert');
const http = require('http');
const { TIMEOUT, launchOrSkip } = require('./browser');
const { server: WebSocketServer } = require('..');

const PAGE = `<!doctype html><title>deflate</title><script>
window.run = async (url, messages) => {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('ws error')); });
  const echoes = [];
  const done = new Promise((resolve) => {
    ws.onmessage = (e) => {
      echoes.push(typeof e.data === 'string' ? { text: e.data } : { binary: Array.from(new Uint8Array(e.data).slice(0, 16)), length: e.data.byteLength });
      if (echoes.length === messages.length) resolve();
    };
  });
  for (const m of messages) {
    if (m.text !== undefined) ws.send(m.text.repeat(m.times));
    else ws.send(new Uint8Array(m.length).fill(m.fill));
  }
  await done;
  const closed = new Promise((resolve) => { ws.onclose = (e) => resolve({ code: e.code, wasClean: e.wasClean }); });
  ws.close(1000, 'bye');
  return { extensions: ws.extensions, echoes, close: await closed };
};
</script>`;

describe('permessage-deflate with Chromium', function () {
  this.timeout(TIMEOUT);
  let browser;
  let h;
  let wss;
  const seen = [];

  before(async function () {
    browser = await launchOrSkip(this, 'browser permessage-deflate tests');
    h = http.createServer((req, res) => res.end(PAGE));
    await new Promise((resolve) => h.listen(0, '127.0.0.1', resolve));
    wss = new WebSocketServer({ httpServer: h, perMessageDeflate: true, maxReceivedMessageSize: 4 << 20 });
    wss.on('request', (r) => {
      const c = r.accept();
      const record = { offer: r.httpRequest.headers['sec-websocket-extensions'], extensions: c.extensions, messages: [] };
      seen.push(record);
      c.on('message', (m) => {
        const data = m.type === 'utf8' ? m.utf8Data : m.binaryData;
        record.messages.push({ type: m.type, length: data.length });
        if (m.type === 'utf8') c.sendUTF(data); else c.sendBytes(data);
      });
      c.on('close', () => {
        record.bytesRead = c.socket.bytesRead;
        record.bytesWritten = c.socket.bytesWritten;
        record.closed = true;
      });
    });
  });

  after(async function () {
    if (wss) wss.shutDown();
    if (h) h.close();
    if (browser) await browser.close().catch(() => {});
  });

  it('text and binary up to 1 MiB, both ways, compressed on the wire', async function () {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${h.address().port}/`);
    const messages = [
      { text: 'hello', times: 1 },
      { text: '{"user":"alice","text":"hello there"},', times: 100 },
      { length: 1 << 20, fill: 7 },
      { text: 'ünïcødé ✓ ', times: 100000 },
      { length: 3000, fill: 1 },
    ];
    const result = await page.evaluate(([url, m]) => window.run(url, m), [`ws://127.0.0.1:${h.address().port}/`, messages]);
    assert.strictEqual(result.extensions, 'permessage-deflate');
    assert.deepStrictEqual(result.close, { code: 1000, wasClean: true });
    assert.strictEqual(result.echoes[0].text, 'hello');
    assert.strictEqual(result.echoes[1].text, '{"user":"alice","text":"hello there"},'.repeat(100));
    assert.strictEqual(result.echoes[2].length, 1 << 20);
    assert.deepStrictEqual(result.echoes[2].binary, new Array(16).fill(7));
    assert.strictEqual(result.echoes[3].text, 'ünïcødé ✓ '.repeat(100000));
    assert.strictEqual(result.echoes[4].length, 3000);

    const record = seen[seen.length - 1];
    assert.match(record.offer, /permessage-deflate/);
    assert.deepStrictEqual(record.extensions.map((e) => e.name), ['permessage-deflate']);
    assert.deepStrictEqual(record.messages.map((m) => m.type), ['utf8', 'utf8', 'binary', 'utf8', 'binary']);
    const total = 5 + 3800 + (1 << 20) + Buffer.byteLength('ünïcødé ✓ '.repeat(100000)) + 3000;
    await page.waitForFunction(() => true);
    for (let i = 0; i < 50 && !record.closed; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(record.closed, 'the server saw the close');
    assert.ok(record.bytesRead < total / 20, `the browser's messages came compressed: ${record.bytesRead} bytes for ${total}`);
    assert.ok(record.bytesWritten < total / 20, `the echoes went compressed: ${record.bytesWritten} bytes for ${total}`);
    await page.close();
  });
});
