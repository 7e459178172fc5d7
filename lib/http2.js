'use strict';
// WebSockets over HTTP/2 (RFC 8441), server side: an extended CONNECT stream with
// `:protocol: websocket` on a Node http2 server becomes the same 'request' event as an HTTP/1.1
// upgrade. The stream is a duplex stream, so the accepted connection runs on the bridged
// transport, with the same Rust core as every other connection.
const http2 = require('http2');

const {
  HTTP2_HEADER_METHOD,
  HTTP2_HEADER_PROTOCOL,
  HTTP2_HEADER_STATUS,
  NGHTTP2_INTERNAL_ERROR,
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

module.exports = {
  Http2ServerRequest: http2.Http2ServerRequest,
  isHttp2Server,
  isWebSocketConnect,
  mount,
  unmount,
  remoteAddressOf,
  responseHeaders,
  reject,
};
