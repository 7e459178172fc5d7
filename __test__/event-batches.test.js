'use strict';
// Events reach JS in batches, each batch in calls of at most 1,024 events (one argument per
// message, so the call's size stays bounded). A read that brings thousands of frames at once
// must still arrive whole and in order, with messages and pings interleaved as they were sent.
const assert = require('assert');
const { runCleanups } = require('./helpers');
const { SESSIONS, OP } = require('./raw-peer');

describe('event batches', function () {
  this.timeout(20000);
  afterEach(runCleanups);

  for (const role of ['server', 'client']) {
    it(`delivers_every_message_of_a_read_larger_than_one_dispatch_call (${role})`, async function () {
      const { peer, conn } = await SESSIONS[role]({});
      const N = 5000;
      const seen = [];
      conn.on('message', (m) => seen.push(m.type === 'utf8' ? m.utf8Data : 'bin:' + m.binaryData.toString()));
      conn.on('ping', (cancel, data) => seen.push('ping:' + data.toString()));
      const frames = [];
      const expected = [];
      for (let i = 0; i < N; i++) {
        if (i % 7 === 3) {
          frames.push(peer.frame(OP.BINARY, Buffer.from(String(i))));
          expected.push('bin:' + i);
        } else {
          frames.push(peer.frame(OP.TEXT, 'm' + i));
          expected.push('m' + i);
        }
        if (i % 500 === 250) {
          frames.push(peer.frame(OP.PING, 'p' + i));
          expected.push('ping:p' + i);
        }
      }
      // one write: the other end reads most of it in a few large reads
      peer.write(Buffer.concat(frames));
      // the echo of the last message comes after every earlier event was handled
      for (let i = 0; i < N; i++) {
        const f = await peer.nextFrame(10000, 'echo ' + i);
        if (f.opcode === OP.PONG) {
          i--;
          continue;
        }
        const want = i % 7 === 3 ? String(i) : 'm' + i;
        assert.strictEqual(f.payload.toString(), want);
      }
      assert.strictEqual(seen.length, expected.length);
      assert.deepStrictEqual(seen, expected);
    });
  }
});
