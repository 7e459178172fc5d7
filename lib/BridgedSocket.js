'use strict';
// The bridged transport (docs/ARCHITECTURE.md, "Two transports"): for a socket Rust cannot take
// over (TLS, a proxy tunnel, any duplex stream) Node keeps the socket and this object drives the
// same Rust connection from it. Each chunk read goes in with one synchronous call (its events are
// delivered before the call returns); output comes back as SERVICE events or `bridgeTake`
// results and is written at once, in order. The protocol, its timers and limits stay in Rust.

// The status word of src/runtime/conn.rs (`status`).
const GOAL_MASK = 7;
const GOAL_HALF_CLOSE = 1;
const GOAL_CLOSE_WHEN_FLUSHED = 2;
const GOAL_CLOSE = 3;
const GOAL_LINGER = 4;
const READ_BLOCKED = 8;
const MORE_OUTPUT = 16;

// How a bridged socket ended, for `bridgeEnd`.
const END_EOF = 0;
const END_ERROR = 1;
const END_LOCAL = 2;

function noop() {}

function BridgedSocket(native, socket, id) {
  this._native = native;
  this.socket = socket;
  this.id = id;
  this.ended = false;
  this.halfClosed = false;
  this.waitingForDrain = false;
  this.readBlocked = false;
  this.userPaused = false;
  // Chunks read before the connection may deliver events (see holdInput), else null.
  this.held = null;

  const self = this;
  this._onData = function (chunk) {
    self.feed(chunk);
  };
  this._onEnd = function () {
    self.finish(END_EOF);
  };
  this._onClose = function () {
    self.finish(END_EOF);
  };
  this._onError = function (err) {
    self.finish(END_ERROR, describeError(err));
  };
  this._onDrain = function () {
    self.waitingForDrain = false;
    self.pump();
  };
  socket.on('data', this._onData);
  socket.on('end', this._onEnd);
  socket.on('close', this._onClose);
  socket.on('error', this._onError);
  socket.on('drain', this._onDrain);
}

// As the adopted transport describes I/O errors: "<syscall> <code>" when Node says them,
// else the error's message (TLS errors, stream errors).
function describeError(err) {
  if (err && err.syscall && err.code) {
    return err.syscall + ' ' + err.code;
  }
  return String((err && (err.message || err.code)) || err);
}

// Keeps `chunks`, and what is read from now on, until releaseInput().
BridgedSocket.prototype.holdInput = function (chunks) {
  this.held = chunks.slice();
};

BridgedSocket.prototype.releaseInput = function () {
  const held = this.held;
  this.held = null;
  if (held !== null) {
    for (const chunk of held) {
      this.feed(chunk);
    }
  }
};

// Bytes the peer sent. Writes made while their events are handled are corked into one.
BridgedSocket.prototype.feed = function (chunk) {
  if (this.ended) {
    return;
  }
  if (this.held !== null) {
    this.held.push(chunk);
    return;
  }
  const socket = this.socket;
  socket.cork();
  const status = this._native.bridgeFeed(this.id, chunk);
  socket.uncork();
  if ((status & READ_BLOCKED) !== 0 && !this.readBlocked && !this.ended) {
    // JS is behind on what was delivered: stop reading until it catches up (a SERVICE says so)
    this.readBlocked = true;
    socket.pause();
  }
};

// A SERVICE event: `output` (if any) to write now, and the status to act on.
BridgedSocket.prototype.service = function (status, output) {
  if (this.ended) {
    return;
  }
  if (output !== undefined && output.length > 0) {
    if (!this.socket.write(output)) {
      this.waitingForDrain = true;
    }
  }
  if ((status & MORE_OUTPUT) !== 0) {
    if (!this.waitingForDrain) {
      this.pump();
    }
    return;
  }
  this.readable(status);
  this.goal(status);
};

// Writes queued output until Node's socket asks to wait, then acts on the status.
BridgedSocket.prototype.pump = function () {
  const socket = this.socket;
  let status = 0;
  socket.cork();
  while (!this.ended) {
    const out = this._native.bridgeTake(this.id);
    if (typeof out === 'number') {
      status = out;
      break;
    }
    if (!socket.write(out)) {
      this.waitingForDrain = true;
      break;
    }
  }
  socket.uncork();
  if (!this.ended && !this.waitingForDrain) {
    this.readable(status);
    this.goal(status);
  }
};

BridgedSocket.prototype.readable = function (status) {
  if (this.readBlocked && (status & READ_BLOCKED) === 0) {
    this.readBlocked = false;
    if (!this.userPaused) {
      this.socket.resume();
    }
  }
};

BridgedSocket.prototype.goal = function (status) {
  const goal = status & GOAL_MASK;
  if (goal === GOAL_HALF_CLOSE || goal === GOAL_LINGER) {
    // FIN after what is written; reading goes on (Rust discards it after a failure) until the
    // peer ends, or the close timer asks for GOAL_CLOSE
    if (!this.halfClosed) {
      this.halfClosed = true;
      this.socket.end();
    }
  } else if (goal === GOAL_CLOSE_WHEN_FLUSHED) {
    // Node's socket writes what it holds before its FIN; then it is destroyed
    this.closeSocket(false);
    this.finish(END_LOCAL);
  } else if (goal === GOAL_CLOSE) {
    this.closeSocket(true);
    this.finish(END_LOCAL);
  }
};

BridgedSocket.prototype.closeSocket = function (now) {
  const socket = this.socket;
  socket.on('error', noop);
  if (now || socket.destroyed) {
    // "Write what can be written without waiting": hand corked bytes to the socket first (a
    // net socket then writes at once what the kernel takes), then close.
    while (socket.writableCorked > 0) {
      socket.uncork();
    }
    socket.destroy();
  } else if (typeof socket.destroySoon === 'function') {
    socket.destroySoon();
  } else {
    socket.end();
    socket.once('finish', function () {
      socket.destroy();
    });
  }
};

// The connection is over for Rust: its last events (close, and any error) come from there.
BridgedSocket.prototype.finish = function (how, message) {
  if (this.ended) {
    return;
  }
  if (this.held !== null) {
    // the socket ended before the held input was delivered: deliver it first, as the adopted
    // transport would
    this.releaseInput();
    if (this.ended) {
      return;
    }
  }
  this.ended = true;
  const socket = this.socket;
  socket.removeListener('data', this._onData);
  socket.removeListener('end', this._onEnd);
  socket.removeListener('close', this._onClose);
  socket.removeListener('error', this._onError);
  socket.removeListener('drain', this._onDrain);
  socket.on('error', noop);
  if (how !== END_LOCAL && !socket.destroyed) {
    socket.destroy();
  }
  this._native.bridgeEnd(this.id, how, message === undefined ? null : message);
};

BridgedSocket.prototype.pause = function () {
  this.userPaused = true;
  this.socket.pause();
};

BridgedSocket.prototype.resume = function () {
  this.userPaused = false;
  if (!this.readBlocked) {
    this.socket.resume();
  }
};

// Bytes queued and not yet written: Rust's queue plus what Node's socket holds.
BridgedSocket.prototype.buffered = function () {
  return this._native.bufferedAmount(this.id) + (this.socket.writableLength || 0);
};

module.exports = BridgedSocket;
