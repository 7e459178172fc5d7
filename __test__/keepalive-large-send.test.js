'use strict';
// A keepalive ping must go out on time even while a very large message is being sent: control
// frames go between the fragments (the original queues the ping behind the whole message).
const assert = require('assert');
const http = require('http');
const net = require('net');
const crypto = require('crypto');
const WebSocketServer = require('..').server;

// Reads unmasked server frames from a raw socket: calls onFrame(opcode, fin, payloadLength).
function frameReader(onFrame) {
  let buf = Buffer.alloc(0);
  let need = null; // remaining payload bytes of the current frame to skip
  let current = null;
  return function (chunk) {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    for (;;) {
      if (need !== null) {
        const take = Math.min(need, buf.length);
        buf = buf.subarray(take);
        need -= take;
        if (need > 0) return;
        onFrame(current.opcode, current.fin, current.length);
        need = null;
      }
      if (buf.length < 2) return;
      let len = buf[1] & 0x7F;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      current = { opcode: buf[0] & 0x0F, fin: (buf[0] & 0x80) !== 0, length: len };
      buf = buf.subarray(at);
      need = len;
    }
  };
}

describe('keepalive during a large send', function () {
  this.timeout(60000);

  it('sends a keepalive ping between the fragments of a 100 MiB message', function (done) {
    const httpServer = http.createServer();
    const wsServer = new WebSocketServer({
      httpServer,
      keepaliveInterval: 200,
      dropConnectionOnKeepaliveTimeout: false,
      fragmentationThreshold: 16 * 1024,
    });
    const big = Buffer.alloc(100 * 1024 * 1024, 0x61);
    wsServer.on('request', (req) => {
      const conn = req.accept(null, req.origin);
      conn.sendBytes(big);
    });
    httpServer.listen(0, '127.0.0.1', () => {
      const sock = net.connect(httpServer.address().port, '127.0.0.1');
      let upgraded = false;
      let pending = Buffer.alloc(0);
      let dataFrames = 0;
      let pingAfterFragments = -1;
      let finished = false;
      const read = frameReader((opcode, fin) => {
        if (opcode === 0x9 && pingAfterFragments < 0) {
          pingAfterFragments = dataFrames;
        } else if (opcode === 0x2 || opcode === 0x0) {
          dataFrames++;
          if (fin && !finished) {
            finished = true;
            sock.destroy();
            wsServer.shutDown();
            httpServer.close();
            try {
              const total = Math.ceil(big.length / (16 * 1024));
              assert.strictEqual(dataFrames, total);
              assert.ok(pingAfterFragments >= 0, 'no ping arrived before the message ended');
              assert.ok(pingAfterFragments < total, 'the ping came only after the whole message');
              done();
            } catch (e) {
              done(e);
            }
          }
        }
      });
      sock.on('data', (chunk) => {
        if (!upgraded) {
          pending = Buffer.concat([pending, chunk]);
          const end = pending.indexOf('\r\n\r\n');
          if (end < 0) return;
          assert.match(pending.subarray(0, end).toString(), /^HTTP\/1\.1 101/);
          upgraded = true;
          chunk = pending.subarray(end + 4);
        }
        read(chunk);
        // Read slowly so the message takes well over the keepalive interval to arrive.
        sock.pause();
        setTimeout(() => sock.resume(), 2);
      });
      sock.write('GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: ' + crypto.randomBytes(16).toString('base64') + '\r\n' +
        'Sec-WebSocket-Version: 13\r\n\r\n');
    });
  });
});
