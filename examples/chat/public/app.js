'use strict';
// Browser side of the websocket-rs demo: the native WebSocket API, JSON messages, no libraries.
(function () {
  const $ = (id) => document.getElementById(id);
  const statusEl = $('status');
  const statusText = $('status-text');
  const usersEl = $('users');
  const nickEl = $('nick');
  const list = $('messages');
  const textEl = $('text');
  const sendBtn = $('send');
  const canvas = $('board');
  const ctx = canvas.getContext('2d');
  const COLORS = ['#1f2430', '#d9480f', '#1971c2', '#2f9e44', '#ae3ec9', '#f59f00'];

  let ws = null;
  let myId = 0;
  let retry = 0;
  let color = COLORS[0];
  let remoteStrokes = 0;

  // ---- connection, with auto-reconnect (exponential backoff, max 8 s) ----
  function setStatus(state, text) {
    statusEl.dataset.state = state;
    statusText.textContent = text;
    textEl.disabled = sendBtn.disabled = state !== 'open';
  }

  function connect() {
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/';
    setStatus('connecting', 'connecting…');
    ws = new WebSocket(url, 'chat-demo');
    ws.onopen = () => {
      retry = 0;
      setStatus('open', 'connected');
      send({ type: 'hello', nick: nickEl.value });
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      onMessage(msg);
    };
    ws.onclose = (ev) => {
      const delay = Math.min(8000, 500 * 2 ** retry++);
      usersEl.textContent = '– online';
      setStatus('closed', `disconnected (${ev.code || 'no code'}), retrying in ${Math.round(delay / 1000) || 1} s`);
      setTimeout(connect, delay);
    };
  }

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  function onMessage(msg) {
    switch (msg.type) {
      case 'welcome':
        myId = msg.id;
        showUsers(msg.users);
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        msg.strokes.forEach(drawStroke);
        break;
      case 'you': // the name the server settled on (not while the user is typing a new one)
        if (document.activeElement !== nickEl) nickEl.value = msg.nick;
        localStorage.setItem('nick', msg.nick);
        break;
      case 'chat':
        addLine(msg.from === myId ? 'mine' : '', msg.nick, msg.text, msg.ts);
        break;
      case 'system':
        addLine('system', '', msg.text);
        showUsers(msg.users);
        break;
      case 'error':
        addLine('error', '', msg.text);
        break;
      case 'stroke':
        if (msg.from === myId) break; // already drawn locally
        drawStroke(msg);
        canvas.dataset.remoteStrokes = ++remoteStrokes;
        $('stroke-info').textContent = `${remoteStrokes} stroke segments received`;
        break;
      case 'clear':
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        break;
    }
  }

  function showUsers(n) {
    if (typeof n === 'number') usersEl.textContent = `${n} online`;
  }

  // ---- chat ----
  function addLine(cls, nick, text, ts) {
    const li = document.createElement('li');
    if (cls) li.className = cls;
    if (ts) {
      const t = document.createElement('time');
      t.textContent = new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      li.appendChild(t);
    }
    if (nick) {
      const b = document.createElement('b');
      b.textContent = nick;
      li.appendChild(b);
    }
    li.appendChild(document.createTextNode(text)); // textContent only: no HTML injection
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 30;
    list.appendChild(li);
    while (list.children.length > 300) list.removeChild(list.firstChild);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  $('send-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = textEl.value.trim();
    if (!text) return;
    send({ type: 'chat', text });
    textEl.value = '';
    textEl.focus();
  });

  nickEl.value = localStorage.getItem('nick') || '';
  nickEl.addEventListener('change', () => send({ type: 'hello', nick: nickEl.value }));
  nickEl.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') nickEl.blur(); // commits the change
  });

  // ---- whiteboard: points are sent in 0..1 coordinates, in batches every 40 ms ----
  COLORS.forEach((c, i) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.title = c;
    b.style.background = c;
    b.setAttribute('aria-pressed', i === 0);
    b.onclick = () => {
      color = c;
      document.querySelectorAll('#colors button').forEach((x) => x.setAttribute('aria-pressed', x === b));
    };
    $('colors').appendChild(b);
  });
  $('clear').onclick = () => send({ type: 'clear' });

  function drawStroke(s) {
    const pts = s.points;
    ctx.strokeStyle = ctx.fillStyle = s.color;
    ctx.lineWidth = s.width;
    ctx.lineCap = ctx.lineJoin = 'round';
    ctx.beginPath();
    if (pts.length === 1) {
      ctx.arc(pts[0][0] * canvas.width, pts[0][1] * canvas.height, s.width / 2, 0, Math.PI * 2);
      ctx.fill();
      return;
    }
    ctx.moveTo(pts[0][0] * canvas.width, pts[0][1] * canvas.height);
    for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0] * canvas.width, pts[i][1] * canvas.height);
    ctx.stroke();
  }

  let pending = null; // points not yet sent, starting with the last point already sent
  let moved = false;
  let timer = 0;
  const clamp = (v) => Math.min(1, Math.max(0, v));
  function point(ev) {
    const r = canvas.getBoundingClientRect();
    return [clamp((ev.clientX - r.left) / r.width), clamp((ev.clientY - r.top) / r.height)];
  }
  function flush() {
    if (!pending || pending.length < 2) return;
    send({ type: 'stroke', color, width: +$('width').value, points: pending });
    pending = [pending[pending.length - 1]];
  }

  canvas.addEventListener('pointerdown', (ev) => {
    canvas.setPointerCapture(ev.pointerId);
    pending = [point(ev)];
    moved = false;
    timer = setInterval(flush, 40);
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (!pending) return;
    const p = point(ev);
    drawStroke({ color, width: +$('width').value, points: [pending[pending.length - 1], p] });
    pending.push(p);
    moved = true;
    if (pending.length >= 200) flush();
  });
  function end() {
    if (!pending) return;
    clearInterval(timer);
    if (!moved) { // a click: a dot
      drawStroke({ color, width: +$('width').value, points: pending });
      send({ type: 'stroke', color, width: +$('width').value, points: pending });
    }
    flush();
    pending = null;
  }
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);

  connect();
})();
