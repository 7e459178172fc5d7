'use strict';
// The chat + shared whiteboard behind examples/chat/server.js (one process) and
// examples/cluster-chat/server.js (cluster workers sharing one port, through Redis).
//
// One http server serves the page (examples/chat/public/) and carries the WebSocket upgrades.
// Every message is JSON over the 'chat-demo' subprotocol. Every connection subscribes to the
// topic 'room' and messages are fanned out with wsServer.publish('room', ...) (one native call:
// the frame is encoded once, in Rust); with `pubsub` they also reach the other processes'
// subscribers through Redis.
const fs = require('fs');
const http = require('http');
const path = require('path');
const WebSocketServer = require('../..').server;

const PROTOCOL = 'chat-demo';
const MAX_NICK = 24;
const MAX_TEXT = 500;
const MAX_POINTS = 256; // per stroke message (the page sends strokes in small batches)
const MAX_HISTORY_POINTS = 50000; // whiteboard history replayed to late joiners (~700 KB max)
const RATE = { perSecond: 60, burst: 120 }; // messages per connection (drawing is chatty)
const COLOR = /^#[0-9a-f]{6}$/i;

// Static files: a fixed table, so no path from the request ever reaches the file system.
const PUBLIC = path.join(__dirname, 'public');
const FILES = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};
const HEADERS = {
  'Content-Security-Policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:",
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
};

