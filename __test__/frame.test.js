'use strict';
// Tests for the `frame` export (lib/WebSocketFrame.js over the Rust encoder and header decoder).
// Small cases are checked against bytes written out from RFC 6455 section 5; everything else is
// compared with the original WebSocket-Node 1.0.35 (the `websocket` devDependency).
const assert = require('assert');

const ours = require('..');
const orig = require('websocket');
const BufferList = require('websocket/vendor/FastBufferList');
const pkg = require('../package.json');

const OPCODES = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xA };
const COMPLETE = 6; // parseState once a frame is parsed (same constant in both)
const MIB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Helpers

// Bytes from a hex string; spaces are ignored, so bytes can be grouped as in the RFC.
function hex(text) {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

// A deterministic payload of `n` bytes that is not all one value.
function payloadOf(n) {
  const buf = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    buf[i] = (i * 31 + 7) & 0xFF;
  }
  return buf;
}

// XORs `data` with the 4-byte `key` into a new Buffer (masking and unmasking are the same).
function xorMask(data, key) {
  const out = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) {
    out[i] = data[i] ^ key[i & 3];
  }
  return out;
}

// Our frame, built with no constructor arguments (as a user building a frame to send would).
function ourFrame(fields) {
  return Object.assign(new ours.frame(), fields);
}

// The original's frame; it requires maskBytes, frameHeader and config.
function origFrame(fields, config) {
  return Object.assign(new orig.frame(Buffer.alloc(4), Buffer.alloc(10), config || {}), fields);
}

// Frames of both implementations, keyed by name, for parsing tests.
const IMPLS = [
  ['ours', (config) => new ours.frame(Buffer.alloc(4), Buffer.alloc(10), config || {})],
  ['orig', (config) => new orig.frame(Buffer.alloc(4), Buffer.alloc(10), config || {})],
];

// Header length of a frame carrying `n` payload bytes.
function headerLength(n, masked) {
  const base = n <= 125 ? 2 : n <= 0xFFFF ? 4 : 10;
  return base + (masked ? 4 : 0);
}

// Parses `bytes` with a frame made by `make`, fed either whole or one byte at a time. Returns
// the frame, how many bytes had been fed when addData first returned true (-1 if never) and how
// many bytes were left in the buffer list.
function parse(make, bytes, options) {
  const opts = options || {};
  const frame = make(opts.config);
  const list = new BufferList();
  let doneAt = -1;
  if (opts.byteByByte) {
    for (let i = 0; i < bytes.length; i++) {
      list.write(bytes.subarray(i, i + 1));
      if (frame.addData(list)) {
        doneAt = i + 1;
        break;
      }
    }
  } else {
    list.write(bytes);
    if (frame.addData(list)) {
      doneAt = bytes.length;
    }
  }
  return { frame, doneAt, left: list.length, list };
}

// The fields a user reads from a parsed frame.
function parsedFields(frame) {
  return {
    fin: frame.fin,
    rsv1: frame.rsv1,
    rsv2: frame.rsv2,
    rsv3: frame.rsv3,
    mask: frame.mask,
    opcode: frame.opcode,
    length: frame.length,
    binaryPayload: frame.binaryPayload,
    closeStatus: frame.closeStatus,
    maskBytes: frame.maskBytes,
    protocolError: frame.protocolError,
    frameTooLarge: frame.frameTooLarge,
    invalidCloseFrameLength: frame.invalidCloseFrameLength,
    dropReason: frame.dropReason,
    parseState: frame.parseState,
  };
}

// ---------------------------------------------------------------------------------------------

describe('module exports', function () {
  const NAMES = [
    'server', 'client', 'router', 'frame', 'request', 'connection', 'w3cwebsocket',
    'deprecation', 'version',
  ];

  it('exports exactly the nine names of the original, in the same order', function () {
    assert.deepStrictEqual(Object.keys(ours), NAMES);
    assert.deepStrictEqual(Object.keys(ours), Object.keys(orig));
  });

  it('version is the package.json version', function () {
    assert.strictEqual(typeof ours.version, 'string');
    assert.strictEqual(ours.version, pkg.version);
  });

  it('frame is a constructor', function () {
    assert.strictEqual(typeof ours.frame, 'function');
    assert.ok(new ours.frame() instanceof ours.frame);
  });

  describe('deprecation', function () {
    // Runs the same warn() scenario on a deprecation object and records console.warn calls.
    function scenario(deprecation) {
      const saved = {
        warn: console.warn,
        disable: deprecation.disableWarnings,
        map: Object.assign({}, deprecation.deprecationWarningMap),
      };
      const calls = [];
      console.warn = (...args) => calls.push(args.join(' '));
      try {
        deprecation.deprecationWarningMap.testOnce = 'testOnce is deprecated';
        deprecation.deprecationWarningMap.testDisabled = 'testDisabled is deprecated';
        deprecation.warn('testOnce');
        deprecation.warn('testOnce');
        deprecation.warn('notRegistered');
        deprecation.disableWarnings = true;
        deprecation.warn('testDisabled');
        deprecation.disableWarnings = false;
        deprecation.warn('testDisabled');
      } finally {
        console.warn = saved.warn;
        deprecation.disableWarnings = saved.disable;
        deprecation.deprecationWarningMap = saved.map;
      }
      return calls;
    }

    it('has warn, disableWarnings and deprecationWarningMap like the original', function () {
      assert.strictEqual(typeof ours.deprecation.warn, 'function');
      assert.strictEqual(ours.deprecation.disableWarnings, false);
      assert.strictEqual(ours.deprecation.disableWarnings, orig.deprecation.disableWarnings);
      assert.deepStrictEqual(ours.deprecation.deprecationWarningMap,
        orig.deprecation.deprecationWarningMap);
    });

    it('warns once per name, not when disabled, with the original\'s text', function () {
      const got = scenario(ours.deprecation);
      assert.deepStrictEqual(got, [
        'DEPRECATION WARNING: testOnce is deprecated',
        'DEPRECATION WARNING: testDisabled is deprecated',
      ]);
      assert.deepStrictEqual(got, scenario(orig.deprecation));
    });
  });
});

