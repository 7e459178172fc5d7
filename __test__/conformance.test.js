'use strict';
// RFC 6455 protocol conformance, checked on the wire from a raw peer, in both roles:
// - server role: a raw TCP client (upgrade, then masked frames written byte by byte) against this
//   project's server mounted on an http server on 127.0.0.1, echoing text as text and binary as
//   binary, with the default config unless a test name says otherwise;
// - client role: a raw TCP server (a correct 101, then unmasked frames) against this project's
//   client, whose message handler echoes, with the default client config unless a test name says
//   otherwise.
// The groups follow the areas of the Autobahn TestSuite (1 framing, 2 pings and pongs, 3 reserved
// bits, 4 opcodes, 5 fragmentation, 6 UTF-8, 7 close, 9 large and many, 10 limits and outgoing
// fragmentation); the cases are written here from the RFC. Each check asserts what the raw peer
// sees: the exact echo (opcode and bytes), and/or the code of the close frame it gets, and that
// the close handshake completes (the raw peer answers the close frame and the TCP connection
// then ends). Every wait is bounded; see raw-peer.js for the peers and sessions.
const assert = require('assert');
const { runCleanups, utf8Text, bytesOf, sleep } = require('./helpers');
const {
  OP, opName, within, closePayload, SESSIONS, answerClose, finishTcp,
} = require('./raw-peer');

const { TEXT, BINARY, CONT, CLOSE, PING, PONG } = OP;
const eq = assert.strictEqual;
const KIB = 1024;
const MIB = 1024 * KIB;
const ROLE_TITLES = {
  server: 'server role (raw client against this server)',
  client: 'client role (raw server against this client)',
  'server-h2': 'server role over HTTP/2 (raw client on an RFC 8441 stream of this server)',
};
const ROLE_DEFAULTS = {
  server: { maxReceivedFrameSize: 64 * KIB, maxReceivedMessageSize: MIB },
  client: { maxReceivedFrameSize: MIB, maxReceivedMessageSize: 8 * MIB },
};

// Binary test data: n bytes of a pattern that depends on `seed` (fast for multi-MiB sizes).
function bytes(n, seed) {
  if (n <= 4096) {
    return bytesOf(n, seed);
  }
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    b[i] = (i * 31 + (seed || 7)) & 0xFF;
  }
  return b;
}
const hex = (b) => Buffer.from(b).toString('hex').replace(/(..)(?=.)/g, '$1 ').toUpperCase();
// A text payload: a string's UTF-8 bytes, or raw bytes as given.
const textBytes = (t) => (typeof t === 'string' ? Buffer.from(t, 'utf8') : Buffer.from(t));
// A valid text payload of exactly `n` bytes, built fast by repeating a 1 KiB block (n % 1024 == 0).
const bigText = (n) => Buffer.alloc(n).fill(Buffer.from(utf8Text(KIB)));
// `payload` cut into fragments of `size` bytes (at least one fragment).
function chop(payload, size) {
  const out = [];
  for (let i = 0; i < payload.length; i += size) {
    out.push(payload.subarray(i, i + size));
  }
  return out.length > 0 ? out : [Buffer.alloc(0)];
}
// `payload` cut into `n` fragments of nearly equal size (some may be empty when n > length).
function split(payload, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push(payload.subarray(Math.floor((i * payload.length) / n), Math.floor(((i + 1) * payload.length) / n)));
  }
  return out;
}
// The frames of one message made of `parts` (first frame `op`, then continuations, FIN on the last).
const fragments = (peer, op, parts) => Buffer.concat(parts.map((p, i) =>
  peer.frame(i === 0 ? op : CONT, p, { fin: i === parts.length - 1 })));

