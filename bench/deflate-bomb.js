'use strict';
// The decompression-bomb client of the benchmark's deflate-bomb scenario: a raw WebSocket client
// (net + zlib, no WebSocket library) that upgrades with permessage-deflate offered, sends ONE
// binary message whose payload is `inflatedSize` bytes of zeros compressed with raw deflate
// (16 MiB inflate from about 16 KiB on the wire), RSV1 set, masked, and waits for the server's
// close frame. A server with a 1 MiB message limit must close with 1009 (message too big) without
// inflating the whole message; bench/run.js reads the server's peak RSS around the attack.
//
//   node bench/deflate-bomb.js --port P [--host 127.0.0.1] [--size 16777216] [--timeout-ms 10000]
//   prints {"closeCode":1009,...} (exit status 0 when the server closed with 1009, 1 otherwise)
//
// Used by bench/run.js as require('./deflate-bomb').attack({ host, port }).

const crypto = require('crypto');
const net = require('net');
const zlib = require('zlib');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const MiB = 1024 * 1024;

// The bomb's payload: `size` zero bytes, raw deflate (level 9) with a sync flush, the flush's
// trailing 00 00 ff ff removed (RFC 7692 7.2.1), as a permessage-deflate sender makes it.
function bombPayload(size) {
  const z = zlib.deflateRawSync(Buffer.alloc(size), {
    level: 9,
    windowBits: 15,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  if (!z.subarray(-4).equals(TAIL)) throw new Error('the sync flush did not end with 00 00 ff ff');
  return z.subarray(0, -4);
}

// One masked client frame, FIN set; `rsv1` marks a compressed message.
function clientFrame(opcode, payload, rsv1 = false) {
  const len = payload.length;
  const head = Buffer.alloc(len < 126 ? 2 : len <= 0xffff ? 4 : 10);
  head[0] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (len < 126) head[1] = 0x80 | len;
  else if (len <= 0xffff) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = crypto.randomBytes(4);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

// Resolves with { closeCode, closeReason, wireBytes, inflatedBytes, extensions, closeMs,
// framesBeforeClose, tcpClosedWithoutClose }; rejects if the upgrade fails or nothing happens
// within timeoutMs.
function attack({ host = '127.0.0.1', port, inflatedSize = 16 * MiB, timeoutMs = 10000 }) {
  const payload = bombPayload(inflatedSize);
  const key = crypto.randomBytes(16).toString('base64');
  const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host);
    let buf = Buffer.alloc(0);
    let upgraded = false;
    let extensions = null;
    let sentAt = 0;
    let frames = 0;
    let settled = false;
    const finish = (err, res) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        sock.destroy();
        reject(err);
      } else {
        resolve(res);
      }
    };
    const timer = setTimeout(() => finish(new Error(
      upgraded ? `no close frame within ${timeoutMs} ms of the bomb` : 'upgrade timed out')), timeoutMs);
    const result = (code, reason, tcpOnly) => ({
      closeCode: code,
      closeReason: reason,
      wireBytes: payload.length,
      inflatedBytes: inflatedSize,
      extensions,
      closeMs: sentAt ? Number(process.hrtime.bigint() - sentAt) / 1e6 : null,
      framesBeforeClose: frames,
      tcpClosedWithoutClose: tcpOnly,
    });

    sock.setNoDelay(true);
    sock.on('error', (e) => finish(new Error('socket: ' + e.message)));
    sock.on('close', () => finish(null, result(null, null, true)));
    sock.on('connect', () => {
      sock.write(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n');
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1').split('\r\n');
        buf = buf.subarray(end + 4);
        if (!/^HTTP\/1\.1 101 /.test(head[0])) return finish(new Error('upgrade refused: ' + head[0]));
        const headers = {};
        for (const line of head.slice(1)) {
          const i = line.indexOf(':');
          if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        if (headers['sec-websocket-accept'] !== accept) return finish(new Error('bad Sec-WebSocket-Accept'));
        extensions = headers['sec-websocket-extensions'] || null;
        if (!extensions || !/^permessage-deflate\b/.test(extensions)) {
          return finish(new Error('the server did not accept permessage-deflate: ' + extensions));
        }
        upgraded = true;
        sentAt = process.hrtime.bigint();
        sock.write(clientFrame(0x2, payload, true));
      }
      // server frames (unmasked): skip data frames, stop at the close frame
      for (;;) {
        if (buf.length < 2) return;
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) return;
        const opcode = buf[0] & 0x0f;
        const body = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        frames++;
        if (opcode === 0x8) {
          const code = body.length >= 2 ? body.readUInt16BE(0) : 1005;
          const reason = body.length > 2 ? body.subarray(2).toString('utf8') : '';
          // answer the close, then let the server end the TCP connection
          const answer = Buffer.alloc(2);
          answer.writeUInt16BE(code === 1005 ? 1000 : code);
          sock.end(clientFrame(0x8, code === 1005 ? Buffer.alloc(0) : answer));
          return finish(null, result(code, reason, false));
        }
      }
    });
  });
}

module.exports = { attack, bombPayload };

if (require.main === module) {
  const opts = { host: '127.0.0.1', port: null, inflatedSize: 16 * MiB, timeoutMs: 10000 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') opts.port = Number(argv[++i]);
    else if (a === '--host') opts.host = argv[++i];
    else if (a === '--size') opts.inflatedSize = Number(argv[++i]);
    else if (a === '--timeout-ms') opts.timeoutMs = Number(argv[++i]);
    else {
      console.error('usage: node bench/deflate-bomb.js --port P [--host H] [--size BYTES] [--timeout-ms MS]');
      process.exit(2);
    }
  }
  if (!opts.port) {
    console.error('--port is required');
    process.exit(2);
  }
  attack(opts).then((r) => {
    console.log(JSON.stringify(r));
    process.exit(r.closeCode === 1009 ? 0 : 1);
  }, (e) => {
    console.error('deflate-bomb: ' + e.message);
    process.exit(1);
  });
}