describe('frame.toBuffer: exact bytes', function () {
  const CASES = [
    // [title, frame fields, expected bytes]
    ['unmasked text "hi"',
      { fin: true, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('hi') },
      '81 02 68 69'],
    ['masked text "hi" with nullMask',
      { fin: true, mask: true, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('hi') },
      '81 82 00000000 68 69'],
    ['RFC 6455 5.7: single-frame unmasked text "Hello"',
      { fin: true, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('Hello') },
      '81 05 48 65 6c 6c 6f'],
    ['RFC 6455 5.7: first fragment "Hel" (fin false)',
      { fin: false, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('Hel') },
      '01 03 48 65 6c'],
    ['RFC 6455 5.7: last fragment "lo" (continuation)',
      { fin: true, opcode: OPCODES.CONTINUATION, binaryPayload: Buffer.from('lo') },
      '80 02 6c 6f'],
    ['RFC 6455 5.7: unmasked ping "Hello"',
      { fin: true, opcode: OPCODES.PING, binaryPayload: Buffer.from('Hello') },
      '89 05 48 65 6c 6c 6f'],
    ['unmasked pong "Hello"',
      { fin: true, opcode: OPCODES.PONG, binaryPayload: Buffer.from('Hello') },
      '8a 05 48 65 6c 6c 6f'],
    ['empty binary frame (no binaryPayload)',
      { fin: true, opcode: OPCODES.BINARY },
      '82 00'],
    ['empty binary frame, masked with nullMask',
      { fin: true, mask: true, opcode: OPCODES.BINARY, binaryPayload: Buffer.alloc(0) },
      '82 80 00000000'],
    ['RSV1 set',
      { fin: true, rsv1: true, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('a') },
      'c1 01 61'],
    ['RSV2 set',
      { fin: true, rsv2: true, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('a') },
      'a1 01 61'],
    ['RSV3 set',
      { fin: true, rsv3: true, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('a') },
      '91 01 61'],
    ['all RSV bits, fin false, binary, masked',
      { fin: false, rsv1: true, rsv2: true, rsv3: true, mask: true, opcode: OPCODES.BINARY,
        binaryPayload: Buffer.from([0xFF]) },
      '72 81 00000000 ff'],
    ['close 1000 "bye"',
      { fin: true, opcode: OPCODES.CLOSE, closeStatus: 1000, binaryPayload: Buffer.from('bye') },
      '88 05 03e8 62 79 65'],
    ['close 1000 "bye", masked with nullMask',
      { fin: true, mask: true, opcode: OPCODES.CLOSE, closeStatus: 1000,
        binaryPayload: Buffer.from('bye') },
      '88 85 00000000 03e8 62 79 65'],
    ['close 1001 with no binaryPayload',
      { fin: true, opcode: OPCODES.CLOSE, closeStatus: 1001 },
      '88 02 03e9'],
    ['close 4000 with a UTF-8 reason "é"',
      { fin: true, opcode: OPCODES.CLOSE, closeStatus: 4000, binaryPayload: Buffer.from('é') },
      '88 04 0fa0 c3 a9'],
  ];

  for (const [title, fields, expected] of CASES) {
    it(title, function () {
      assert.deepStrictEqual(ourFrame(fields).toBuffer(true), hex(expected));
    });
  }

  it('a masked frame with nullMask leaves zeros in maskBytes', function () {
    const maskBytes = Buffer.from([1, 2, 3, 4]);
    const frame = new ours.frame(maskBytes, Buffer.alloc(10), {});
    Object.assign(frame, { fin: true, mask: true, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('x') });
    frame.toBuffer(true);
    assert.deepStrictEqual(maskBytes, Buffer.alloc(4));
  });
});

