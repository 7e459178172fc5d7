'use strict';
// WebSockets over HTTP/2 (RFC 8441). Server side: an extended CONNECT stream with
// `:protocol: websocket` on a Node http2 server becomes the same 'request' event as an HTTP/1.1
// upgrade. Client side: `client.connect(url, protocols, origin, headers, { http2: true })` opens
// the WebSocket as a stream of an HTTP/2 session shared by every WebSocket to that origin. Either
// way the stream is a duplex stream, so the connection runs on the bridged transport, with the
// same Rust core as every other connection.
const crypto = require('crypto');
const http2 = require('http2');

const {
  HTTP2_HEADER_METHOD,
  HTTP2_HEADER_PROTOCOL,
  HTTP2_HEADER_STATUS,
  NGHTTP2_INTERNAL_ERROR,
  NGHTTP2_CANCEL,
} = http2.constants;

// Marks this module's 'connect' listeners (see onConnect).
const OURS = Symbol('websocket-rs http2 listener');

// Header fields HTTP/2 forbids (RFC 9113 section 8.2.2); Node throws on them.
const CONNECTION_SPECIFIC = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection',
  'transfer-encoding', 'http2-settings']);

// Whether `server` is one of Node's HTTP/2 servers (http2.createServer / createSecureServer).
function isHttp2Server(server) {
  return server !== null && typeof server === 'object' && typeof server.updateSettings === 'function' &&
    (server.constructor.name === 'Http2SecureServer' || server.constructor.name === 'Http2Server');
}

function isWebSocketConnect(headers) {
  return headers[HTTP2_HEADER_METHOD] === 'CONNECT' && headers[HTTP2_HEADER_PROTOCOL] === 'websocket';
}

// Listens for extended CONNECT streams on `server` for `wsServer` (its handleHttp2Stream).
// Returns what unmount needs. Turns SETTINGS_ENABLE_CONNECT_PROTOCOL on for new sessions: without
// it clients may not send :protocol (RFC 8441 section 3) and browsers open their WebSockets over
// HTTP/1.1 instead.
function mount(server, wsServer) {
  const onStream = function (stream, headers, flags, rawHeaders) {
    if (isWebSocketConnect(headers)) {
      wsServer.handleHttp2Stream(stream, headers, rawHeaders);
    }
  };
  const onConnect = function (req, resOrSocket) {
    handleConnect(server, onConnect, req, resOrSocket);
  };
  onConnect[OURS] = true;
  server.updateSettings({ enableConnectProtocol: true });
  server.on('stream', onStream);
  server.on('connect', onConnect);
  return { onStream, onConnect };
}

function unmount(server, listeners) {
  server.removeListener('stream', listeners.onStream);
  server.removeListener('connect', listeners.onConnect);
}

// A server with a 'request' listener runs Node's compatibility layer, which answers every CONNECT
// stream with 405 unless the server has a 'connect' listener (nodejs/node#36977): this is that
// listener. A WebSocket CONNECT is left to the 'stream' listener. Anything else gets what Node
// would have done without us, unless the application listens too: 405 for an HTTP/2 CONNECT, and
// for an HTTP/1.1 CONNECT (allowHTTP1: same event, (req, socket, head)) the socket destroyed.
function handleConnect(server, self, req, resOrSocket) {
  const h2 = req instanceof http2.Http2ServerRequest;
  if (h2 && isWebSocketConnect(req.headers)) {
    return;
  }
  const listeners = server.listeners('connect');
  const firstOfOurs = listeners.find((l) => l[OURS] === true);
  if (firstOfOurs !== self || listeners.some((l) => l[OURS] !== true)) {
    return;
  }
  if (h2) {
    resOrSocket.statusCode = 405;
    resOrSocket.end();
  } else {
    resOrSocket.destroy();
  }
}

// The remote address of an HTTP/2 stream: its session's socket's.
function remoteAddressOf(stream) {
  const session = stream.session;
  return session && session.socket ? session.socket.remoteAddress : undefined;
}

// `fields` ([name, value] pairs, in order) as HTTP/2 response headers with `status`: names in
// lower case, Set-Cookie as a list, connection-specific fields left out.
function responseHeaders(status, fields) {
  const headers = { [HTTP2_HEADER_STATUS]: status };
  for (const [name, value] of fields) {
    const key = String(name).toLowerCase();
    if (CONNECTION_SPECIFIC.has(key) || key.startsWith(':')) {
      continue;
    }
    if (key === 'set-cookie') {
      (headers[key] || (headers[key] = [])).push(value);
    } else {
      headers[key] = value;
    }
  }
  return headers;
}

// request.reject() over HTTP/2: the status and headers, then the end of the stream. Headers Node
// refuses (bad names or values) reset the stream instead of throwing into the application.
function reject(stream, status, reason, extraHeaders) {
  if (stream.destroyed || stream.headersSent) {
    return;
  }
  const fields = [];
  if (reason) {
    fields.push(['X-WebSocket-Reject-Reason', String(reason).replace(/[\r\n]/g, '')]);
  }
  if (extraHeaders) {
    for (const key in extraHeaders) {
      fields.push([key.replace(/[\r\n]/g, ''), String(extraHeaders[key]).replace(/[\r\n]/g, '')]);
    }
  }
  try {
    stream.respond(responseHeaders(status, fields), { endStream: true });
  } catch (e) {
    stream.close(NGHTTP2_INTERNAL_ERROR);
  }
}


