'use strict';
// permessage-deflate (RFC 7692), checked on the wire from a raw peer in both roles (see
// raw-peer.js), with Node's own zlib (stock zlib, not ours) compressing and inflating on the
// peer's side: negotiation, messages of 0 B to 16 MiB whole and fragmented, context takeover
// across messages, bad RSV1 use, corrupt data and a decompression bomb.
const assert = require('assert');
const zlib = require('zlib');
const { runCleanups, utf8Text } = require('./helpers');
const { OP, within, closePayload, SESSIONS, answerClose, finishTcp } = require('./raw-peer');

const { TEXT, BINARY, CONT, CLOSE, PING } = OP;
const eq = assert.strictEqual;
const KIB = 1024;
const MIB = 1024 * KIB;
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const RSV1 = 4;

// One direction of permessage-deflate on the peer's side, on a zlib stream: with context
// takeover the stream lives across messages, without it each message gets a fresh one.
class PeerCodec {
  constructor(kind, bits, takeover) {
    this.kind = kind;
    this.bits = bits;
    this.takeover = takeover;
    this.stream = null;
  }

  _stream() {
    if (!this.stream) {
      const windowBits = this.kind === 'deflate' ? Math.max(this.bits, 9) : this.bits;
      this.stream = this.kind === 'deflate'
        ? zlib.createDeflateRaw({ windowBits, memLevel: 8 })
        : zlib.createInflateRaw({ windowBits: Math.max(windowBits, 9) });
      this.stream.on('error', () => {});
    }
    return this.stream;
  }

  // Runs `input` through the stream with a sync flush and resolves with all its output.
  _run(input) {
    const stream = this._stream();
    const out = [];
    const onData = (d) => out.push(d);
    stream.on('data', onData);
    return new Promise((resolve, reject) => {
      stream.once('error', reject);
      stream.write(input);
      stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        stream.removeListener('data', onData);
        stream.removeListener('error', reject);
        if (!this.takeover) {
          this.stream.close();
          this.stream = null;
        }
        resolve(Buffer.concat(out));
      });
    });
  }

  async compress(message) {
    const z = await this._run(message);
    assert.ok(z.subarray(-4).equals(TAIL), 'a sync flush ends with 00 00 ff ff');
    return z.length === 4 ? Buffer.from([0x00]) : z.subarray(0, -4);
  }

  inflate(payload) {
    return this._run(Buffer.concat([payload, TAIL]));
  }
}

// The window bits and takeover of each direction, from a permessage-deflate header value.
function agreed(header) {
  const p = { server_no_context_takeover: false, client_no_context_takeover: false, server_max_window_bits: 15, client_max_window_bits: 15 };
  for (const part of header.split(';').slice(1)) {
    const [k, v] = part.trim().split('=');
    p[k] = v === undefined ? true : Number(v);
  }
  return p;
}

function extensionsLine(head) {
  const line = head.split('\r\n').find((l) => /^sec-websocket-extensions:/i.test(l));
  return line === undefined ? null : line.slice(line.indexOf(':') + 1).trim();
}

// Text data that compresses as JSON does: keys repeat, values vary.
function jsonText(n, seed) {
  let s = '';
  for (let i = 0; s.length < n; i++) {
    s += JSON.stringify({ id: i + (seed || 0), name: 'user' + ((i * 7919 + (seed || 0)) % 1000), active: i % 3 === 0, score: (i * 31) % 97 }) + ',';
  }
  return Buffer.from(s.slice(0, n));
}