describe('frame.toBuffer: length forms', function () {
  const FORMS = [
    // [payload length, second header byte without the mask bit, extended length bytes]
    [0, 0x00, ''],
    [1, 0x01, ''],
    [125, 0x7D, ''],
    [126, 0x7E, '007e'],
    [127, 0x7E, '007f'],
    [65535, 0x7E, 'ffff'],
    [65536, 0x7F, '00000000 00010000'],
    [MIB, 0x7F, '00000000 00100000'],
  ];

  for (const [n, len7, ext] of FORMS) {
    for (const masked of [false, true]) {
      it(`${n} bytes, ${masked ? 'masked (nullMask)' : 'unmasked'}`, function () {
        const payload = payloadOf(n);
        const frame = ourFrame({ fin: true, mask: masked, opcode: OPCODES.BINARY, binaryPayload: payload });
        const out = frame.toBuffer(true);
        const header = Buffer.concat([
          Buffer.from([0x82, len7 | (masked ? 0x80 : 0)]),
          hex(ext),
          masked ? Buffer.alloc(4) : Buffer.alloc(0),
        ]);
        assert.strictEqual(header.length, headerLength(n, masked));
        assert.strictEqual(out.length, header.length + n);
        assert.deepStrictEqual(out.subarray(0, header.length), header);
        assert.ok(out.subarray(header.length).equals(payload), 'payload bytes differ');
        assert.strictEqual(frame.length, n);
      });
    }
  }

  it('1 MiB masked with a random key: header, total length, unmasked payload', function () {
    const payload = payloadOf(MIB);
    const frame = ourFrame({ fin: true, mask: true, opcode: OPCODES.BINARY, binaryPayload: payload });
    const out = frame.toBuffer();
    assert.strictEqual(out.length, 14 + MIB);
    assert.deepStrictEqual(out.subarray(0, 10), hex('82 ff 00000000 00100000'));
    const key = out.subarray(10, 14);
    assert.deepStrictEqual(Buffer.from(frame.maskBytes), Buffer.from(key));
    assert.ok(xorMask(out.subarray(14), key).equals(payload), 'unmasked payload differs');
  });

  it('1 MiB matches the original, masked (nullMask) and unmasked', function () {
    const payload = payloadOf(MIB);
    for (const mask of [false, true]) {
      const fields = { fin: true, mask, opcode: OPCODES.BINARY, binaryPayload: payload };
      assert.ok(ourFrame(fields).toBuffer(true).equals(origFrame(fields).toBuffer(true)),
        `mask ${mask}`);
    }
  });
});

describe('frame.toBuffer: same bytes as the original', function () {
  const FINS = [true, false];
  const RSVS = [];
  for (let bits = 0; bits < 8; bits++) {
    RSVS.push({ rsv1: Boolean(bits & 4), rsv2: Boolean(bits & 2), rsv3: Boolean(bits & 1) });
  }
  // `undefined` means no binaryPayload at all. For close frames the 2 status bytes are added,
  // so 123/124 and 65533/65534 straddle the length-form boundaries there.
  const LENGTHS = [undefined, 0, 1, 2, 123, 124, 125, 126, 127, 65533, 65534, 65535, 65536, 70000];

  for (const opcode of [0, 1, 2, 8, 9, 10]) {
    for (const mask of [false, true]) {
      it(`opcode ${opcode}, ${mask ? 'masked (nullMask)' : 'unmasked'}: fin x rsv x lengths`, function () {
        for (const fin of FINS) {
          for (const rsv of RSVS) {
            for (const n of LENGTHS) {
              const fields = Object.assign({ fin, mask, opcode }, rsv);
              if (n !== undefined) {
                fields.binaryPayload = payloadOf(n);
              }
              if (opcode === OPCODES.CLOSE) {
                fields.closeStatus = 1000 + (n || 0) % 3000;
              }
              const a = ourFrame(fields);
              const b = origFrame(fields);
              const what = JSON.stringify(Object.assign({ n }, fields, { binaryPayload: undefined }));
              const outA = a.toBuffer(true);
              const outB = b.toBuffer(true);
              assert.ok(outA.equals(outB), `bytes differ for ${what}`);
              assert.strictEqual(a.length, b.length, `length differs for ${what}`);
              assert.strictEqual(a.toString(), b.toString(), `toString differs for ${what}`);
            }
          }
        }
      });
    }
  }
});

