'use strict';
// permessage-deflate (RFC 7692), a websocket-rs extension: the `perMessageDeflate` option of
// servers and clients, with ws's option names. The negotiation and the compression itself are
// in Rust (src/protocol/deflate.rs, src/protocol/takeover.rs); this file checks the options
// and shapes what the handshake code needs.
const native = require('./native');

const BOOLEANS = ['serverNoContextTakeover', 'clientNoContextTakeover'];
const DEFAULT_LEVEL = 4;

function windowBits(name, value, allowTrue) {
  if (value === undefined || value === null || (allowTrue && value === true)) {
    return undefined;
  }
  if (!Number.isInteger(value) || value < 8 || value > 15) {
    throw new TypeError('perMessageDeflate.' + name + ' must be an integer from 8 to 15' +
      (allowTrue ? ' or true' : ''));
  }
  return value;
}

// `perMessageDeflate` as given (false, true or an object) → the options the native side takes,
// or null when compression is off. Throws a TypeError on a bad value.
function normalize(value) {
  if (value === undefined || value === null || value === false) {
    return null;
  }
  if (value === true) {
    value = {};
  }
  if (typeof value !== 'object') {
    throw new TypeError('perMessageDeflate must be a boolean or an object');
  }
  const out = {};
  for (const name of BOOLEANS) {
    if (value[name] !== undefined && typeof value[name] !== 'boolean') {
      throw new TypeError('perMessageDeflate.' + name + ' must be a boolean');
    }
    out[name] = value[name] === true;
  }
  out.serverMaxWindowBits = windowBits('serverMaxWindowBits', value.serverMaxWindowBits, false);
  out.clientMaxWindowBits = windowBits('clientMaxWindowBits', value.clientMaxWindowBits, true);
  const threshold = value.threshold === undefined ? 1024 : value.threshold;
  if (typeof threshold !== 'number' || !(threshold >= 0)) {
    throw new TypeError('perMessageDeflate.threshold must be a number of bytes, 0 or more');
  }
  out.threshold = threshold;
  let level = value.level;
  if (level === undefined && value.zlibDeflateOptions && value.zlibDeflateOptions.level !== undefined) {
    level = value.zlibDeflateOptions.level; // ws's name for it
  }
  if (level === undefined || level === -1) {
    // zlib-rs's level 4 made the bench's JSON 8% larger than zlib's level 6 (ws's default) for
    // about 20% less server CPU per message (README, "Compression"); 6 is there to ask for.
    level = DEFAULT_LEVEL;
  }
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new TypeError('perMessageDeflate.level must be an integer from 0 to 9');
  }
  out.level = level;
  return out;
}

// The extension list connection.extensions reports, in the shape of the original's
// request.requestedExtensions: [{ name, params: [{ name, value }] }].
function describe(header) {
  return header.split(';').reduce(function (list, part, i) {
    const [name, value] = part.trim().split('=');
    if (i === 0) {
      list.push({ name: name, params: [] });
    } else {
      list[0].params.push(value === undefined ? { name: name } : { name: name, value: value });
    }
    return list;
  }, []);
}

// The server side: the answer to a request's Sec-WebSocket-Extensions header, as
// { header, agreed, extensions }, or null to go on without compression.
function accept(options, requestHeader) {
  if (!options || typeof requestHeader !== 'string' || requestHeader === '') {
    return null;
  }
  const found = native.deflateAccept(requestHeader, options);
  if (!found) {
    return null;
  }
  return { header: found[0], agreed: found[1], extensions: describe(found[0]) };
}

// The client side: the offer to send.
function offer(options) {
  return native.deflateOffer(options);
}

// The client side: the server's answer checked against the offer. Returns { agreed,
// extensions } or null (declined); throws an Error that fails the connection.
function checkAnswer(options, responseHeader) {
  const header = Array.isArray(responseHeader) ? responseHeader.join(', ') : responseHeader;
  const agreed = native.deflateCheckAnswer(header === undefined ? undefined : String(header), options);
  return agreed ? { agreed: agreed, extensions: describe(String(header)) } : null;
}

// Where a server's config keeps its checked perMessageDeflate (not enumerable).
const CHECKED = Symbol('websocket-rs.perMessageDeflate');

// A server config's checked options, also for a config that did not go through mount().
function serverOptions(config) {
  if (!Object.prototype.hasOwnProperty.call(config, CHECKED)) {
    return normalize(config.perMessageDeflate);
  }
  return config[CHECKED];
}

module.exports = { CHECKED, normalize, serverOptions, accept, offer, checkAnswer };