// 'server-h2' runs the server cases with the raw client's frames on an HTTP/2 extended CONNECT
// stream (RFC 8441) instead of a TCP connection: the same checks, the stream's end standing for
// the TCP connection's.
for (const kind of ['server', 'client', 'server-h2']) {
  const role = kind === 'client' ? 'client' : 'server';
  const open = (config) => SESSIONS[kind](config);
  // Test-name suffix for a config that differs from the role's defaults.
  const raised = (what) => (role === 'server' ? ' (server ' + what + ')' : '');

  // The close handshake started by the raw peer with `payload`: the reply must carry one of
  // `codes` (null: an empty close payload), and the TCP connection must then end.
  async function closeFromPeer(s, payload, codes) {
    s.peer.send(CLOSE, payload);
    const c = await s.peer.expectClose();
    assert.ok(codes.includes(c.code), 'close reply code ' + c.code + ', expected one of ' + codes.join(', '));
    await finishTcp(s);
    eq(s.peer.frames.length, 0, 'no frame after the close reply');
    return c;
  }
  const closeNormally = (s) => closeFromPeer(s, closePayload(1000, 'done'), [1000]);

  // The project's side fails the connection: the next frame the raw peer gets is a close frame
  // with `code` (nothing echoed, no pong before it); the raw peer answers it, the TCP connection
  // ends, nothing else arrives, and the project's side reports `code` in its close event.
  async function failsWith(s, code, ms) {
    const c = await s.peer.expectClose(ms);
    eq(c.code, code, 'close code ' + c.code + ' (' + c.reason.toString() + '), expected ' + code);
    await answerClose(s, closePayload(code));
    eq(s.peer.frames.length, 0, 'no frame after the close frame');
    const [localCode] = await within(s.localClose, 3000, "the project's close event");
    eq(localCode, code, "the project's close event code");
  }

  // A working connection (a text message echoed), then `bad` (bytes) followed by a ping in the
  // same write: the connection must be failed with `code`, with neither `bad` echoed nor the ping
  // answered. `before: false` sends `bad` as the very first frame.
  async function violation(bad, code, opts) {
    const o = Object.assign({ before: true }, opts);
    const s = await open();
    if (o.before) {
      s.peer.send(TEXT, 'before');
      await s.peer.expectEcho(TEXT, 'before');
    }
    const badBytes = typeof bad === 'function' ? bad(s.peer) : bad;
    s.peer.write(Buffer.concat([badBytes, s.peer.frame(PING, 'after')]));
    await failsWith(s, code);
  }

  describe('conformance, ' + ROLE_TITLES[kind], function () {
    this.timeout(15000);
    afterEach(runCleanups);

    // -----------------------------------------------------------------------------------------
    describe('1 framing', function () {
      const small = [0, 1, 125, 126, 127, 128, 65535, 65536];
      const large = [100 * KIB, 256 * KIB + 3];
      for (const op of [TEXT, BINARY]) {
        for (const n of small.concat(large)) {
          for (const how of ['in one write', 'dribbled']) {
            const big = large.includes(n);
            const pieces = n + 14 <= 600 ? ' in 1-7 byte pieces' : ' (1-7 byte pieces for the first and last 300 bytes, up to 8 KiB between)';
            const title = opName(op) + ' of ' + n + ' bytes ' + how + (how === 'dribbled' ? pieces : '') + ' is echoed exactly' +
              (big ? raised('limits raised to 1 MiB') : '');
            it(title, async function () {
              const s = await open(big && role === 'server' ? { maxReceivedFrameSize: MIB, maxReceivedMessageSize: MIB } : undefined);
              const payload = op === TEXT ? textBytes(utf8Text(n)) : bytes(n, n & 0xFF);
              const wire = s.peer.frame(op, payload);
              if (how === 'in one write') {
                s.peer.write(wire);
              } else {
                await s.peer.dribble(wire);
              }
              await s.peer.expectEcho(op, payload);
              await closeNormally(s);
            });
          }
        }
      }

      it('text and binary of every length above, back to back in one write, are echoed in order', async function () {
        const s = await open();
        const msgs = [];
        for (const n of small) {
          msgs.push([TEXT, textBytes(utf8Text(n))], [BINARY, bytes(n, 3)]);
        }
        s.peer.write(Buffer.concat(msgs.map(([op, p]) => s.peer.frame(op, p))));
        for (const [op, p] of msgs) {
          await s.peer.expectEcho(op, p);
        }
        await closeNormally(s);
      });
    });

    // -----------------------------------------------------------------------------------------
    describe('2 pings and pongs', function () {
      for (const n of [0, 1, 125]) {
        it('a ping with ' + n + ' bytes gets a pong with the same payload', async function () {
          const s = await open();
          const payload = bytes(n, 200);
          s.peer.send(PING, payload);
          const pong = await s.peer.expectFrame(PONG);
          assert.ok(pong.fin, 'the pong is one frame');
          assert.ok(pong.payload.equals(payload), 'pong payload ' + hex(pong.payload));
          await closeNormally(s);
        });
      }

      it('a ping with 125 bytes dribbled in 1-7 byte pieces gets its pong', async function () {
        const s = await open();
        const payload = bytes(125, 9);
        await s.peer.dribble(s.peer.frame(PING, payload));
        const pong = await s.peer.expectFrame(PONG);
        assert.ok(pong.payload.equals(payload));
        await closeNormally(s);
      });

      it('a ping with 126 bytes (a control frame over 125) → close 1002, no pong', async function () {
        await violation((p) => p.frame(PING, bytes(126)), 1002);
      });

      it('a ping of 65536 bytes (64-bit length field) → close 1002, no pong', async function () {
        await violation((p) => p.frame(PING, bytes(65536)), 1002);
      });

      it('a fragmented ping (fin=0) → close 1002', async function () {
        await violation((p) => Buffer.concat([p.frame(PING, 'frag', { fin: false }), p.frame(CONT, 'ment')]), 1002);
      });

      it('an unsolicited pong is ignored: the connection keeps echoing', async function () {
        const s = await open();
        s.peer.send(PONG, 'unsolicited');
        s.peer.send(PONG, Buffer.alloc(0));
        s.peer.send(PONG, bytes(125));
        s.peer.send(TEXT, 'still here');
        await s.peer.expectEcho(TEXT, 'still here');
        await closeNormally(s);
      });

      it('an unsolicited pong with 126 bytes → close 1002', async function () {
        await violation((p) => p.frame(PONG, bytes(126)), 1002);
      });

      it('10 pings in one write → 10 pongs, in order, with their payloads', async function () {
        const s = await open();
        const payloads = Array.from({ length: 10 }, (_, i) => Buffer.from('ping #' + i + ' ' + 'x'.repeat(i * 10)));
        s.peer.write(Buffer.concat(payloads.map((p) => s.peer.frame(PING, p))));
        for (const p of payloads) {
          const pong = await s.peer.expectFrame(PONG);
          eq(pong.payload.toString(), p.toString());
        }
        await closeNormally(s);
      });

      it('10 pings dribbled in 1-7 byte pieces → 10 pongs in order', async function () {
        const s = await open();
        const payloads = Array.from({ length: 10 }, (_, i) => bytes(i * 12, i));
        await s.peer.dribble(Buffer.concat(payloads.map((p) => s.peer.frame(PING, p))));
        for (const p of payloads) {
          const pong = await s.peer.expectFrame(PONG);
          assert.ok(pong.payload.equals(p), 'pong ' + hex(pong.payload));
        }
        await closeNormally(s);
      });
    });

    // -----------------------------------------------------------------------------------------
    describe('3 reserved bits (no extension negotiated)', function () {
      const kinds = {
        text: (p, rsv) => p.frame(TEXT, 'rsv text', { rsv }),
        binary: (p, rsv) => p.frame(BINARY, bytes(10), { rsv }),
        ping: (p, rsv) => p.frame(PING, 'rsv ping', { rsv }),
        pong: (p, rsv) => p.frame(PONG, 'rsv pong', { rsv }),
        close: (p, rsv) => p.frame(CLOSE, closePayload(1000, 'rsv close'), { rsv }),
        'continuation (second fragment of a text)': (p, rsv) => Buffer.concat([
          p.frame(TEXT, 'first ', { fin: false }), p.frame(CONT, 'second', { rsv })]),
      };
      const bits = { RSV1: 4, RSV2: 2, RSV3: 1, 'RSV1+RSV2+RSV3': 7 };
      for (const kind of Object.keys(kinds)) {
        for (const bit of Object.keys(bits)) {
          if (bit === 'RSV1+RSV2+RSV3' && kind !== 'text' && kind !== 'binary') {
            continue;
          }
          it('a ' + kind + ' frame with ' + bit + ' set → close 1002, not echoed or answered', async function () {
            await violation((p) => kinds[kind](p, bits[bit]), 1002);
          });
        }
      }

      it('a text frame with RSV2 set, dribbled, as the first frame → close 1002', async function () {
        const s = await open();
        await s.peer.dribble(s.peer.frame(TEXT, 'x'.repeat(200), { rsv: 2 }));
        await failsWith(s, 1002);
      });
    });

    // -----------------------------------------------------------------------------------------
    // Autobahn's strict results for 3.2-3.4, 4.1.3-4.1.5, 4.2.3-4.2.5 and 5.15: a valid message
    // and a violation in the same write. The message is delivered and its echo goes out, then
    // the close frame; nothing after the violation is delivered or answered.
    describe('3-5 strict: a valid message, then a violation, in one write', function () {
      const messages = {
        text: (p) => p.frame(TEXT, 'hello'),
        binary: (p) => p.frame(BINARY, bytes(20, 3)),
        'text in 3 fragments': (p) => fragments(p, TEXT, [Buffer.from('he'), Buffer.from('ll'), Buffer.from('o')]),
        'binary in 2 fragments': (p) => fragments(p, BINARY, [bytes(10, 3), bytes(10, 4)]),
      };
      const expected = {
        text: [TEXT, 'hello'],
        binary: [BINARY, bytes(20, 3)],
        'text in 3 fragments': [TEXT, 'hello'],
        'binary in 2 fragments': [BINARY, Buffer.concat([bytes(10, 3), bytes(10, 4)])],
      };
      const violations = {
        'a text frame with RSV1': (p) => p.frame(TEXT, 'bad', { rsv: 4 }),
        'a binary frame with RSV2': (p) => p.frame(BINARY, bytes(4), { rsv: 2 }),
        'a ping with RSV3': (p) => p.frame(PING, 'bad', { rsv: 1 }),
        'reserved opcode 0x3': (p) => p.frame(3, 'bad'),
        'reserved control opcode 0xB': (p) => p.frame(0xB, 'bad'),
        'a continuation with no message started': (p) => p.frame(CONT, 'bad', { fin: false }),
      };
      for (const m of Object.keys(messages)) {
        for (const v of Object.keys(violations)) {
          it(m + ', then ' + v + ', then a ping → the echo, then close 1002, no pong', async function () {
            const s = await open();
            s.peer.write(Buffer.concat([messages[m](s.peer), violations[v](s.peer), s.peer.frame(PING, 'after')]));
            const [op, payload] = expected[m];
            await s.peer.expectEcho(op, payload);
            await failsWith(s, 1002);
          });
        }
      }
    });

    // -----------------------------------------------------------------------------------------
    describe('4 opcodes', function () {
      for (const op of [0x3, 0x4, 0x5, 0x6, 0x7]) {
        it('reserved non-control opcode 0x' + op.toString(16) + ' → close 1002', async function () {
          await violation((p) => p.frame(op, 'reserved'), 1002);
        });
      }
      for (const op of [0xB, 0xC, 0xD, 0xE, 0xF]) {
        it('reserved control opcode 0x' + op.toString(16) + ' → close 1002', async function () {
          await violation((p) => p.frame(op, 'reserved'), 1002);
        });
      }
      it('reserved opcode 0x3 with an empty payload, as the first frame → close 1002', async function () {
        await violation((p) => p.frame(0x3, Buffer.alloc(0)), 1002, { before: false });
      });
      it('reserved opcode 0xB with an empty payload, as the first frame → close 1002', async function () {
        await violation((p) => p.frame(0xB, Buffer.alloc(0)), 1002, { before: false });
      });
      it('reserved opcode 0x4 inside a fragmented text message → close 1002', async function () {
        await violation((p) => Buffer.concat([p.frame(TEXT, 'part', { fin: false }), p.frame(0x4, 'x')]), 1002);
      });
    });

    // -----------------------------------------------------------------------------------------
    describe('5 fragmentation', function () {
      for (const op of [TEXT, BINARY]) {
        for (const n of [2, 3, 10, 64]) {
          it(opName(op) + ' in ' + n + ' fragments (one write) → one message, echoed exactly', async function () {
            const s = await open();
            const payload = op === TEXT ? textBytes(utf8Text(300)) : bytes(300, 5);
            s.peer.write(fragments(s.peer, op, split(payload, n)));
            const m = await s.peer.expectEcho(op, payload);
            eq(m.fragments, 1, 'a 300-byte echo is one frame');
            await closeNormally(s);
          });
        }

        it(opName(op) + ' in 5 fragments written separately, with pauses → one message', async function () {
          const s = await open();
          const payload = op === TEXT ? textBytes(utf8Text(100)) : bytes(100, 6);
          const parts = split(payload, 5);
          for (let i = 0; i < parts.length; i++) {
            s.peer.send(i === 0 ? op : CONT, parts[i], { fin: i === parts.length - 1 });
            await sleep(5);
          }
          await s.peer.expectEcho(op, payload);
          await closeNormally(s);
        });

        it(opName(op) + ' with empty first, middle and last fragments → one message', async function () {
          const s = await open();
          const payload = op === TEXT ? textBytes('abcdef') : bytes(6, 7);
          const parts = [Buffer.alloc(0), payload.subarray(0, 3), Buffer.alloc(0), payload.subarray(3), Buffer.alloc(0)];
          s.peer.write(fragments(s.peer, op, parts));
          await s.peer.expectEcho(op, payload);
          await closeNormally(s);
        });

        it(opName(op) + ' of 0 bytes in 3 empty fragments → one empty message', async function () {
          const s = await open();
          s.peer.write(fragments(s.peer, op, [Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)]));
          await s.peer.expectEcho(op, Buffer.alloc(0));
          await closeNormally(s);
        });

        it(opName(op) + ' in 1000 one-byte fragments → one message', async function () {
          const s = await open();
          const payload = op === TEXT ? Buffer.from('abcdefghijklmnopqrstuvwxyz'.repeat(40).slice(0, 1000)) : bytes(1000, 8);
          s.peer.write(fragments(s.peer, op, chop(payload, 1)));
          await s.peer.expectEcho(op, payload);
          await closeNormally(s);
        });

        it(opName(op) + ' in 1000 one-byte fragments dribbled → one message', async function () {
          const s = await open();
          const payload = bytes(1000, 9);
          await s.peer.dribble(fragments(s.peer, op, chop(op === TEXT ? Buffer.from('q'.repeat(1000)) : payload, 1)));
          await s.peer.expectEcho(op, op === TEXT ? Buffer.from('q'.repeat(1000)) : payload);
          await closeNormally(s);
        });
      }

      it('a ping between fragments (one write) is answered and the message is intact', async function () {
        const s = await open();
        s.peer.write(Buffer.concat([
          s.peer.frame(TEXT, 'fragment one, ', { fin: false }),
          s.peer.frame(PING, 'between'),
          s.peer.frame(CONT, 'fragment two'),
        ]));
        const pong = await s.peer.expectFrame(PONG);
        eq(pong.payload.toString(), 'between');
        await s.peer.expectEcho(TEXT, 'fragment one, fragment two');
        await closeNormally(s);
      });

      it('a ping between fragments is answered before the message is finished', async function () {
        const s = await open();
        s.peer.send(BINARY, bytes(50, 1), { fin: false });
        s.peer.send(PING, 'answer me now');
        const pong = await s.peer.expectFrame(PONG);
        eq(pong.payload.toString(), 'answer me now');
        s.peer.send(CONT, bytes(50, 2));
        await s.peer.expectEcho(BINARY, Buffer.concat([bytes(50, 1), bytes(50, 2)]));
        await closeNormally(s);
      });

      it('pings between each of 5 fragments, written separately → 4 pongs in order, then the message', async function () {
        const s = await open();
        const parts = split(textBytes(utf8Text(60)), 5);
        for (let i = 0; i < parts.length; i++) {
          s.peer.send(i === 0 ? TEXT : CONT, parts[i], { fin: i === parts.length - 1 });
          if (i < parts.length - 1) {
            s.peer.send(PING, 'p' + i);
          }
          await sleep(2);
        }
        for (let i = 0; i < 4; i++) {
          eq((await s.peer.expectFrame(PONG)).payload.toString(), 'p' + i);
        }
        await s.peer.expectEcho(TEXT, Buffer.concat(parts));
        await closeNormally(s);
      });

      it('an unsolicited pong between fragments is ignored and the message is intact', async function () {
        const s = await open();
        s.peer.write(Buffer.concat([
          s.peer.frame(BINARY, bytes(20, 1), { fin: false }),
          s.peer.frame(PONG, 'stray'),
          s.peer.frame(CONT, bytes(20, 2)),
        ]));
        await s.peer.expectEcho(BINARY, Buffer.concat([bytes(20, 1), bytes(20, 2)]));
        await closeNormally(s);
      });

      it('a continuation (fin=1) as the very first frame → close 1002', async function () {
        await violation((p) => p.frame(CONT, 'orphan'), 1002, { before: false });
      });
      it('a continuation (fin=0) as the very first frame → close 1002', async function () {
        await violation((p) => p.frame(CONT, 'orphan', { fin: false }), 1002, { before: false });
      });
      it('a continuation (fin=1) after a finished message → close 1002', async function () {
        await violation((p) => p.frame(CONT, 'orphan'), 1002);
      });
      it('continuations (fin=0, then fin=1) after a finished message → close 1002', async function () {
        await violation((p) => Buffer.concat([p.frame(CONT, 'or', { fin: false }), p.frame(CONT, 'phan')]), 1002);
      });

      const restarts = [[TEXT, TEXT, true], [TEXT, BINARY, true], [BINARY, TEXT, true], [BINARY, BINARY, true], [TEXT, TEXT, false]];
      for (const [first, second, fin] of restarts) {
        it('a new ' + opName(second) + ' frame (fin=' + (fin ? 1 : 0) + ') while a fragmented ' + opName(first) +
          ' message is open → close 1002', async function () {
          await violation((p) => Buffer.concat([
            p.frame(first, 'started', { fin: false }), p.frame(second, 'again', { fin }), p.frame(CONT, 'end'),
          ]), 1002);
        });
      }

      it('a fragmented pong (fin=0, then a continuation) → close 1002', async function () {
        await violation((p) => Buffer.concat([p.frame(PONG, 'frag', { fin: false }), p.frame(CONT, 'ment')]), 1002);
      });
      it('a fragmented close (fin=0) → close 1002', async function () {
        await violation((p) => Buffer.concat([p.frame(CLOSE, closePayload(1000), { fin: false }), p.frame(CONT, 'x')]), 1002);
      });
      it('a fragmented ping inside a fragmented text message → close 1002', async function () {
        await violation((p) => Buffer.concat([
          p.frame(TEXT, 'text ', { fin: false }), p.frame(PING, 'frag', { fin: false }), p.frame(CONT, 'end'),
        ]), 1002);
      });
    });

    // -----------------------------------------------------------------------------------------
    describe('6 UTF-8', function () {
      const valid = {
        'ASCII': 'Hello, conformance! 0123456789 ~',
        'NUL, DEL and other controls': '\u0000\u0001\u001F\u007F',
        '2-byte sequences (U+0080, U+00E9, U+07FF)': '\u0080\u00E9\u07FF',
        '3-byte sequences (U+0800, U+20AC, U+D7FF, U+E000, U+FFFD)': '\u0800\u20AC\uD7FF\uE000\uFFFD',
        '4-byte sequences (U+10000, U+1D11E, U+1F600)': '\u{10000}\u{1D11E}\u{1F600}',
        'U+FFFF': '\uFFFF',
        'U+FFFE': '\uFFFE',
        'U+10FFFF': '\u{10FFFF}',
        'U+FEFF (BOM) at the start, in the middle and at the end': '\uFEFFa\uFEFFb\uFEFF',
        'Greek with accents': 'καλημέρα κόσμε',
        'mixed scripts and emoji': 'Grüße, 世界! 🌍 Ωmega',
      };
      for (const name of Object.keys(valid)) {
        it('valid: ' + name + ' echoes exactly, whole, per byte and split at every byte position', async function () {
          const s = await open();
          const b = textBytes(valid[name]);
          const variants = [[b], chop(b, 1)];
          for (let k = 1; k < b.length; k++) {
            variants.push([b.subarray(0, k), b.subarray(k)]);
          }
          s.peer.write(Buffer.concat(variants.map((parts) => fragments(s.peer, TEXT, parts))));
          for (let i = 0; i < variants.length; i++) {
            await s.peer.expectEcho(TEXT, b);
          }
          await closeNormally(s);
        });
      }

      const invalid = {
        'a lone continuation byte 0x80': [0x80],
        'a lone continuation byte 0xBF': [0xBF],
        'continuation bytes 80 BF 80 BF after ASCII': [0x61, 0x80, 0xBF, 0x80, 0xBF],
        'overlong "/" (C0 AF)': [0xC0, 0xAF],
        'overlong NUL (C0 80)': [0xC0, 0x80],
        'overlong 2-byte maximum (C1 BF)': [0xC1, 0xBF],
        'overlong 3-byte "/" (E0 80 AF)': [0xE0, 0x80, 0xAF],
        'overlong 3-byte maximum (E0 9F BF)': [0xE0, 0x9F, 0xBF],
        'overlong 4-byte "/" (F0 80 80 AF)': [0xF0, 0x80, 0x80, 0xAF],
        'overlong 4-byte maximum (F0 8F BF BF)': [0xF0, 0x8F, 0xBF, 0xBF],
        'surrogate U+D800 (ED A0 80)': [0xED, 0xA0, 0x80],
        'surrogate U+DB7F (ED AD BF)': [0xED, 0xAD, 0xBF],
        'surrogate U+DBFF (ED AF BF)': [0xED, 0xAF, 0xBF],
        'surrogate U+DC00 (ED B0 80)': [0xED, 0xB0, 0x80],
        'surrogate U+DFFF (ED BF BF)': [0xED, 0xBF, 0xBF],
        'a surrogate pair encoded as two 3-byte sequences (ED A0 BD ED B8 80)': [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80],
        'U+110000 (F4 90 80 80)': [0xF4, 0x90, 0x80, 0x80],
        'U+1FFFFF (F7 BF BF BF)': [0xF7, 0xBF, 0xBF, 0xBF],
        'a 5-byte sequence (F8 88 80 80 80)': [0xF8, 0x88, 0x80, 0x80, 0x80],
        'a 6-byte sequence (FC 84 80 80 80 80)': [0xFC, 0x84, 0x80, 0x80, 0x80, 0x80],
        'a 2-byte sequence truncated at the end (ab C3)': [0x61, 0x62, 0xC3],
        'a 3-byte sequence truncated at the end (ab E2 82)': [0x61, 0x62, 0xE2, 0x82],
        'a 4-byte sequence truncated at the end (ab F0 9F 98)': [0x61, 0x62, 0xF0, 0x9F, 0x98],
        'a 3-byte sequence cut short by ASCII (E2 82 41)': [0xE2, 0x82, 0x41],
        'a lone 0xC0': [0xC0],
        'a lone 0xC1': [0xC1],
        'a lone 0xF5': [0xF5],
        'a lone 0xF8': [0xF8],
        'a lone 0xFE': [0xFE],
        'a lone 0xFF': [0xFF],
        '0xFF in the middle of valid Greek': Buffer.concat([textBytes('κόσμε'), Buffer.from([0xFF]), textBytes('κόσμε')]),
        'a surrogate in the middle of valid Greek': Buffer.concat([textBytes('κόσμε'), Buffer.from([0xED, 0xA0, 0x80]), textBytes('edited')]),
      };
      for (const name of Object.keys(invalid)) {
        const seq = Buffer.from(invalid[name]);
        it('invalid: ' + name + ' [' + hex(seq) + '] in one frame → close 1007, not echoed', async function () {
          await violation((p) => p.frame(TEXT, seq), 1007);
        });
        it('invalid: ' + name + ' in one-byte fragments → close 1007, not echoed', async function () {
          await violation((p) => fragments(p, TEXT, chop(seq, 1)), 1007);
        });
      }

      it('invalid UTF-8 in the last of several fragments → close 1007', async function () {
        await violation((p) => fragments(p, TEXT, [textBytes('good start, '), textBytes('still good, '), Buffer.from([0x61, 0xFF])]), 1007);
      });

      // Fail fast (RFC 6455 §8.1): a text fragment whose bytes can never become valid UTF-8 must
      // fail the connection at once, without waiting for the rest of the message (none is sent).
      const failFast = {
        'ASCII, 0xFF, ASCII': [[0x61, 0xFF, 0x62]],
        'Greek then a surrogate (ED A0 80) then ASCII': [Buffer.concat([textBytes('κόσμε'), Buffer.from([0xED, 0xA0, 0x80]), textBytes('edited')])],
        'U+110000 (F4 90 80 80) between ASCII': [[0x78, 0xF4, 0x90, 0x80, 0x80, 0x79]],
        'a fragment ending in F4 90 (can only be above U+10FFFF)': [[0x61, 0xF4, 0x90]],
        'a fragment ending in ED A0 (can only be a surrogate)': [[0x61, 0xED, 0xA0]],
        'a fragment ending in E0 80 (can only be overlong)': [[0x61, 0xE0, 0x80]],
        'a fragment ending in 0xC0': [[0x61, 0xC0]],
        'a fragment ending in 0xF5': [[0x61, 0xF5]],
        'a fragment starting with a lone continuation byte': [[0x80, 0x61]],
        'the invalid byte in the second fragment (both fin=0)': [textBytes('valid first fragment '), [0x61, 0xFF, 0x62]],
        'an impossible sequence across two fragments (…E0 | 80…, both fin=0)': [[0x61, 0xE0], [0x80, 0x61]],
        'the invalid byte in the third of three fin=0 fragments': [textBytes('one '), textBytes('two '), [0xC1, 0x81]],
      };
      for (const name of Object.keys(failFast)) {
        it('fail fast: ' + name + ', then nothing → close 1007 within 2 s', async function () {
          const s = await open();
          s.peer.send(TEXT, 'before');
          await s.peer.expectEcho(TEXT, 'before');
          const parts = failFast[name].map((p) => Buffer.from(p));
          s.peer.write(Buffer.concat(parts.map((p, i) => s.peer.frame(i === 0 ? TEXT : CONT, p, { fin: false }))));
          await failsWith(s, 1007, 2000);
        });
      }

      it('fail fast: an impossible byte dribbled in a 200-byte fin=0 fragment → close 1007 within 2 s', async function () {
        const s = await open();
        const payload = Buffer.concat([textBytes(utf8Text(150)), Buffer.from([0xFE]), Buffer.alloc(49, 0x61)]);
        await s.peer.dribble(s.peer.frame(TEXT, payload, { fin: false }));
        await failsWith(s, 1007, 2000);
      });
    });

    // -----------------------------------------------------------------------------------------
    describe('7 close', function () {
      it('a close with no payload → a close reply (empty, or 1000), then the TCP connection ends', async function () {
        const s = await open();
        s.peer.send(TEXT, 'hi');
        await s.peer.expectEcho(TEXT, 'hi');
        await closeFromPeer(s, Buffer.alloc(0), [null, 1000]);
      });

      it('a close with no payload as the very first frame → a close reply (empty, or 1000)', async function () {
        const s = await open();
        await closeFromPeer(s, Buffer.alloc(0), [null, 1000]);
      });

      const validCodes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
      for (const code of validCodes) {
        it('a close with code ' + code + ' → the reply echoes ' + code + '; the close event reports it', async function () {
          const s = await open();
          await closeFromPeer(s, closePayload(code, 'reason ' + code), [code]);
          const [localCode] = await within(s.localClose, 3000, "the project's close event");
          eq(localCode, code);
        });
      }

      it('a close with code 1000 and a 123-byte UTF-8 reason (a 125-byte payload) → 1000', async function () {
        const s = await open();
        const reason = textBytes(utf8Text(123));
        await closeFromPeer(s, closePayload(1000, reason), [1000]);
      });

      it('a close with a 1-byte payload → close 1002', async function () {
        await violation((p) => p.frame(CLOSE, Buffer.from([0x03])), 1002);
      });

      const invalidCodes = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
      for (const code of invalidCodes) {
        it('a close with invalid code ' + code + ' → close 1002', async function () {
          await violation((p) => p.frame(CLOSE, closePayload(code, 'bad code')), 1002);
        });
      }

      for (const [name, reasonBytes] of [['0xFF', [0x6F, 0x6B, 0xFF]], ['a surrogate (ED A0 80)', [0x6F, 0x6B, 0xED, 0xA0, 0x80]],
        ['a truncated sequence (E2 82)', [0x6F, 0x6B, 0xE2, 0x82]]]) {
        it('a close reason with invalid UTF-8: ' + name + ' → close 1007', async function () {
          await violation((p) => p.frame(CLOSE, closePayload(1000, Buffer.from(reasonBytes))), 1007);
        });
      }

      it('a close payload of 126 bytes (code 1000 and a 124-byte reason) → close 1002', async function () {
        await violation((p) => p.frame(CLOSE, closePayload(1000, 'r'.repeat(124))), 1002);
      });

      it('data frames after the close are not echoed: only the close reply comes, then the TCP end', async function () {
        const s = await open();
        s.peer.write(Buffer.concat([
          s.peer.frame(CLOSE, closePayload(1000, 'done')),
          s.peer.frame(TEXT, 'after the close'),
          s.peer.frame(BINARY, bytes(10)),
          s.peer.frame(PING, 'after the close'),
        ]));
        const c = await s.peer.expectClose();
        eq(c.code, 1000);
        await finishTcp(s);
        eq(s.peer.received, 1, 'exactly one frame received (the close reply)');
      });

      it('a second close frame after the first gets no second reply', async function () {
        const s = await open();
        s.peer.write(Buffer.concat([s.peer.frame(CLOSE, closePayload(1000)), s.peer.frame(CLOSE, closePayload(1001))]));
        eq((await s.peer.expectClose()).code, 1000);
        await finishTcp(s);
        eq(s.peer.received, 1, 'exactly one frame received');
      });

      it('a close in the middle of a fragmented message → the close reply; the partial message is dropped', async function () {
        const s = await open();
        s.peer.write(Buffer.concat([s.peer.frame(TEXT, 'never finished', { fin: false }), s.peer.frame(CLOSE, closePayload(1000))]));
        eq((await s.peer.expectClose()).code, 1000);
        await finishTcp(s);
        eq(s.peer.received, 1, 'exactly one frame received');
      });

      it('a ping then a close in one write → the pong, then the close reply', async function () {
        const s = await open();
        s.peer.write(Buffer.concat([s.peer.frame(PING, 'last'), s.peer.frame(CLOSE, closePayload(1000))]));
        eq((await s.peer.expectFrame(PONG)).payload.toString(), 'last');
        eq((await s.peer.expectClose()).code, 1000);
        await finishTcp(s);
      });

      it('failed while the peer is still sending: the close frame reaches the peer, and the rest of its data and its close reply meet no TCP reset (§7.1.1: close cleanly, discarding trailing bytes)', async function () {
        const s = await open();
        s.peer.send(TEXT, 'before');
        await s.peer.expectEcho(TEXT, 'before');
        s.peer.send(0x3, 'reserved'); // fails the connection (1002)
        const closeP = s.peer.expectClose();
        closeP.catch(() => {});
        // The peer has not seen the close frame yet and goes on sending for a while.
        for (let i = 0; i < 16; i++) {
          await sleep(5);
          s.peer.send(BINARY, bytes(16 * KIB, i));
        }
        const c = await closeP;
        eq(c.code, 1002);
        s.peer.send(CLOSE, closePayload(1002));
        await finishTcp(s);
        await sleep(20);
        assert.deepStrictEqual(s.peer.errors, [], "errors on the raw peer's socket (a reset by the other end)");
      });

      it('close(4001) called by the application → a close frame 4001 with its reason; answered, the TCP connection ends', async function () {
        const s = await open();
        s.conn.close(4001, 'app says bye');
        const c = await s.peer.expectClose();
        eq(c.code, 4001);
        eq(c.reason.toString(), 'app says bye');
        await answerClose(s, closePayload(4001));
        eq((await within(s.localClose, 3000, "the project's close event"))[0], 4001);
      });

      if (role === 'server') {
        it('after its close reply the server closes the TCP connection first (the raw client sees EOF before closing its side)', async function () {
          const s = await open();
          s.peer.send(CLOSE, closePayload(1000));
          eq((await s.peer.expectClose()).code, 1000);
          await s.peer.ended(3000, 'EOF from the server');
          assert.ok(!s.peer.socket.writableEnded, 'the raw client had not closed its side');
          s.peer.socket.end();
          await s.peer.closed();
        });
      } else {
        it('after the close reply, the raw server closes the TCP connection and the client lets it end (well before closeTimeout)', async function () {
          const s = await open();
          s.peer.send(CLOSE, closePayload(1000));
          eq((await s.peer.expectClose()).code, 1000);
          s.peer.socket.end();
          await s.peer.closed(2000, 'the TCP connection to close');
          eq((await within(s.localClose, 2000, "the client's close event"))[0], 1000);
        });
      }
    });

    // -----------------------------------------------------------------------------------------
    describe('9 large and many messages', function () {
      this.timeout(60000);
      const sizes = role === 'server' ? [MIB, 4 * MIB, 16 * MIB] : [MIB, 4 * MIB];
      const limits = role === 'server' ? { maxReceivedFrameSize: 16 * MIB, maxReceivedMessageSize: 16 * MIB } : undefined;
      for (const op of [TEXT, BINARY]) {
        for (const n of sizes) {
          for (const how of ['in one frame', 'in 64 KiB fragments']) {
            // Client role: a frame over 1 MiB needs a raised client limit; keep to the defaults.
            if (role === 'client' && how === 'in one frame' && n > MIB) {
              continue;
            }
            it(opName(op) + ' of ' + n / MIB + ' MiB ' + how + ' is echoed intact' + raised('limits raised to 16 MiB'), async function () {
              const s = await open(limits);
              const payload = op === TEXT ? bigText(n) : bytes(n, 11);
              s.peer.write(how === 'in one frame' ? s.peer.frame(op, payload) : fragments(s.peer, op, chop(payload, 64 * KIB)));
              await s.peer.expectEcho(op, payload, 30000);
              await closeNormally(s);
            });
          }
        }
      }

      it('1000 small messages (text and binary alternating) pipelined in one write → all echoed in order', async function () {
        const s = await open();
        const msgs = Array.from({ length: 1000 }, (_, i) => (i % 2 === 0
          ? [TEXT, textBytes('message ' + i + ' ' + utf8Text(i % 50))] : [BINARY, bytes(i % 130, i)]));
        s.peer.write(Buffer.concat(msgs.map(([op, p]) => s.peer.frame(op, p))));
        for (const [op, p] of msgs) {
          await s.peer.expectEcho(op, p);
        }
        await closeNormally(s);
      });

      it('1000 small messages dribbled in 1-7 byte pieces at the frame edges → all echoed in order', async function () {
        const s = await open();
        const msgs = Array.from({ length: 1000 }, (_, i) => textBytes('#' + i));
        const all = Buffer.concat(msgs.map((p) => s.peer.frame(TEXT, p)));
        // dribble() cuts only the first and last 300 bytes finely: cut the rest into 1-7 byte writes here.
        for (let i = 0, k = 0; i < all.length; k++) {
          const n = 1 + (k % 7);
          s.peer.write(all.subarray(i, i + n));
          i += n;
          if (k % 50 === 0) {
            await sleep(0);
          }
        }
        for (const p of msgs) {
          await s.peer.expectEcho(TEXT, p);
        }
        await closeNormally(s);
      });
    });

    // -----------------------------------------------------------------------------------------
    describe('10 limits and outgoing fragmentation', function () {
      const defaults = ROLE_DEFAULTS[role];
      it('a frame one byte over the default maxReceivedFrameSize (' + defaults.maxReceivedFrameSize + ') → close 1009', async function () {
        this.timeout(20000);
        await violation((p) => p.frame(BINARY, bytes(defaults.maxReceivedFrameSize + 1)), 1009);
      });

      it('a frame at exactly the default maxReceivedFrameSize is echoed', async function () {
        const s = await open();
        const payload = bytes(defaults.maxReceivedFrameSize, 12);
        s.peer.send(BINARY, payload);
        await s.peer.expectEcho(BINARY, payload, 10000);
        await closeNormally(s);
      });

      it('a message in 64 KiB fragments one fragment over the default maxReceivedMessageSize (' +
        defaults.maxReceivedMessageSize + ') → close 1009', async function () {
        this.timeout(30000);
        await violation((p) => fragments(p, BINARY, chop(bytes(defaults.maxReceivedMessageSize + 64 * KIB, 13), 64 * KIB)), 1009);
      });

      const small = { maxReceivedFrameSize: 1000, maxReceivedMessageSize: 2500 };
      it('maxReceivedFrameSize 1000: a 1000-byte frame is echoed, a 1001-byte frame → close 1009', async function () {
        const s = await open(small);
        s.peer.send(BINARY, bytes(1000));
        await s.peer.expectEcho(BINARY, bytes(1000));
        s.peer.send(TEXT, 'x'.repeat(1001));
        await failsWith(s, 1009);
      });

      it('maxReceivedMessageSize 2500: 1000+1000+500 in fragments is echoed, 1000+1000+501 → close 1009', async function () {
        const s = await open(small);
        const ok = bytes(2500, 14);
        s.peer.write(fragments(s.peer, BINARY, [ok.subarray(0, 1000), ok.subarray(1000, 2000), ok.subarray(2000)]));
        await s.peer.expectEcho(BINARY, ok);
        const over = textBytes('y'.repeat(2501));
        s.peer.write(fragments(s.peer, TEXT, [over.subarray(0, 1000), over.subarray(1000, 2000), over.subarray(2000)]));
        await failsWith(s, 1009);
      });

      it('maxReceivedMessageSize 2500: three fin=0 fragments of 1000 + 1000 + 501, then nothing → close 1009 within 2 s', async function () {
        const s = await open(small);
        s.peer.write(Buffer.concat([bytes(1000, 1), bytes(1000, 2), bytes(501, 3)].map((p, i) => s.peer.frame(i === 0 ? BINARY : CONT, p, { fin: false }))));
        await failsWith(s, 1009, 2000);
      });

      for (const op of [TEXT, BINARY]) {
        it('fragmentationThreshold 1000: the echo of a 10 000-byte ' + opName(op) + ' message comes as 10 fragments of 1000 bytes', async function () {
          const s = await open({ fragmentationThreshold: 1000 });
          const payload = op === TEXT ? textBytes(utf8Text(10000)) : bytes(10000, 15);
          s.peer.send(op, payload);
          const m = await s.peer.expectEcho(op, payload);
          assert.deepStrictEqual(m.sizes, Array(10).fill(1000));
          await closeNormally(s);
        });
      }

      it('fragmentationThreshold 1000: a 2500-byte message comes as 1000 + 1000 + 500, a 1000-byte one as one frame', async function () {
        const s = await open({ fragmentationThreshold: 1000 });
        s.peer.send(BINARY, bytes(2500, 16));
        assert.deepStrictEqual((await s.peer.expectEcho(BINARY, bytes(2500, 16))).sizes, [1000, 1000, 500]);
        s.peer.send(BINARY, bytes(1000, 17));
        assert.deepStrictEqual((await s.peer.expectEcho(BINARY, bytes(1000, 17))).sizes, [1000]);
        await closeNormally(s);
      });

      it('default fragmentation (16 KiB): the echo of a 65536-byte message comes as 4 fragments of 16 KiB', async function () {
        const s = await open();
        const payload = bytes(65536, 18);
        s.peer.send(BINARY, payload);
        assert.deepStrictEqual((await s.peer.expectEcho(BINARY, payload)).sizes, Array(4).fill(16 * KIB));
        await closeNormally(s);
      });

      it('fragmentOutgoingMessages false: the echo of a 65536-byte message is one frame', async function () {
        const s = await open({ fragmentOutgoingMessages: false });
        const payload = textBytes(utf8Text(65536));
        s.peer.send(TEXT, payload);
        eq((await s.peer.expectEcho(TEXT, payload)).fragments, 1);
        await closeNormally(s);
      });
    });
  });
}

describe('conformance, both roles', function () {
  this.timeout(15000);
  afterEach(runCleanups);

  it('the reply to an empty close frame is the same from the server and from the client (empty, or 1000)', async function () {
    const replies = {};
    for (const role of ['server', 'client']) {
      const s = await SESSIONS[role]();
      s.peer.send(CLOSE, Buffer.alloc(0));
      const c = await s.peer.expectClose();
      replies[role] = c.code;
      await finishTcp(s);
    }
    assert.ok([null, 1000].includes(replies.server), 'server reply code ' + replies.server);
    eq(replies.client, replies.server, 'client reply code ' + replies.client + ', server reply code ' + replies.server);
  });
});