function noise(n, seed) {
  const b = Buffer.allocUnsafe(n);
  let x = (seed || 1) * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

for (const role of ['server', 'client']) {
  // A session with permessage-deflate: the raw peer offers `offer` (server role) or answers
  // `answer` (client role). Returns the session with `params` (what was agreed) and the peer's
  // codecs, or the session with `params` null when the extension was declined.
  async function open(config, { offer, answer } = {}) {
    const pmd = Object.assign({ threshold: 0 }, config && config.perMessageDeflate);
    const full = Object.assign({}, config, { perMessageDeflate: pmd });
    let s;
    let header;
    if (role === 'server') {
      const extensions = offer === undefined ? 'permessage-deflate; client_max_window_bits' : offer === null ? undefined : offer;
      s = await SESSIONS.server(full, { extensions });
      header = extensionsLine(s.head);
    } else {
      s = await SESSIONS.client(full, {
        answer: (req) => {
          const a = answer === undefined ? 'permessage-deflate' : typeof answer === 'function' ? answer(req) : answer;
          return a === null ? [] : ['Sec-WebSocket-Extensions: ' + a];
        },
      });
      header = answer === null ? null : (answer === undefined ? 'permessage-deflate' : typeof answer === 'function' ? answer(s.request) : answer);
    }
    s.params = header ? agreed(header) : null;
    if (s.params) {
      const p = s.params;
      const mine = role === 'server' ? 'client' : 'server'; // the raw peer's own side
      const theirs = role === 'server' ? 'server' : 'client';
      s.peer.allowRsv1 = true;
      s.tx = new PeerCodec('deflate', p[mine + '_max_window_bits'], !p[mine + '_no_context_takeover']);
      s.rx = new PeerCodec('inflate', p[theirs + '_max_window_bits'], !p[theirs + '_no_context_takeover']);
    }
    return s;
  }

  // The raw peer sends `message` compressed (in `parts` fragments) and expects it back.
  async function echoCompressed(s, op, message, parts, opts) {
    const z = await s.tx.compress(message);
    const n = parts || 1;
    const frames = [];
    for (let i = 0; i < n; i++) {
      const piece = z.subarray(Math.floor((i * z.length) / n), Math.floor(((i + 1) * z.length) / n));
      frames.push(s.peer.frame(i === 0 ? op : CONT, piece, { fin: i === n - 1, rsv: i === 0 ? RSV1 : 0 }));
    }
    s.peer.write(Buffer.concat(frames));
    const m = await s.peer.nextMessage(opts && opts.ms);
    eq(m.opcode, op, 'echo opcode');
    const back = m.compressed ? await s.rx.inflate(m.payload) : m.payload;
    assert.ok(back.equals(message), 'echo of ' + message.length + ' bytes: got ' + back.length + ' bytes');
    return m;
  }

  async function closeNormally(s) {
    s.peer.send(CLOSE, closePayload(1000, 'done'));
    const f = await s.peer.expectClose();
    eq(f.code, 1000);
    await finishTcp(s);
  }

  async function failsWith(s, code) {
    const c = await s.peer.expectClose(5000);
    eq(c.code, code, 'close code ' + c.code + ' (' + c.reason.toString() + '), expected ' + code);
    await answerClose(s, closePayload(code));
    const [localCode] = await within(s.localClose, 3000, "the project's close event");
    eq(localCode, code);
  }

  describe('permessage-deflate, ' + role + ' role', function () {
    this.timeout(30000);
    afterEach(runCleanups);

    describe('negotiation', function () {
      if (role === 'server') {
        const cases = [
          ['permessage-deflate', 'permessage-deflate'],
          ['permessage-deflate; client_max_window_bits', 'permessage-deflate'],
          ['permessage-deflate; server_no_context_takeover', 'permessage-deflate; server_no_context_takeover'],
          ['permessage-deflate; client_no_context_takeover', 'permessage-deflate; client_no_context_takeover'],
          ['permessage-deflate; server_no_context_takeover; client_no_context_takeover',
            'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
          ['x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10', 'permessage-deflate; server_max_window_bits=10'],
          ['permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=9',
            'permessage-deflate; server_max_window_bits=9'],
          ['permessage-deflate; unknown, permessage-deflate', 'permessage-deflate'],
          ['permessage-deflate; client_max_window_bits="12"', 'permessage-deflate; client_max_window_bits=12'],
        ];
        for (const [offer, response] of cases) {
          it('offer "' + offer + '" → "' + response + '", and compressed messages both ways', async function () {
            const s = await open(undefined, { offer });
            eq(extensionsLine(s.head), response);
            await echoCompressed(s, TEXT, jsonText(3000), 1);
            await echoCompressed(s, BINARY, noise(500), 1);
            await closeNormally(s);
          });
        }
        for (const offer of ['permessage-deflate; server_max_window_bits', 'permessage-deflate; server_max_window_bits=7',
          'permessage-deflate; client_max_window_bits=16', 'permessage-deflate; server_no_context_takeover=1',
          'permessage-deflate; client_no_context_takeover; client_no_context_takeover', 'permessage-deflate;;',
          'x-webkit-deflate-frame', 'permessage-deflate; server_max_window_bits=010']) {
          it('offer "' + offer + '" is declined: a 101 without the extension, and RSV1 is then 1002', async function () {
            const s = await open(undefined, { offer });
            eq(extensionsLine(s.head), null);
            eq(s.conn.extensions.length, 0);
            s.peer.send(TEXT, 'plain');
            const m = await s.peer.nextMessage();
            eq(m.payload.toString(), 'plain');
            s.peer.send(TEXT, Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), { rsv: RSV1 });
            await failsWith(s, 1002);
          });
        }
        it('without an offer, nothing is answered and messages are not compressed', async function () {
          const s = await open(undefined, { offer: null });
          eq(extensionsLine(s.head), null);
          s.peer.send(TEXT, 'a'.repeat(5000));
          const m = await s.peer.nextMessage();
          eq(m.compressed, false);
          eq(m.payload.toString(), 'a'.repeat(5000));
          await closeNormally(s);
        });
        it('the server\'s own limits and takeover choices go into the answer', async function () {
          const s = await open({ perMessageDeflate: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 } },
            { offer: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits' });
          eq(extensionsLine(s.head), 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11');
          assert.deepStrictEqual(s.conn.extensions, [{
            name: 'permessage-deflate',
            params: [{ name: 'server_no_context_takeover' }, { name: 'client_no_context_takeover' },
              { name: 'server_max_window_bits', value: '10' }, { name: 'client_max_window_bits', value: '11' }],
          }]);
          for (let i = 0; i < 3; i++) {
            await echoCompressed(s, TEXT, jsonText(20000, i), 2);
          }
          await closeNormally(s);
        });
        it('a client limit is never sent to a client that did not offer client_max_window_bits (Firefox): declined', async function () {
          const s = await open({ perMessageDeflate: { clientMaxWindowBits: 10 } }, { offer: 'permessage-deflate' });
          eq(extensionsLine(s.head), null);
          await closeNormally(s);
        });
      } else {
        it('offers "permessage-deflate; client_max_window_bits" by default', async function () {
          const s = await open();
          eq(s.request['sec-websocket-extensions'], 'permessage-deflate; client_max_window_bits');
          await echoCompressed(s, TEXT, jsonText(3000), 1);
          await closeNormally(s);
        });
        it('offers what its options ask for', async function () {
          const s = await open({ perMessageDeflate: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 11, clientMaxWindowBits: 9 } },
            { answer: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=9' });
          eq(s.request['sec-websocket-extensions'],
            'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=9');
          await echoCompressed(s, TEXT, jsonText(30000), 3);
          await closeNormally(s);
        });
        it('a server that declines (no extension in the 101) gets plain messages', async function () {
          const s = await open(undefined, { answer: null });
          eq(s.conn.extensions.length, 0);
          s.peer.send(TEXT, 'x'.repeat(5000));
          const m = await s.peer.nextMessage();
          eq(m.compressed, false);
          eq(m.payload.length, 5000);
          await closeNormally(s);
        });
        const { clientFails, rawServer, upgrade101 } = require('./helpers');
        for (const bad of ['x-unknown', 'permessage-deflate, permessage-deflate', 'permessage-deflate; client_max_window_bits',
          'permessage-deflate; server_max_window_bits=16', 'permessage-deflate; bogus', 'permessage-deflate; server_max_window_bits=7']) {
          it('an answer "' + bad + '" fails the connection (connectFailed)', async function () {
            const rs = await rawServer((p) => {
              p.socket.removeAllListeners('data');
              upgrade101(p, ['Sec-WebSocket-Extensions: ' + bad]);
            });
            const err = await clientFails([rs.url], { perMessageDeflate: true });
            assert.match(err.message, /Sec-WebSocket-Extensions/);
          });
        }
        it('an answer without server_no_context_takeover it asked for fails the connection', async function () {
          const rs = await rawServer((p) => {
            p.socket.removeAllListeners('data');
            upgrade101(p, ['Sec-WebSocket-Extensions: permessage-deflate']);
          });
          const err = await clientFails([rs.url], { perMessageDeflate: { serverNoContextTakeover: true } });
          assert.match(err.message, /server_no_context_takeover/);
        });
      }

      for (let sBits = 8; sBits <= 15; sBits++) {
        for (let cBits = 8; cBits <= 15; cBits++) {
          it('server_max_window_bits=' + sBits + ', client_max_window_bits=' + cBits + ': 5 messages with context each way', async function () {
            const header = 'permessage-deflate; server_max_window_bits=' + sBits + '; client_max_window_bits=' + cBits;
            const s = role === 'server'
              ? await open(undefined, { offer: header })
              : await open({ perMessageDeflate: { serverMaxWindowBits: sBits, clientMaxWindowBits: cBits } }, { answer: header });
            eq(s.params.server_max_window_bits, sBits);
            eq(s.params.client_max_window_bits, cBits);
            for (let i = 0; i < 5; i++) {
              await echoCompressed(s, i % 2 ? BINARY : TEXT, jsonText(2000 + i * 3000, i), 1 + (i % 3));
            }
            await closeNormally(s);
          });
        }
      }
    });

    describe('context takeover, each way', function () {
      for (const [serverNo, clientNo] of [[false, false], [true, false], [false, true], [true, true]]) {
        const header = 'permessage-deflate' + (serverNo ? '; server_no_context_takeover' : '') +
          (clientNo ? '; client_no_context_takeover' : '');
        it('"' + header + '": a repeated message shrinks only where context is kept, 12 messages intact', async function () {
          const s = role === 'server'
            ? await open(undefined, { offer: header })
            : await open({ perMessageDeflate: { serverNoContextTakeover: serverNo, clientNoContextTakeover: clientNo } }, { answer: header });
          const msg = jsonText(3000, 4);
          const first = await echoCompressed(s, TEXT, msg, 1);
          const second = await echoCompressed(s, TEXT, msg, 1);
          // what this project sent: its own side's takeover decides
          const ownNo = role === 'server' ? serverNo : clientNo;
          if (ownNo) {
            eq(second.payload.length, first.payload.length, 'no context: the same bytes again');
          } else {
            assert.ok(second.payload.length < first.payload.length / 4, 'context: ' + second.payload.length + ' vs ' + first.payload.length);
          }
          for (let i = 0; i < 10; i++) {
            await echoCompressed(s, i % 2 ? BINARY : TEXT, jsonText(500 + i * 900, i), 1 + (i % 3));
          }
          await closeNormally(s);
        });
      }
    });

    describe('messages', function () {
      const limits = { maxReceivedFrameSize: 32 * MIB, maxReceivedMessageSize: 32 * MIB };
      const sizes = [0, 1, 125, 126, 1000, 64 * KIB, MIB + 7];
      for (const n of sizes) {
        for (const parts of [1, 3]) {
          it('text of ' + n + ' bytes in ' + parts + ' compressed frame(s) is inflated and echoed compressed', async function () {
            const s = await open(limits);
            const m = await echoCompressed(s, TEXT, Buffer.from(utf8Text(n)).subarray(0, n), parts);
            eq(m.compressed, true);
            await closeNormally(s);
          });
        }
      }
      it('binary of 16 MiB, whole and in 7 fragments, each way', async function () {
        this.timeout(60000);
        const s = await open(limits);
        const big = Buffer.concat([noise(4 * MIB, 3), jsonText(12 * MIB, 5)]);
        await echoCompressed(s, BINARY, big, 1, { ms: 30000 });
        await echoCompressed(s, BINARY, big, 7, { ms: 30000 });
        await closeNormally(s);
      });
      it('invalid UTF-8 inside a compressed text message → 1007', async function () {
        const s = await open();
        const z = await s.tx.compress(Buffer.from([0x68, 0x69, 0xc3, 0x28]));
        s.peer.send(TEXT, z, { rsv: RSV1 });
        await failsWith(s, 1007);
      });
      it('context carries across messages: a repeated message shrinks, and 30 mixed messages echo', async function () {
        const s = await open();
        const msg = jsonText(4000, 9);
        const first = await echoCompressed(s, TEXT, msg, 1);
        const second = await echoCompressed(s, TEXT, msg, 1);
        assert.ok(second.payload.length < first.payload.length / 4,
          'the second copy refers back to the first: ' + second.payload.length + ' vs ' + first.payload.length + ' bytes');
        for (let i = 0; i < 30; i++) {
          const text = i % 5 !== 0 && i % 3 !== 0;
          await echoCompressed(s, text ? TEXT : BINARY, i % 5 ? jsonText(100 + i * 700, i) : noise(3000, i), 1 + (i % 4));
        }
        await closeNormally(s);
      });
      it('with no context takeover both ways, each message stands alone', async function () {
        const s = await open({ perMessageDeflate: { serverNoContextTakeover: true, clientNoContextTakeover: true } },
          role === 'server' ? { offer: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover' }
            : { answer: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover' });
        const msg = jsonText(4000, 9);
        const first = await echoCompressed(s, TEXT, msg, 1);
        const second = await echoCompressed(s, TEXT, msg, 2);
        eq(second.payload.length, first.payload.length, 'no reference to the previous message');
        await closeNormally(s);
      });
      it('a message that ends with a final block (BFINAL) is accepted, and context goes on', async function () {
        const s = await open();
        await echoCompressed(s, TEXT, jsonText(1000, 1), 1);
        const z = zlib.deflateRawSync(jsonText(900, 2));
        s.peer.send(TEXT, z, { rsv: RSV1 });
        const m = await s.peer.nextMessage();
        assert.ok((await s.rx.inflate(m.payload)).equals(jsonText(900, 2)));
        s.tx = new (s.tx.constructor)('deflate', s.tx.bits, s.tx.takeover); // the peer starts anew too
        await echoCompressed(s, TEXT, jsonText(1000, 1), 1);
        await closeNormally(s);
      });
      it('pings between the fragments of a compressed message are answered, the message is intact', async function () {
        const s = await open();
        const msg = jsonText(20000, 4);
        const z = await s.tx.compress(msg);
        const a = z.subarray(0, 100);
        const b = z.subarray(100);
        s.peer.write(Buffer.concat([s.peer.frame(TEXT, a, { fin: false, rsv: RSV1 }), s.peer.frame(PING, 'p'),
          s.peer.frame(CONT, b)]));
        await s.peer.expectFrame(OP.PONG);
        const m = await s.peer.nextMessage();
        assert.ok((await s.rx.inflate(m.payload)).equals(msg));
        await closeNormally(s);
      });
      it('an uncompressed message between compressed ones is taken as it is', async function () {
        const s = await open();
        await echoCompressed(s, TEXT, jsonText(3000, 1), 1);
        s.peer.send(TEXT, 'plain text');
        const m = await s.peer.nextMessage();
        eq(m.compressed, true, 'the echo is compressed (threshold 0)');
        eq((await s.rx.inflate(m.payload)).toString(), 'plain text');
        await echoCompressed(s, TEXT, jsonText(3000, 2), 1);
        await closeNormally(s);
      });
    });

    describe('sending', function () {
      it('without context takeover, messages under the threshold go uncompressed, at and above it compressed (ws\'s rule)', async function () {
        const header = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';
        const s = role === 'server'
          ? await open({ perMessageDeflate: { threshold: 1024 } }, { offer: header })
          : await open({ perMessageDeflate: { threshold: 1024, clientNoContextTakeover: true, serverNoContextTakeover: true } }, { answer: header });
        s.conn.sendUTF('a'.repeat(1023));
        s.conn.sendUTF('a'.repeat(1024));
        const small = await s.peer.nextMessage();
        const big = await s.peer.nextMessage();
        eq(small.compressed, false);
        eq(big.compressed, true);
        eq((await s.rx.inflate(big.payload)).toString(), 'a'.repeat(1024));
        await closeNormally(s);
      });
      it('with context takeover every message is compressed, whatever the threshold (ws\'s rule)', async function () {
        const s = await open({ perMessageDeflate: { threshold: 1024 } });
        s.conn.sendUTF('short');
        s.conn.sendUTF('short');
        const first = await s.peer.nextMessage();
        const second = await s.peer.nextMessage();
        eq(first.compressed, true);
        eq((await s.rx.inflate(first.payload)).toString(), 'short');
        eq((await s.rx.inflate(second.payload)).toString(), 'short');
        assert.ok(second.payload.length < first.payload.length, 'the second refers back to the first');
        await closeNormally(s);
      });
      it('{ compress: false } sends one message uncompressed, sendUTF and sendBytes, with callbacks', async function () {
        const s = await open();
        const done = [];
        s.conn.sendUTF('secret '.repeat(200), { compress: false }, () => done.push('utf'));
        s.conn.sendBytes(Buffer.alloc(3000, 1), { compress: false }, () => done.push('bytes'));
        s.conn.send('public '.repeat(200), { compress: true });
        s.conn.sendUTF('public '.repeat(200));
        const m = [await s.peer.nextMessage(), await s.peer.nextMessage(), await s.peer.nextMessage(), await s.peer.nextMessage()];
        assert.deepStrictEqual(m.map((x) => x.compressed), [false, false, true, true]);
        eq(m[0].payload.toString(), 'secret '.repeat(200));
        eq((await s.rx.inflate(m[2].payload)).toString(), 'public '.repeat(200));
        eq((await s.rx.inflate(m[3].payload)).toString(), 'public '.repeat(200));
        await within(new Promise((resolve) => setImmediate(resolve)), 1000, 'callbacks');
        assert.deepStrictEqual(done, ['utf', 'bytes']);
        await closeNormally(s);
      });
      it('fragmentOutgoingMessages applies to the compressed bytes: RSV1 on the first frame only', async function () {
        const s = await open({ fragmentationThreshold: 1000 });
        const msg = noise(5000, 2); // compresses to a little over 5000 bytes
        s.conn.sendBytes(msg);
        const first = await s.peer.nextFrame();
        eq(first.rsv, RSV1);
        eq(first.fin, false);
        eq(first.payload.length, 1000);
        const parts = [first.payload];
        for (let f = first; !f.fin;) {
          f = await s.peer.nextFrame();
          eq(f.opcode, CONT);
          eq(f.rsv, 0, 'no RSV1 on a continuation frame');
          assert.ok(f.payload.length <= 1000);
          parts.push(f.payload);
        }
        assert.ok((await s.rx.inflate(Buffer.concat(parts))).equals(msg));
        await closeNormally(s);
      });
      it('pings and pongs are never compressed', async function () {
        const s = await open();
        s.conn.ping('ping payload '.repeat(5));
        const f = await s.peer.expectFrame(PING);
        eq(f.rsv, 0);
        eq(f.payload.toString(), 'ping payload '.repeat(5));
        await closeNormally(s);
      });
    });

    describe('violations and limits', function () {
      it('RSV1 on a ping → 1002', async function () {
        const s = await open();
        s.peer.send(PING, 'x', { rsv: RSV1 });
        await failsWith(s, 1002);
      });
      it('RSV1 on a continuation frame → 1002', async function () {
        const s = await open();
        const z = await s.tx.compress(jsonText(3000));
        s.peer.write(Buffer.concat([s.peer.frame(TEXT, z.subarray(0, 10), { fin: false, rsv: RSV1 }),
          s.peer.frame(CONT, z.subarray(10), { rsv: RSV1 })]));
        await failsWith(s, 1002);
      });
      it('RSV1 on a close frame → 1002', async function () {
        const s = await open();
        s.peer.send(CLOSE, closePayload(1000), { rsv: RSV1 });
        await failsWith(s, 1002);
      });
      it('data that is not DEFLATE → 1007', async function () {
        const s = await open();
        s.peer.send(BINARY, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x12, 0x34]), { rsv: RSV1 });
        await failsWith(s, 1007);
      });
      it('a bomb (16 MiB of zeros in a 16 KiB message) against maxReceivedMessageSize 1 MiB → 1009', async function () {
        const s = await open({ maxReceivedMessageSize: MIB });
        const z = await s.tx.compress(Buffer.alloc(16 * MIB));
        assert.ok(z.length < 32 * KIB);
        s.peer.send(BINARY, z, { rsv: RSV1 });
        await failsWith(s, 1009);
      });
      it('a message inflating to exactly maxReceivedMessageSize is accepted, one byte more → 1009', async function () {
        const s = await open({ maxReceivedMessageSize: 100000 });
        await echoCompressed(s, BINARY, Buffer.alloc(100000, 3), 3);
        const z = await s.tx.compress(Buffer.alloc(100001, 3));
        s.peer.send(BINARY, z, { rsv: RSV1 });
        await failsWith(s, 1009);
      });
      it('maxReceivedFrameSize applies to the compressed bytes on the wire', async function () {
        const s = await open({ maxReceivedFrameSize: 2000, maxReceivedMessageSize: MIB });
        await echoCompressed(s, TEXT, Buffer.from('x'.repeat(500000)), 1); // ~500 bytes on the wire
        const z = await s.tx.compress(noise(3000));
        s.peer.send(BINARY, z, { rsv: RSV1 });
        await failsWith(s, 1009);
      });
    });
  });
}

describe('permessage-deflate options', function () {
  const { server: WebSocketServer, client: WebSocketClient } = require('..');
  const http = require('http');
  for (const bad of [{ serverMaxWindowBits: 7 }, { clientMaxWindowBits: 16 }, { serverMaxWindowBits: 9.5 },
    { threshold: -1 }, { level: 10 }, { serverNoContextTakeover: 'yes' }, 'on']) {
    it('perMessageDeflate ' + JSON.stringify(bad) + ' throws a TypeError, server and client', function () {
      assert.throws(() => new WebSocketServer({ httpServer: http.createServer(), perMessageDeflate: bad }), TypeError);
      assert.throws(() => new WebSocketClient({ perMessageDeflate: bad }), TypeError);
    });
  }
  it('is off by default: no offer, no answer', async function () {
    const s = await SESSIONS.server(undefined, { extensions: 'permessage-deflate' });
    eq(extensionsLine(s.head), null);
    assert.deepStrictEqual(s.conn.extensions, []);
  });
  afterEach(runCleanups);
});