describe('frame.toBuffer: random masks', function () {
  const CALLS = 8;

  function randomlyMasked(payload) {
    const frame = ourFrame({ fin: true, mask: true, opcode: OPCODES.BINARY, binaryPayload: payload });
    const out = frame.toBuffer();
    const at = headerLength(payload.length, true) - 4;
    return { frame, out, at, key: Buffer.from(out.subarray(at, at + 4)) };
  }

  it('uses a key that is not all zeros and differs between calls', function () {
    const keys = [];
    for (let i = 0; i < CALLS; i++) {
      keys.push(randomlyMasked(Buffer.from('hello')).key.toString('hex'));
    }
    assert.ok(keys.some((k) => k !== '00000000'), 'every key was all zeros');
    assert.strictEqual(new Set(keys).size, CALLS, `repeated keys: ${keys.join(' ')}`);
  });

  it('successive calls on one frame use different keys', function () {
    const frame = ourFrame({ fin: true, mask: true, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('hi') });
    const keys = new Set();
    for (let i = 0; i < CALLS; i++) {
      keys.add(frame.toBuffer().subarray(2, 6).toString('hex'));
    }
    assert.strictEqual(keys.size, CALLS);
  });

  for (const n of [5, 300, 70000]) {
    it(`${n} bytes: the key is left in maskBytes and unmasks to the payload`, function () {
      const payload = payloadOf(n);
      const { frame, out, at, key } = randomlyMasked(payload);
      assert.deepStrictEqual(Buffer.from(frame.maskBytes), key);
      assert.strictEqual(out.length, at + 4 + n);
      assert.ok(xorMask(out.subarray(at + 4), key).equals(payload), 'unmasked payload differs');
    });
  }

  it('writes the key into the maskBytes Buffer given to the constructor', function () {
    const shared = Buffer.alloc(4);
    const frame = new ours.frame(shared, Buffer.alloc(10), {});
    Object.assign(frame, { fin: true, mask: true, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('hi') });
    const out = frame.toBuffer();
    assert.strictEqual(frame.maskBytes, shared);
    assert.deepStrictEqual(shared, Buffer.from(out.subarray(2, 6)));
  });

  it('does not modify the payload Buffer the user passed', function () {
    const payload = payloadOf(1000);
    const copy = Buffer.from(payload);
    randomlyMasked(payload);
    assert.deepStrictEqual(payload, copy);
  });

  it('does not modify the close reason Buffer the user passed', function () {
    const reason = Buffer.from('going away');
    const copy = Buffer.from(reason);
    const frame = ourFrame({ fin: true, mask: true, opcode: OPCODES.CLOSE, closeStatus: 1001, binaryPayload: reason });
    const out = frame.toBuffer();
    assert.deepStrictEqual(reason, copy);
    assert.deepStrictEqual(xorMask(out.subarray(6), out.subarray(2, 6)),
      Buffer.concat([hex('03e9'), copy]));
  });
});

describe('frame.toBuffer: close frames', function () {
  function close(fields) {
    return ourFrame(Object.assign({ fin: true, opcode: OPCODES.CLOSE }, fields));
  }

  it('puts closeStatus first (big-endian) and then the reason bytes', function () {
    const out = close({ closeStatus: 0x1234, binaryPayload: Buffer.from('abc') }).toBuffer(true);
    assert.deepStrictEqual(out, hex('88 05 1234 616263'));
  });

  it('with no binaryPayload has exactly the 2 status bytes', function () {
    const frame = close({ closeStatus: 1000 });
    assert.deepStrictEqual(frame.toBuffer(true), hex('88 02 03e8'));
    assert.strictEqual(frame.length, 2);
  });

  it('with an empty binaryPayload has exactly the 2 status bytes', function () {
    assert.deepStrictEqual(close({ closeStatus: 1000, binaryPayload: Buffer.alloc(0) }).toBuffer(true),
      hex('88 02 03e8'));
  });

  it('status 0 and 65535 are written as given', function () {
    assert.deepStrictEqual(close({ closeStatus: 0 }).toBuffer(true), hex('88 02 0000'));
    assert.deepStrictEqual(close({ closeStatus: 65535 }).toBuffer(true), hex('88 02 ffff'));
  });

  it('a 123-byte reason still fits the 7-bit form (payload 125)', function () {
    const reason = Buffer.alloc(123, 0x61);
    const out = close({ closeStatus: 1000, binaryPayload: reason }).toBuffer(true);
    assert.deepStrictEqual(out.subarray(0, 4), hex('88 7d 03e8'));
    assert.strictEqual(out.length, 2 + 125);
  });

  it('a 124-byte reason uses the 16-bit form (payload 126), as the original does', function () {
    const reason = Buffer.alloc(124, 0x61);
    const out = close({ closeStatus: 1000, binaryPayload: reason }).toBuffer(true);
    assert.deepStrictEqual(out.subarray(0, 6), hex('88 7e 007e 03e8'));
    assert.strictEqual(out.length, 4 + 126);
  });

  it('closeStatus left at -1 throws a RangeError (checked up front; the original throws from ' +
     'inside Buffer#writeUInt16BE)', function () {
    const frame = new ours.frame();
    Object.assign(frame, { fin: true, opcode: OPCODES.CLOSE, binaryPayload: Buffer.from('x') });
    assert.strictEqual(frame.closeStatus, -1);
    assert.throws(() => frame.toBuffer(true), RangeError);
    assert.throws(() => origFrame({ fin: true, opcode: OPCODES.CLOSE }).toBuffer(true), RangeError);
  });

  it('closeStatus undefined or out of range throws a RangeError (stricter: the original writes ' +
     'status 0 for undefined)', function () {
    for (const closeStatus of [undefined, null, 1.5, 65536, NaN, '1000']) {
      assert.throws(() => close({ closeStatus }).toBuffer(true), RangeError, String(closeStatus));
    }
  });
});