// ------------------------------------------------------------------------------------------------
// client

// Open sessions by origin and TLS options: { session, users, ready } (users: WebSockets opening
// or open on it; ready: a promise of the server's first SETTINGS). A session closes once it has
// no user left.
const sessions = new Map();
const functionIds = new WeakMap();
let nextFunctionId = 1;

// A key that is equal for equal TLS options (Buffers and strings by content, functions by
// identity), so that clients configured alike share a session.
function optionsKey(options) {
  const parts = [];
  for (const key of Object.keys(options).sort()) {
    const v = options[key];
    let text;
    if (typeof v === 'function') {
      if (!functionIds.has(v)) functionIds.set(v, nextFunctionId++);
      text = 'fn' + functionIds.get(v);
    } else if (Buffer.isBuffer(v)) {
      text = 'buf' + v.toString('base64');
    } else {
      try {
        text = JSON.stringify(v, (k, x) => (Buffer.isBuffer(x) ? x.toString('base64') : x));
      } catch (e) {
        text = String(v);
      }
    }
    parts.push(key + '=' + text);
  }
  return crypto.createHash('sha1').update(parts.join('\n')).digest('base64');
}

// The session to `origin` (made if needed) and a promise of its server's first SETTINGS.
function sessionFor(origin, options) {
  const key = origin + ' ' + optionsKey(options);
  let entry = sessions.get(key);
  if (entry && !entry.session.closed && !entry.session.destroyed) {
    return entry;
  }
  const session = http2.connect(origin, options);
  entry = { session, users: 0, key };
  entry.ready = new Promise((resolve, reject) => {
    session.once('remoteSettings', resolve);
    session.once('error', reject);
    session.once('close', () => reject(new Error('the HTTP/2 session closed')));
  });
  // an unhandled rejection must not follow a session nobody waits for any more
  entry.ready.catch(() => {});
  session.on('error', () => {});
  session.once('close', () => {
    if (sessions.get(key) === entry) {
      sessions.delete(key);
    }
  });
  sessions.set(key, entry);
  return entry;
}

// Opens a WebSocket stream: `headers` are the request's own (lower-case names), `path` the
// request target. Calls `done(err, stream, responseHeaders)` once, and returns a handle whose
// abort() cancels the attempt.
function connect(origin, options, authority, scheme, path, headers, done) {
  let entry;
  try {
    entry = sessionFor(origin, options);
  } catch (err) {
    process.nextTick(done, err);
    return { abort() {} };
  }
  let settled = false;
  let stream = null;
  entry.users++;
  // the attempt's hold on the session ends when it fails, or when its stream closes
  let held = true;
  const letGo = () => {
    if (held) {
      held = false;
      entry.users--;
      release(entry);
    }
  };
  const finish = (err, s, h) => {
    if (!settled) {
      settled = true;
      if (err && stream === null) letGo();
      done(err, s, h);
    }
  };
  entry.ready.then((settings) => {
    if (settled) return;
    if (!settings.enableConnectProtocol) {
      finish(new Error('Server does not support WebSockets over HTTP/2 ' +
        '(its SETTINGS lack SETTINGS_ENABLE_CONNECT_PROTOCOL)'));
      return;
    }
    const request = Object.assign({}, headers, {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': scheme,
      ':path': path,
      ':authority': authority,
    });
    try {
      stream = entry.session.request(request, { endStream: false });
    } catch (err) {
      finish(err);
      return;
    }
    stream.once('close', letGo);
    stream.on('error', (err) => finish(err));
    stream.once('response', (responseHeaders) => finish(null, stream, responseHeaders));
  }, (err) => finish(err));
  return {
    abort() {
      if (settled) return;
      settled = true;
      if (stream !== null) {
        stream.close(NGHTTP2_CANCEL);
      } else {
        letGo();
      }
    },
  };
}

// Closes a session that no WebSocket uses any more (its other streams, if any, may finish).
function release(entry) {
  if (entry.users === 0 && !entry.session.closed && !entry.session.destroyed) {
    if (sessions.get(entry.key) === entry) {
      sessions.delete(entry.key);
    }
    entry.session.close();
  }
}

// The request headers of an HTTP/1.1 handshake as HTTP/2 headers for an extended CONNECT: names
// in lower case, without what HTTP/2 forbids or carries otherwise (Host is :authority, and
// there is no key).
function requestHeaders(h1) {
  const out = {};
  for (const name of Object.keys(h1)) {
    const key = name.toLowerCase();
    if (CONNECTION_SPECIFIC.has(key) || key === 'host' || key === 'sec-websocket-key' ||
        key.startsWith(':')) {
      continue;
    }
    out[key] = h1[name];
  }
  return out;
}

module.exports = {
  connect,
  requestHeaders,
  Http2ServerRequest: http2.Http2ServerRequest,
  isHttp2Server,
  isWebSocketConnect,
  mount,
  unmount,
  remoteAddressOf,
  responseHeaders,
  reject,
};
