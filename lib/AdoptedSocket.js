'use strict';
// `connection.socket` for a connection whose socket Rust owns: there is no Node socket any
// more, so this object offers the fields and methods people use on one. Differences are listed
// in the README ("connection.socket").
const EventEmitter = require('events').EventEmitter;
const native = require('./native');

class AdoptedSocket extends EventEmitter {
  constructor(connection, id, addresses) {
    super();
    this._connection = connection;
    this._id = id;
    this._bytes = [0, 0];
    const a = addresses || {};
    this.remoteAddress = a.remoteAddress;
    this.remotePort = a.remotePort;
    this.remoteFamily = a.remoteFamily;
    this.localAddress = a.localAddress;
    this.localPort = a.localPort;
    this.encrypted = false;
    this.timeout = 0;
  }

  // Counts stay readable after the connection is gone (their last value).
  _counts() {
    if (this._connection._id !== 0) {
      this._bytes = native.byteCounts(this._id);
    }
    return this._bytes;
  }

  get bytesRead() {
    return this._counts()[0];
  }

  get bytesWritten() {
    return this._counts()[1];
  }

  get destroyed() {
    return this._connection.state === 'closed';
  }

  setNoDelay(noDelay) {
    if (this._connection._id !== 0) {
      native.setNoDelay(this._id, noDelay === undefined ? true : Boolean(noDelay));
    }
    return this;
  }

  setKeepAlive(enable, initialDelay) {
    if (this._connection._id !== 0) {
      native.setKeepAlive(this._id, Boolean(enable), Number(initialDelay) || 0);
    }
    return this;
  }

  // Idle timeouts are the connection's keepalive in Rust; the value is kept for reading only.
  setTimeout(timeout, callback) {
    this.timeout = timeout;
    if (typeof callback === 'function') {
      this.once('timeout', callback);
    }
    return this;
  }

  address() {
    return { address: this.localAddress, family: this.remoteFamily, port: this.localPort };
  }

  // Ends the TCP connection after what is queued, without a close frame (like ending a Node
  // socket under the original): the connection closes with 1006.
  end() {
    this._connection.drop(1006, 'Socket ended by the application.', true);
    return this;
  }

  destroy() {
    this._connection.drop(1006, 'Socket destroyed by the application.', true);
    return this;
  }

  pause() {
    this._connection.pause();
    return this;
  }

  resume() {
    this._connection.resume();
    return this;
  }
}

module.exports = AdoptedSocket;