describe('frame.length after toBuffer', function () {
  it('is the payload length, replacing any earlier value', function () {
    const frame = ourFrame({ fin: true, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('hello'), length: 999 });
    frame.toBuffer(true);
    assert.strictEqual(frame.length, 5);
  });

  it('is 0 with no binaryPayload', function () {
    const frame = ourFrame({ fin: true, opcode: OPCODES.PING, length: 7 });
    frame.toBuffer(true);
    assert.strictEqual(frame.length, 0);
  });

  it('counts the 2 status bytes of a close frame', function () {
    const frame = ourFrame({ fin: true, opcode: OPCODES.CLOSE, closeStatus: 1000, binaryPayload: Buffer.from('bye') });
    frame.toBuffer(true);
    assert.strictEqual(frame.length, 5);
  });

  it('is updated again when the payload changes', function () {
    const frame = ourFrame({ fin: true, opcode: OPCODES.BINARY, binaryPayload: payloadOf(70000) });
    frame.toBuffer(true);
    assert.strictEqual(frame.length, 70000);
    frame.binaryPayload = payloadOf(3);
    frame.toBuffer(true);
    assert.strictEqual(frame.length, 3);
  });
});

describe('frame.toString', function () {
  const CASES = [
    [{ fin: true, mask: false, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('hi') },
      'Opcode: 1, fin: true, length: 2, hasPayload: true, masked: false'],
    [{ fin: true, mask: true, opcode: OPCODES.PING },
      'Opcode: 9, fin: true, length: 0, hasPayload: false, masked: true'],
    [{ fin: true, mask: false, opcode: OPCODES.CLOSE, closeStatus: 1000, binaryPayload: Buffer.from('bye') },
      'Opcode: 8, fin: true, length: 5, hasPayload: true, masked: false'],
    [{ fin: false, mask: true, opcode: OPCODES.BINARY, binaryPayload: payloadOf(300) },
      'Opcode: 2, fin: false, length: 300, hasPayload: true, masked: true'],
  ];

  for (const [fields, expected] of CASES) {
    it(expected, function () {
      const a = ourFrame(fields);
      const b = origFrame(fields);
      a.toBuffer(true);
      b.toBuffer(true);
      assert.strictEqual(a.toString(), expected);
      assert.strictEqual(a.toString(), b.toString());
    });
  }

  it('matches the original on a fresh frame (fields unset)', function () {
    assert.strictEqual(ourFrame({}).toString(), origFrame({}).toString());
  });
});

describe('frame.binaryPayload types', function () {
  for (const [title, value] of [['a string', 'hello'], ['a number', 42], ['an array', [1, 2]],
    ['an ArrayBuffer', new ArrayBuffer(2)]]) {
    it(`${title} throws a TypeError`, function () {
      const frame = ourFrame({ fin: true, opcode: OPCODES.TEXT, binaryPayload: value });
      assert.throws(() => frame.toBuffer(true), TypeError);
    });
  }

  it('a string reason on a close frame throws a TypeError', function () {
    const frame = ourFrame({ fin: true, opcode: OPCODES.CLOSE, closeStatus: 1000, binaryPayload: 'bye' });
    assert.throws(() => frame.toBuffer(true), TypeError);
  });

  it('a Uint8Array is accepted and encoded like the same bytes in a Buffer', function () {
    const bytes = new Uint8Array([0x68, 0x69]);
    assert.deepStrictEqual(ourFrame({ fin: true, opcode: OPCODES.TEXT, binaryPayload: bytes }).toBuffer(true),
      hex('81 02 68 69'));
    assert.deepStrictEqual(
      ourFrame({ fin: true, mask: true, opcode: OPCODES.TEXT, binaryPayload: bytes }).toBuffer(true),
      hex('81 82 00000000 68 69'));
  });

  it('a Uint8Array view into a larger buffer encodes only the view', function () {
    const backing = Buffer.from('xxhixx');
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, 2);
    assert.deepStrictEqual(ourFrame({ fin: true, opcode: OPCODES.TEXT, binaryPayload: view }).toBuffer(true),
      hex('81 02 68 69'));
  });

  it('a Uint8Array close reason is accepted', function () {
    const frame = ourFrame({ fin: true, opcode: OPCODES.CLOSE, closeStatus: 1000,
      binaryPayload: new Uint8Array([0x62, 0x79, 0x65]) });
    assert.deepStrictEqual(frame.toBuffer(true), hex('88 05 03e8 62 79 65'));
  });

  it('null is treated as no payload', function () {
    assert.deepStrictEqual(ourFrame({ fin: true, opcode: OPCODES.BINARY, binaryPayload: null }).toBuffer(true),
      hex('82 00'));
  });
});