function createChat(options) {
  const httpServer = http.createServer((req, res) => {
    const file = FILES[req.url.split('?')[0]];
    if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return res.end('not found\n');
    }
    fs.readFile(path.join(PUBLIC, file[0]), (err, body) => {
      if (err) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        return res.end('read error\n');
      }
      res.writeHead(200, Object.assign({ 'Content-Type': file[1], 'Content-Length': body.length }, HEADERS));
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });

  // Keepalive: the defaults (ping every 20 s, drop after a further 10 s of silence).
  const wsServer = new WebSocketServer({
    httpServer,
    autoAcceptConnections: false,
    maxReceivedFrameSize: 64 * 1024,
    maxReceivedMessageSize: 64 * 1024,
    pubsub: options && options.pubsub,
  });
  wsServer.on('pubsubError', (err) => console.log(`pubsub: ${err.message}`));

  // Browsers always send Origin: accept the page's own origin (same host:port as the request) and
  // ALLOWED_ORIGINS. Clients without an Origin header are not browsers (no cross-site risk): allowed.
  const allowed = new Set((process.env.ALLOWED_ORIGINS || '').split(',').map((s) => s.trim()).filter(Boolean));
  function originOk(request) {
    if (request.origin === undefined || request.origin === null) return true;
    if (allowed.has(request.origin)) return true;
    try {
      return new URL(request.origin).host === request.host;
    } catch (e) {
      return false; // "null" (sandboxed/file:// pages) or garbage
    }
  }

  let nextId = 1;
  const users = new Map(); // connection -> { id, nick, tokens, last }
  const strokes = []; // whiteboard history, oldest first
  let historyPoints = 0;

  const send = (connection, msg) => connection.sendUTF(JSON.stringify(msg));
  const broadcast = (msg) => wsServer.publish('room', JSON.stringify(msg));
  const cleanNick = (v) => (typeof v === 'string' ? v.replace(/[\x00-\x1f\x7f]/g, '').trim().slice(0, MAX_NICK) : '');
  const num01 = (v) => typeof v === 'number' && v >= 0 && v <= 1; // NaN fails both comparisons

  // Token bucket: false once a client exceeds RATE.
  function allow(user) {
    const now = Date.now();
    user.tokens = Math.min(RATE.burst, user.tokens + ((now - user.last) / 1000) * RATE.perSecond);
    user.last = now;
    if (user.tokens < 1) return false;
    user.tokens -= 1;
    return true;
  }

  // A stroke segment {type:'stroke', color, width, points:[[x,y],...]} with x, y in 0..1.
  function validStroke(msg) {
    if (typeof msg.color !== 'string' || !COLOR.test(msg.color)) return null;
    if (!Number.isInteger(msg.width) || msg.width < 1 || msg.width > 40) return null;
    const p = msg.points;
    if (!Array.isArray(p) || p.length < 1 || p.length > MAX_POINTS) return null;
    for (const pt of p) {
      if (!Array.isArray(pt) || pt.length !== 2 || !num01(pt[0]) || !num01(pt[1])) return null;
    }
    const round = (v) => Math.round(v * 10000) / 10000;
    return { color: msg.color, width: msg.width, points: p.map(([x, y]) => [round(x), round(y)]) };
  }

  function handle(connection, user, msg) {
    switch (msg.type) {
      case 'hello': {
        const nick = cleanNick(msg.nick) || 'guest' + user.id;
        if (nick !== user.nick) {
          const old = user.nick;
          user.nick = nick;
          send(connection, { type: 'you', id: user.id, nick });
          broadcast({ type: 'system', text: old ? `${old} is now ${nick}` : `${nick} joined`, users: users.size });
        }
        return;
      }
      case 'chat': {
        if (typeof msg.text !== 'string') return send(connection, { type: 'error', text: 'bad message' });
        const text = msg.text.trim();
        if (!text) return;
        if (text.length > MAX_TEXT) return send(connection, { type: 'error', text: `max ${MAX_TEXT} characters` });
        return broadcast({ type: 'chat', from: user.id, nick: user.nick, text, ts: Date.now() });
      }
      case 'stroke': {
        const stroke = validStroke(msg);
        if (!stroke) return send(connection, { type: 'error', text: 'bad stroke' });
        strokes.push(stroke);
        historyPoints += stroke.points.length;
        while (historyPoints > MAX_HISTORY_POINTS) historyPoints -= strokes.shift().points.length;
        return broadcast(Object.assign({ type: 'stroke', from: user.id }, stroke));
      }
      case 'clear':
        strokes.length = 0;
        historyPoints = 0;
        broadcast({ type: 'clear', from: user.id });
        return broadcast({ type: 'system', text: `${user.nick} cleared the board`, users: users.size });
      default:
        return send(connection, { type: 'error', text: 'unknown message type' });
    }
  }

  wsServer.on('request', (request) => {
    if (!originOk(request)) {
      console.log(`rejected origin ${request.origin} from ${request.remoteAddress}`);
      return request.reject(403, 'origin not allowed');
    }
    if (request.requestedProtocols.indexOf(PROTOCOL) === -1) {
      return request.reject(400, `use the '${PROTOCOL}' subprotocol`);
    }
    let connection;
    try {
      connection = request.accept(PROTOCOL, request.origin);
    } catch (e) {
      return; // already rejected/closed by the library
    }
    connection.subscribe('room');
    const user = { id: nextId++, nick: '', tokens: RATE.burst, last: Date.now() };
    users.set(connection, user);
    send(connection, { type: 'welcome', id: user.id, users: users.size, strokes });

    connection.on('message', (message) => {
      if (message.type !== 'utf8') return connection.close(1003, 'text frames only');
      if (!allow(user)) return connection.close(1008, 'slow down');
      let msg;
      try {
        msg = JSON.parse(message.utf8Data);
      } catch (e) {
        return send(connection, { type: 'error', text: 'invalid JSON' });
      }
      if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') {
        return send(connection, { type: 'error', text: 'expected {"type": ...}' });
      }
      if (!user.nick && msg.type !== 'hello') handle(connection, user, { type: 'hello' });
      handle(connection, user, msg);
    });
    connection.on('error', (err) => console.log(`connection ${user.id}: ${err.message}`));
    connection.on('close', () => {
      users.delete(connection);
      // the closed connection has already left the topic
      if (user.nick) broadcast({ type: 'system', text: `${user.nick} left`, users: users.size });
    });
  });

  return { httpServer, wsServer };
}

module.exports = { createChat };
