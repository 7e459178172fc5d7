'use strict';
// WebSocketFrame: one RFC 6455 frame, as in WebSocket-Node 1.0.35. The byte work (header
// encoding and decoding, masking) is done by the Rust core; this class keeps the original's
// fields and methods.
const native = require('./native');

const DECODE_HEADER = 1;
const WAITING_FOR_PAYLOAD = 5;
const COMPLETE = 6;

const CLOSE = 0x08;

function WebSocketFrame(maskBytes, frameHeader, config) {
  // The original requires all three; a frame built only to be sent needs none of them.
  this.maskBytes = maskBytes || Buffer.alloc(4);
  this.frameHeader = frameHeader || Buffer.alloc(10);
  this.config = config || {};
  this.maxReceivedFrameSize = this.config.maxReceivedFrameSize;
  this.protocolError = false;
  this.frameTooLarge = false;
  this.invalidCloseFrameLength = false;
  this.parseState = DECODE_HEADER;
  this.closeStatus = -1;
}

function isBytes(value) {
  return value instanceof Uint8Array;
}

// Parses as much of one frame as `bufferList` holds (the original's BufferList interface:
// `length`, `take(n)`, `advance(n)`). Returns true when the frame is complete or invalid.
WebSocketFrame.prototype.addData = function addData(bufferList) {
  if (this.parseState === DECODE_HEADER) {
    if (bufferList.length < 2) {
      return false;
    }
    const head = bufferList.take(Math.min(bufferList.length, 14));
    const h = native.decodeFrameHeader(head);
    if (h === null) {
      return false;
    }
    this.fin = h.fin;
    this.rsv1 = h.rsv1;
    this.rsv2 = h.rsv2;
    this.rsv3 = h.rsv3;
    this.mask = h.mask;
    this.opcode = h.opcode;
    this.length = h.length;
    if (h.error) {
      this.protocolError = true;
      this.dropReason = h.error;
      return true;
    }
    if (h.length > 0xFFFFFFFF) {
      // Like the original: this parser keeps lengths to 32 bits.
      this.protocolError = true;
      this.dropReason = 'Unsupported 64-bit length frame received';
      return true;
    }
    if (h.maskKey) {
      h.maskKey.copy(this.maskBytes, 0);
    }
    // The fixed bytes and the extended length, where the original keeps them.
    const lengthEnd = h.headerLength - (h.mask ? 4 : 0);
    head.copy(this.frameHeader, 0, 0, Math.min(lengthEnd, this.frameHeader.length));
    bufferList.advance(h.headerLength);
    this.parseState = WAITING_FOR_PAYLOAD;
  }

  if (this.parseState === WAITING_FOR_PAYLOAD) {
    if (this.length > this.maxReceivedFrameSize) {
      this.frameTooLarge = true;
      this.dropReason = 'Frame size of ' + this.length.toString(10) +
        ' bytes exceeds maximum accepted frame size';
      return true;
    }
    if (this.length === 0) {
      this.binaryPayload = Buffer.alloc(0);
      this.parseState = COMPLETE;
      return true;
    }
    if (bufferList.length >= this.length) {
      this.binaryPayload = bufferList.take(this.length);
      bufferList.advance(this.length);
      if (this.mask) {
        native.unmask(this.binaryPayload, this.maskBytes);
      }
      if (this.opcode === CLOSE) {
        if (this.length === 1) {
          this.binaryPayload = Buffer.alloc(0);
          this.invalidCloseFrameLength = true;
        }
        if (this.length >= 2) {
          this.closeStatus = this.binaryPayload.readUInt16BE(0);
          this.binaryPayload = this.binaryPayload.slice(2);
        }
      }
      this.parseState = COMPLETE;
      return true;
    }
  }
  return false;
};

WebSocketFrame.prototype.throwAwayPayload = function throwAwayPayload(bufferList) {
  if (bufferList.length >= this.length) {
    bufferList.advance(this.length);
    this.parseState = COMPLETE;
    return true;
  }
  return false;
};

// The frame's exact wire bytes. With `nullMask` a masked frame uses the key 0x00000000;
// otherwise the key comes from the operating system's cryptographic generator (the original
// used Math.random). The key used is left in `maskBytes`, as the original does.
WebSocketFrame.prototype.toBuffer = function toBuffer(nullMask) {
  const opcode = this.opcode & 0x0F;
  let payload = this.binaryPayload;
  if (payload !== undefined && payload !== null && !isBytes(payload)) {
    throw new TypeError('frame.binaryPayload must be a Buffer (got ' + typeof payload + ')');
  }
  if (opcode === CLOSE) {
    const status = this.closeStatus;
    if (!Number.isInteger(status) || status < 0 || status > 0xFFFF) {
      throw new RangeError(
        'frame.closeStatus must be an integer from 0 to 65535 for a close frame (got ' + status + ')'
      );
    }
    const withStatus = Buffer.allocUnsafe(2 + (payload ? payload.length : 0));
    withStatus.writeUInt16BE(status, 0);
    if (payload) {
      withStatus.set(payload, 2);
    }
    payload = withStatus;
  }
  if (!payload) {
    payload = EMPTY;
  }
  this.length = payload.length;

  const head = (this.fin ? 0x80 : 0) | (this.rsv1 ? 0x40 : 0) | (this.rsv2 ? 0x20 : 0) |
    (this.rsv3 ? 0x10 : 0) | opcode;
  const masked = Boolean(this.mask);
  const out = native.encodeFrame(head, masked, Boolean(nullMask), payload);
  if (masked) {
    const keyAt = out.length - payload.length - 4;
    if (isBytes(this.maskBytes) && this.maskBytes.length >= 4) {
      this.maskBytes.set(out.subarray(keyAt, keyAt + 4), 0);
    }
  }
  return out;
};

WebSocketFrame.prototype.toString = function toString() {
  return 'Opcode: ' + this.opcode + ', fin: ' + this.fin + ', length: ' + this.length +
    ', hasPayload: ' + Boolean(this.binaryPayload) + ', masked: ' + this.mask;
};

const EMPTY = Buffer.alloc(0);

module.exports = WebSocketFrame;