describe('frame.addData (parsing)', function () {
  // Wire bytes to parse, made by the original's encoder so ours is not checked against itself.
  function wire(fields, nullMask) {
    return origFrame(fields).toBuffer(nullMask);
  }

  const FRAMES = [
    ['unmasked text, 7-bit length', { fin: true, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('hello') }],
    ['masked text, 7-bit length', { fin: true, mask: true, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('hello') }],
    ['unmasked empty binary', { fin: true, opcode: OPCODES.BINARY }],
    ['masked empty binary', { fin: true, mask: true, opcode: OPCODES.BINARY }],
    ['unmasked binary, 125 bytes', { fin: true, opcode: OPCODES.BINARY, binaryPayload: payloadOf(125) }],
    ['unmasked binary, 16-bit length (126)', { fin: true, opcode: OPCODES.BINARY, binaryPayload: payloadOf(126) }],
    ['masked binary, 16-bit length (65535)', { fin: true, mask: true, opcode: OPCODES.BINARY, binaryPayload: payloadOf(65535) }],
    ['unmasked binary, 64-bit length (65536)', { fin: true, opcode: OPCODES.BINARY, binaryPayload: payloadOf(65536) }],
    ['masked binary, 64-bit length (65536)', { fin: true, mask: true, opcode: OPCODES.BINARY, binaryPayload: payloadOf(65536) }],
    ['fragment with RSV bits', { fin: false, rsv1: true, rsv3: true, opcode: OPCODES.CONTINUATION, binaryPayload: Buffer.from('abc') }],
    ['masked ping', { fin: true, mask: true, opcode: OPCODES.PING, binaryPayload: Buffer.from('p') }],
    ['unmasked pong', { fin: true, opcode: OPCODES.PONG, binaryPayload: Buffer.from('p') }],
    ['unmasked close with status and reason', { fin: true, opcode: OPCODES.CLOSE, closeStatus: 1000, binaryPayload: Buffer.from('bye') }],
    ['masked close with status and reason', { fin: true, mask: true, opcode: OPCODES.CLOSE, closeStatus: 4001, binaryPayload: Buffer.from('why') }],
    ['masked close with status only', { fin: true, mask: true, opcode: OPCODES.CLOSE, closeStatus: 1001 }],
  ];

  for (const [title, fields] of FRAMES) {
    // Small frames are also fed byte by byte; large ones only whole (and byte by byte once below).
    const size = fields.binaryPayload ? fields.binaryPayload.length : 0;
    const modes = size <= 200 ? [false, true] : [false];
    for (const byteByByte of modes) {
      it(`${title}, fed ${byteByByte ? 'one byte at a time' : 'whole'}`, function () {
        const bytes = wire(fields, false);
        const a = parse(IMPLS[0][1], bytes, { byteByByte });
        const b = parse(IMPLS[1][1], bytes, { byteByByte });
        assert.strictEqual(a.doneAt, bytes.length, 'addData did not complete on the last byte');
        assert.strictEqual(a.left, 0);
        assert.deepStrictEqual(parsedFields(a.frame), parsedFields(b.frame));
        // And against the frame that was sent, independently of the original's parser.
        const f = a.frame;
        assert.strictEqual(f.fin, Boolean(fields.fin));
        assert.strictEqual(f.opcode, fields.opcode);
        assert.strictEqual(f.mask, Boolean(fields.mask));
        assert.strictEqual(f.rsv1, Boolean(fields.rsv1));
        assert.strictEqual(f.rsv3, Boolean(fields.rsv3));
        assert.strictEqual(f.parseState, COMPLETE);
        assert.ok(Buffer.isBuffer(f.binaryPayload));
        assert.ok(f.binaryPayload.equals(fields.binaryPayload || Buffer.alloc(0)), 'payload differs');
        if (fields.opcode === OPCODES.CLOSE) {
          assert.strictEqual(f.closeStatus, fields.closeStatus);
          assert.strictEqual(f.length, 2 + size);
        } else {
          assert.strictEqual(f.closeStatus, -1);
          assert.strictEqual(f.length, size);
        }
        if (fields.mask) {
          const at = headerLength(f.length, true) - 4;
          assert.deepStrictEqual(Buffer.from(f.maskBytes), bytes.subarray(at, at + 4));
        }
      });
    }
  }

  it('a 64-bit-length masked frame fed one byte at a time', function () {
    const payload = payloadOf(70000);
    const bytes = wire({ fin: true, mask: true, opcode: OPCODES.BINARY, binaryPayload: payload }, false);
    const a = parse(IMPLS[0][1], bytes, { byteByByte: true });
    assert.strictEqual(a.doneAt, bytes.length);
    assert.strictEqual(a.frame.length, 70000);
    assert.ok(a.frame.binaryPayload.equals(payload));
  });

  it('parses bytes produced by our own toBuffer (random mask)', function () {
    const payload = payloadOf(300);
    const bytes = ourFrame({ fin: true, mask: true, opcode: OPCODES.BINARY, binaryPayload: payload }).toBuffer();
    for (const byteByByte of [false, true]) {
      const a = parse(IMPLS[0][1], bytes, { byteByByte });
      const b = parse(IMPLS[1][1], bytes, { byteByByte });
      assert.ok(a.frame.binaryPayload.equals(payload));
      assert.deepStrictEqual(parsedFields(a.frame), parsedFields(b.frame));
    }
  });

  it('leaves the bytes of a following frame in the buffer list', function () {
    const first = wire({ fin: true, mask: true, opcode: OPCODES.TEXT, binaryPayload: Buffer.from('one') }, false);
    const second = wire({ fin: true, opcode: OPCODES.BINARY, binaryPayload: payloadOf(200) });
    const list = new BufferList();
    list.write(Buffer.concat([first, second]));
    const a = new ours.frame(Buffer.alloc(4), Buffer.alloc(10), {});
    assert.strictEqual(a.addData(list), true);
    assert.deepStrictEqual(a.binaryPayload, Buffer.from('one'));
    assert.strictEqual(list.length, second.length);
    const b = new ours.frame(Buffer.alloc(4), Buffer.alloc(10), {});
    assert.strictEqual(b.addData(list), true);
    assert.ok(b.binaryPayload.equals(payloadOf(200)));
    assert.strictEqual(list.length, 0);
  });

  it('returns false until the whole frame has arrived', function () {
    const bytes = wire({ fin: true, opcode: OPCODES.BINARY, binaryPayload: payloadOf(300) });
    const list = new BufferList();
    const frame = new ours.frame(Buffer.alloc(4), Buffer.alloc(10), {});
    list.write(bytes.subarray(0, 1));
    assert.strictEqual(frame.addData(list), false);
    list.write(bytes.subarray(1, 100));
    assert.strictEqual(frame.addData(list), false);
    assert.strictEqual(frame.length, 300);
    list.write(bytes.subarray(100));
    assert.strictEqual(frame.addData(list), true);
    assert.ok(frame.binaryPayload.equals(payloadOf(300)));
  });

  it('a close frame with a 1-byte payload sets invalidCloseFrameLength', function () {
    const bytes = hex('88 01 41');
    const a = parse(IMPLS[0][1], bytes);
    const b = parse(IMPLS[1][1], bytes);
    assert.strictEqual(a.frame.invalidCloseFrameLength, true);
    assert.deepStrictEqual(a.frame.binaryPayload, Buffer.alloc(0));
    assert.strictEqual(a.frame.closeStatus, -1);
    assert.deepStrictEqual(parsedFields(a.frame), parsedFields(b.frame));
  });

  it('an empty close frame has no status (closeStatus -1)', function () {
    const a = parse(IMPLS[0][1], hex('88 00'));
    const b = parse(IMPLS[1][1], hex('88 00'));
    assert.strictEqual(a.frame.closeStatus, -1);
    assert.strictEqual(a.frame.invalidCloseFrameLength, false);
    assert.deepStrictEqual(parsedFields(a.frame), parsedFields(b.frame));
  });

  describe('protocol errors', function () {
    const ERRORS = [
      ['ping with a 16-bit length (126)', '89 7e 007e', 'Illegal control frame longer than 125 bytes.'],
      ['close with a 64-bit length', '88 7f 0000000000000080', 'Illegal control frame longer than 125 bytes.'],
      ['fragmented ping (fin false)', '09 00', 'Control frames must not be fragmented.'],
      ['fragmented close (fin false)', '08 02 03e8', 'Control frames must not be fragmented.'],
    ];

    for (const [title, bytes, reason] of ERRORS) {
      it(`${title}: protocolError with the original's dropReason`, function () {
        for (const byteByByte of [false, true]) {
          const a = parse(IMPLS[0][1], hex(bytes), { byteByByte });
          const b = parse(IMPLS[1][1], hex(bytes), { byteByByte });
          assert.strictEqual(a.doneAt, b.doneAt);
          assert.strictEqual(a.frame.protocolError, true);
          assert.strictEqual(a.frame.dropReason, reason);
          assert.strictEqual(a.frame.dropReason, b.frame.dropReason);
          assert.strictEqual(a.frame.opcode, b.frame.opcode);
          assert.strictEqual(a.frame.fin, b.frame.fin);
        }
      });
    }

    // The parser keeps lengths to 32 bits like the original; without this a frame with no
    // maxReceivedFrameSize set would wait for 4 GiB of payload.
    it('a 64-bit length with a non-zero high word is rejected like the original', function () {
      const bytes = hex('82 7f 00000001 00000000');
      const a = parse(IMPLS[0][1], bytes);
      const b = parse(IMPLS[1][1], bytes);
      assert.strictEqual(b.frame.protocolError, true);
      assert.strictEqual(a.frame.protocolError, true);
      assert.strictEqual(a.frame.dropReason, 'Unsupported 64-bit length frame received');
    });

    it('a reserved opcode is a protocolError at parse time (stricter: the original frame ' +
       'accepts it and its connection then drops with the same reason)', function () {
      const a = parse(IMPLS[0][1], hex('83 00'));
      const b = parse(IMPLS[1][1], hex('83 00'));
      assert.strictEqual(b.frame.protocolError, false);
      assert.strictEqual(a.frame.protocolError, true);
      assert.strictEqual(a.frame.dropReason, 'Unrecognized Opcode: 0x3');
      assert.strictEqual(a.frame.opcode, 3);
    });
  });

  describe('maxReceivedFrameSize', function () {
    const config = { maxReceivedFrameSize: 10 };

    it('a frame of 11 bytes sets frameTooLarge with the original\'s dropReason', function () {
      const bytes = wire({ fin: true, opcode: OPCODES.BINARY, binaryPayload: payloadOf(11) });
      for (const byteByByte of [false, true]) {
        const a = parse(IMPLS[0][1], bytes, { config, byteByByte });
        const b = parse(IMPLS[1][1], bytes, { config, byteByByte });
        assert.strictEqual(a.frame.frameTooLarge, true);
        assert.strictEqual(a.frame.protocolError, false);
        assert.strictEqual(a.frame.dropReason, 'Frame size of 11 bytes exceeds maximum accepted frame size');
        if (byteByByte) {
          assert.strictEqual(a.doneAt, 2, 'should be reported as soon as the header is read');
        }
        assert.deepStrictEqual(
          [a.frame.frameTooLarge, a.frame.dropReason, a.frame.length, a.doneAt, a.left],
          [b.frame.frameTooLarge, b.frame.dropReason, b.frame.length, b.doneAt, b.left]);
      }
    });

    it('a frame of exactly 10 bytes is accepted', function () {
      const bytes = wire({ fin: true, mask: true, opcode: OPCODES.BINARY, binaryPayload: payloadOf(10) }, false);
      const a = parse(IMPLS[0][1], bytes, { config });
      assert.strictEqual(a.frame.frameTooLarge, false);
      assert.ok(a.frame.binaryPayload.equals(payloadOf(10)));
    });

    it('a 64-bit length is reported as too large from the header alone', function () {
      const header = hex('82 ff 00000000 00010000 01020304');
      const a = parse(IMPLS[0][1], header, { config });
      const b = parse(IMPLS[1][1], header, { config });
      assert.strictEqual(a.doneAt, header.length);
      assert.strictEqual(a.frame.frameTooLarge, true);
      assert.strictEqual(a.frame.dropReason, 'Frame size of 65536 bytes exceeds maximum accepted frame size');
      assert.deepStrictEqual(parsedFields(a.frame), parsedFields(b.frame));
    });
  });

  describe('throwAwayPayload', function () {
    it('skips the payload of a too-large frame once it has all arrived', function () {
      const payload = payloadOf(20);
      const bytes = wire({ fin: true, opcode: OPCODES.BINARY, binaryPayload: payload });
      const trailer = hex('81 02 6869');
      for (const [name, make] of IMPLS) {
        const list = new BufferList();
        const frame = make({ maxReceivedFrameSize: 10 });
        list.write(bytes.subarray(0, 12));
        assert.strictEqual(frame.addData(list), true, name);
        assert.strictEqual(frame.frameTooLarge, true, name);
        assert.strictEqual(frame.throwAwayPayload(list), false, `${name}: too early`);
        assert.strictEqual(list.length, 10, name);
        list.write(bytes.subarray(12));
        list.write(trailer);
        assert.strictEqual(frame.throwAwayPayload(list), true, name);
        assert.strictEqual(frame.parseState, COMPLETE, name);
        assert.strictEqual(list.length, trailer.length, `${name}: next frame's bytes kept`);
        const next = make({});
        assert.strictEqual(next.addData(list), true, name);
        assert.deepStrictEqual(next.binaryPayload, Buffer.from('hi'), name);
      }
    });
  });

  // After parsing, frameHeader holds the two first header bytes at [0..1] and the extended
  // length at [2..] (e.g. 81 7e 00 05 ... for a 16-bit length), as in the original.
  it('frameHeader holds the same header bytes as the original\'s', function () {
    for (const bytes of [hex('81 7e 0005 0102030405'), hex('81 fe 0005 01020304 0000000000')]) {
      const a = parse(IMPLS[0][1], bytes);
      const b = parse(IMPLS[1][1], bytes);
      assert.deepStrictEqual(a.frame.frameHeader, b.frame.frameHeader);
    }
  });
});
