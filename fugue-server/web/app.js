/*
 * fugue web viewer: the page served by `fugue web`.
 *
 * It shows one fugue session in xterm.js and speaks docs/browser-protocol.md over the
 * WebSocket at /ws: auth with the token from the link's fragment, attach, render output
 * (binary frames: 8-byte big-endian sequence number, then bytes) and acknowledge it,
 * send keystrokes and resizes (operators only), keep the link alive with ping/pong, and
 * reconnect with backoff, resuming from the last rendered sequence number.
 * Plain script, no build step: xterm.js and the fit addon are loaded before it as UMD
 * globals (window.Terminal, window.FitAddon.FitAddon).
 */
'use strict';

(() => {
  const PING_EVERY_MS = 15000;
  const PONG_WITHIN_MS = 10000;
  const BACKOFF_MIN_MS = 250;
  const BACKOFF_MAX_MS = 10000;
  const RATE_LIMITED_WAIT_MS = 30000;
  const ACK_EVERY_MS = 16;
  const ACK_BYTES = 256 * 1024;
  const INPUT_CHUNK = 16 * 1024; // binary input frames are capped at 64 KiB
  const RIS = new Uint8Array([0x1b, 0x63]); // ESC c: a full reset, in order with output

  // Close codes after which the page stays closed, and what it says.
  const FINAL_CLOSES = {
    1000: 'closed',
    1009: 'a message was too large',
    4400: 'protocol error',
    4401: 'unauthorized: ask for a new link',
    4409: 'replaced by a newer connection of this tab',
  };
  const DETACH_REASONS = {
    requested: 'detached', session_ended: 'session ended', replaced: 'replaced by a newer connection',
    server_shutdown: 'server shutting down', too_slow: 'detached: too slow',
  };

  const $ = (id) => document.getElementById(id);
  const encoder = new TextEncoder();

  // ---- tab-scoped identity ----------------------------------------------------------

  /** Takes the token (and a session name) from `#token=...&session=...` into
   *  sessionStorage and removes the fragment from the address bar and history. */
  function takeFragment() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ''));
    if (params.has('token')) sessionStorage.setItem('fugue.token', params.get('token'));
    if (params.has('session')) sessionStorage.setItem('fugue.session', params.get('session'));
    if (location.hash) history.replaceState(history.state, '', location.pathname + location.search);
  }

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function deviceId() {
    let id = sessionStorage.getItem('fugue.device');
    if (!id) sessionStorage.setItem('fugue.device', (id = uuid()));
    return id;
  }

  // A duplicated tab inherits sessionStorage, and with it the device id, so its
  // connection would replace the original tab's. Before connecting, ask the other tabs
  // of this origin whether one of them has the id; if one answers, take a new one. A
  // reloaded tab gets no answer and keeps its id (replacing its own old connection).
  const DEVICE_ASK_MS = 150;
  function claimDevice(then) {
    if (typeof BroadcastChannel !== 'function') return then();
    const channel = new BroadcastChannel('fugue.devices');
    let taken = false;
    channel.onmessage = (e) => {
      const msg = e.data || {};
      if (msg.ask === deviceId()) channel.postMessage({ taken: msg.ask });
      if (msg.taken === deviceId()) taken = true;
    };
    channel.postMessage({ ask: deviceId() });
    setTimeout(() => {
      if (taken) sessionStorage.setItem('fugue.device', uuid());
      then();
    }, DEVICE_ASK_MS);
  }

  // ---- state ------------------------------------------------------------------------

  const s = {
    serverSized: false, // term.resize is applying the server's size (not the window's)
    ws: null, // the current socket; events from any other are ignored
    state: 'connecting', // connecting | connected | reconnecting | closed
    closeReason: '',
    role: null, // operator | viewer
    session: null, // the attached session's entry ({id, name, cols, rows, ...})
    attached: false,
    lastSeq: null, // the sequence number the screen stands at (rendered)
    ackedSeq: null, unackedBytes: 0, ackTimer: null,
    resetPending: false, // reset the terminal before the next output frame
    exit: null, // {status, signal} once the program has ended
    final: false, // no more reconnecting
    attempt: 0, retryAt: 0, retryTimer: null, waitOut: false,
    pingTimer: null, pongTimer: null,
  };

  // ---- terminal ---------------------------------------------------------------------

  const term = new Terminal({
    fontFamily: 'ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace',
    fontSize: 14,
    scrollback: 5000,
    cursorBlink: true,
  });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);

  const isOperator = () => s.role === 'operator';

  function sendInput(bytes) {
    if (!isOperator() || !s.attached || !isOpen()) return;
    for (let i = 0; i < bytes.length; i += INPUT_CHUNK) s.ws.send(bytes.subarray(i, i + INPUT_CHUNK));
  }

  /** Fits the terminal to its box; onTermResize tells the server of a new size. */
  function refit() {
    if (s.role === 'viewer' && s.session) return; // a viewer shows the session's own size
    fit.fit();
  }

  function onTermResize({ cols, rows }) {
    if (s.serverSized) return; // the server's size, applied: nothing to tell it
    if (isOperator() && s.attached) send('resize', { cols, rows });
  }

  /** Shows the program's own size (`size`, `attached`): a viewer's always, an operator's
   *  when the size policy follows another client. Its window's size is asked for again
   *  when the window changes. */
  function showSize(cols, rows) {
    if (term.cols === cols && term.rows === rows) return;
    s.serverSized = true;
    try { term.resize(cols, rows); } finally { s.serverSized = false; }
    render();
  }

  // ---- output and acknowledgements --------------------------------------------------

  function onOutput(buf) {
    if (buf.byteLength < 8) return;
    const seq = Number(new DataView(buf).getBigUint64(0));
    const bytes = new Uint8Array(buf, 8);
    if (s.resetPending) {
      s.resetPending = false;
      term.write(RIS); // queued, so output still waiting to be written lands before it
    }
    term.write(bytes, () => rendered(seq, bytes.length));
  }

  function rendered(seq, n) {
    s.lastSeq = seq;
    s.unackedBytes += n;
    if (s.unackedBytes >= ACK_BYTES) sendAck();
    else if (!s.ackTimer) s.ackTimer = setTimeout(sendAck, ACK_EVERY_MS);
  }

  function sendAck() {
    clearTimeout(s.ackTimer);
    s.ackTimer = null;
    if (!s.attached || s.lastSeq === null || s.lastSeq === s.ackedSeq) return;
    if (send('ack', { seq: s.lastSeq })) {
      s.ackedSeq = s.lastSeq;
      s.unackedBytes = 0;
    }
  }

  // ---- the socket -------------------------------------------------------------------

  const isOpen = () => s.ws && s.ws.readyState === WebSocket.OPEN;

  function send(type, payload) {
    if (!isOpen()) return false;
    s.ws.send(JSON.stringify(payload === undefined ? { type } : { type, payload }));
    return true;
  }

  function connect() {
    clearTimeout(s.retryTimer);
    s.retryTimer = null;
    const token = sessionStorage.getItem('fugue.token');
    if (!token) return finish('no token: open the link that fugue web printed');
    dropSocket();
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    ws.binaryType = 'arraybuffer';
    s.ws = ws;
    s.ackedSeq = null;
    setState('connecting');
    expectReply(); // the connection and `connected` must come as a ping's answer would
    ws.onopen = () => ws === s.ws && send('auth', { token, device: deviceId() });
    ws.onmessage = (e) => ws === s.ws && onFrame(e.data);
    ws.onclose = (e) => ws === s.ws && onClose(e.code, e.reason);
  }

  /** Forgets the current socket (its events are ignored from now on) and closes it. */
  function dropSocket() {
    const ws = s.ws;
    s.ws = null;
    s.attached = false;
    stopHeartbeat();
    clearTimeout(s.ackTimer);
    s.ackTimer = null;
    if (ws && ws.readyState < WebSocket.CLOSING) ws.close();
  }

  function onClose(code, reason) {
    dropSocket();
    if (s.final) return finish(s.closeReason || FINAL_CLOSES[code] || reason || `code ${code}`);
    if (code in FINAL_CLOSES) return finish(FINAL_CLOSES[code]);
    scheduleReconnect(code === 4429 ? RATE_LIMITED_WAIT_MS : null);
  }

  function finish(reason) {
    s.final = true;
    clearTimeout(s.retryTimer);
    s.retryTimer = null;
    s.closeReason = reason;
    setState('closed');
  }

  function scheduleReconnect(wait) {
    if (s.final) return finish(s.closeReason || 'closed');
    const base = wait ?? Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** s.attempt);
    const delay = Math.min(wait ?? BACKOFF_MAX_MS, base * (0.75 + Math.random() * 0.5));
    s.attempt++;
    s.retryAt = Date.now() + delay;
    s.waitOut = wait !== null; // a rate limit's wait is not cut short by wake()
    clearTimeout(s.retryTimer);
    s.retryTimer = setTimeout(connect, delay);
    setState('reconnecting');
  }

  /** Reconnects at once when a reconnect is waiting (online, pageshow, visible tab). */
  function wake() {
    if (s.final || s.waitOut || (s.ws && s.ws.readyState <= WebSocket.OPEN)) return;
    s.attempt = 0;
    connect();
  }

  // ---- heartbeat --------------------------------------------------------------------

  function startHeartbeat() {
    stopHeartbeat();
    s.pingTimer = setInterval(() => send('ping') && expectReply(), PING_EVERY_MS);
  }

  function expectReply() {
    if (s.pongTimer) return;
    s.pongTimer = setTimeout(() => {
      s.pongTimer = null;
      dropSocket(); // a dead link: do not wait for its close
      scheduleReconnect(null);
    }, PONG_WITHIN_MS);
  }

  function stopHeartbeat() {
    clearInterval(s.pingTimer);
    clearTimeout(s.pongTimer);
    s.pingTimer = s.pongTimer = null;
  }

  // ---- messages ---------------------------------------------------------------------

  function onFrame(data) {
    clearTimeout(s.pongTimer); // anything arriving shows the link is alive
    s.pongTimer = null;
    if (data instanceof ArrayBuffer) return onOutput(data);
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (msg && Object.hasOwn(handlers, msg.type)) handlers[msg.type](msg.payload || {});
  }

  const handlers = {
    connected(p) {
      s.role = p.role;
      term.options.disableStdin = !isOperator();
      setState('connected');
      startHeartbeat();
      const wanted = s.session ? s.session.id : sessionStorage.getItem('fugue.session');
      const all = p.sessions || [];
      if (wanted) attach(wanted);
      else if (all.length === 1) attach(all[0].id);
      else showPicker(all);
    },
    pong() {},
    sessions(p) { showPicker(p.sessions || []); },
    attached(p) {
      s.session = p.session;
      s.attached = true;
      s.attempt = 0;
      s.closeReason = '';
      s.resetPending = !!p.fresh; // a resume keeps the screen
      if (p.session && p.session.name) sessionStorage.setItem('fugue.session', p.session.name);
      if (s.role === 'viewer' && p.session) showSize(p.session.cols, p.session.rows);
      hidePicker();
      term.focus();
      render();
    },
    resync() { s.resetPending = true; },
    size(p) { showSize(p.cols, p.rows); },
    exited(p) {
      s.exit = { status: p.status, signal: p.signal ?? null };
      s.final = true;
      render();
    },
    detached(p) {
      s.attached = false;
      if (p.reason === 'session_ended' || p.reason === 'replaced') s.final = true;
      s.closeReason = DETACH_REASONS[p.reason] || `detached: ${p.reason}`;
      if (p.reason === 'too_slow' && s.session) attach(s.session.id);
      render();
    },
    error(p) {
      if (!s.attached) s.closeReason = `error: ${p.message || p.code}`; // e.g. invalid_size
      if (p.code === 'unknown_session' || p.code === 'forbidden') {
        sessionStorage.removeItem('fugue.session');
        s.session = null;
        s.lastSeq = null;
        $('picker-note').textContent = p.message || p.code;
        send('list');
      }
      render();
    },
  };

  /** Attaches once everything received so far is on the screen, so that resume_from is
   *  both the last rendered sequence number and the last one received. */
  function attach(session) {
    const ws = s.ws;
    term.write('', () => {
      if (ws !== s.ws || !isOpen()) return;
      refit();
      const resume = s.session && s.session.id === session && s.lastSeq !== null;
      const payload = { session, cols: term.cols, rows: term.rows };
      if (resume) payload.resume_from = s.lastSeq;
      else s.lastSeq = null;
      send('attach', payload);
    });
  }

  // ---- session picker ---------------------------------------------------------------

  function showPicker(sessions) {
    const rows = $('picker-rows');
    rows.replaceChildren(...sessions.map(pickerRow));
    if (!sessions.length && !$('picker-note').textContent) $('picker-note').textContent = 'No sessions.';
    $('picker').hidden = false;
    render();
  }

  function pickerRow(entry) {
    const tr = document.createElement('tr');
    tr.tabIndex = 0;
    const command = (entry.command || []).join(' ');
    [entry.name, `${entry.cols}x${entry.rows}`, String(entry.clients), command].forEach((text, i) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (i === 3) td.className = 'command';
      tr.append(td);
    });
    const pick = () => attach(entry.id);
    tr.addEventListener('click', pick);
    tr.addEventListener('keydown', (e) => e.key === 'Enter' && pick());
    return tr;
  }

  function hidePicker() {
    $('picker').hidden = true;
    $('picker-note').textContent = '';
  }

  // ---- status bar -------------------------------------------------------------------

  function setState(state) {
    s.state = state;
    render();
  }

  function connText() {
    switch (s.state) {
      case 'reconnecting':
        return `reconnecting in ${Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000))}s`;
      case 'closed': return `closed: ${s.closeReason}`;
      case 'connected': return s.attached || !s.closeReason ? 'connected' : s.closeReason;
      default: return s.state;
    }
  }

  function exitText() {
    if (!s.exit) return '';
    return s.exit.signal !== null ? `killed by signal ${s.exit.signal}` : `exited with status ${s.exit.status}`;
  }

  function render() {
    $('status-conn').textContent = connText();
    $('status').classList.toggle('bad', s.state === 'closed' || s.state === 'reconnecting');
    $('status-session').textContent = s.session ? `${s.session.name} ${term.cols}x${term.rows}` : '';
    $('status-role').textContent = s.role === 'viewer' ? 'read-only' : s.role || '';
    $('status-role').classList.toggle('read-only', s.role === 'viewer');
    $('status-exit').textContent = exitText();
    document.title = s.session ? `${s.session.name} - fugue` : 'fugue';
  }

  // ---- start ------------------------------------------------------------------------

  function screenText() {
    const buf = term.buffer.active;
    const rows = [];
    for (let i = 0; i < term.rows; i++) {
      const line = buf.getLine(buf.viewportY + i);
      rows.push(line ? line.translateToString(true) : '');
    }
    return rows.join('\n');
  }

  function start() {
    takeFragment();
    term.open($('terminal'));
    fit.fit();
    term.onData((data) => sendInput(encoder.encode(data)));
    term.onBinary((data) => sendInput(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)));
    term.onResize((size) => { onTermResize(size); render(); });
    new ResizeObserver(() => requestAnimationFrame(refit)).observe($('terminal'));
    window.addEventListener('online', wake);
    window.addEventListener('pageshow', (e) => e.persisted && wake());
    document.addEventListener('visibilitychange', () => !document.hidden && wake());
    setInterval(() => s.state === 'reconnecting' && render(), 1000);
    window.fugue = {
      term,
      get state() { return s.state; },
      get lastSeq() { return s.lastSeq; },
      get role() { return s.role; },
      get session() { return s.session ? s.session.name : null; },
      get exit() { return s.exit; },
      screenText,
    };
    claimDevice(connect);
  }

  start();
})();
