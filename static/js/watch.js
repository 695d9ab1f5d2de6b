// The stream page: plays the stream (native HLS or the vendored hls.js, either retrying until it plays) and keeps
// this page's viewing session alive over the presence WebSocket: a heartbeat every N seconds, "leave" when the
// page goes away, and reconnection with backoff after a break (the server resumes the same session within 90 s).
// Presence checks: the server sends {"type": "check", "check": id, "seconds": n} when one falls due (the moments
// are never in the page); the prompt takes the focus, and its button answers over the same socket.
const player = document.getElementById("player");
const statusLine = document.getElementById("stream-status");
const presenceLine = document.getElementById("presence-status"); // what a presence check said, apart from the stream

function say(text, line = statusLine) {
  if (line) line.textContent = text || "";
}

// Until the stream plays, each path tries again with backoff (2 s, 4 s, 8 s … at most 30 s, with jitter), and the
// status line says what is happening: connecting, or not available yet and when the next attempt is. The state is
// also on the player (data-state: connecting, waiting, playing) for the style sheet and the tests.
const stream = {
  attempt: 0,
  timer: null,
  ticker: null,

  state(name, text) {
    player.dataset.state = name;
    say(text);
  },

  connecting() {
    window.clearInterval(this.ticker);
    this.state("connecting", player.dataset.msgConnecting);
  },

  playing() {
    window.clearTimeout(this.timer);
    window.clearInterval(this.ticker);
    this.timer = null;
    this.attempt = 0;
    this.state("playing", "");
  },

  // The stream failed: try `load` again after the next delay, counting the seconds down on the status line.
  retry(load) {
    if (this.timer !== null) return; // one attempt at a time, however many errors the failure raised
    const delay = Math.min(30000, 2000 * 2 ** this.attempt) * (0.75 + Math.random() / 4);
    this.attempt += 1;
    const due = Date.now() + delay;
    const show = () => {
      const seconds = Math.max(1, Math.ceil((due - Date.now()) / 1000));
      this.state("waiting", (player.dataset.msgWaiting || "").replace("{seconds}", String(seconds)));
    };
    show();
    window.clearInterval(this.ticker);
    this.ticker = window.setInterval(show, 1000);
    this.timer = window.setTimeout(() => {
      this.timer = null;
      this.connecting();
      load();
    }, delay);
  },
};

function playNatively(video, url) {
  const load = () => {
    video.src = url;
    video.load();
  };
  video.addEventListener("error", () => stream.retry(load));
  load();
}

function playWithHlsJs(video, url, Hls) {
  const hls = new Hls();
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      hls.recoverMediaError();
      return;
    }
    stream.retry(() => hls.loadSource(url));
  });
  hls.loadSource(url);
  hls.attachMedia(video);
}

function startVideo() {
  const video = document.getElementById("stream");
  const url = player.dataset.streamUrl;
  if (!video || video.tagName !== "VIDEO" || !url) return;
  // Playing (or able to): the stream is there, whichever path loaded it.
  for (const name of ["loadeddata", "playing"]) video.addEventListener(name, () => stream.playing());
  const Hls = window.Hls;
  const native = video.canPlayType("application/vnd.apple.mpegurl");
  if (!native && (!Hls || !Hls.isSupported())) {
    stream.state("unsupported", player.dataset.msgUnsupported);
    return;
  }
  stream.connecting();
  if (native) playNatively(video, url);
  else playWithHlsJs(video, url, Hls);
}

const presence = {
  socket: null,
  session: null,
  timer: null,
  attempt: 0,
  stopped: false,
  heartbeatMs: Math.max(1, Number(player.dataset.heartbeatSeconds) || 30) * 1000,

  connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${window.location.host}${player.dataset.presencePath}`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.timer = window.setInterval(() => this.send("heartbeat"), this.heartbeatMs);
    });
    socket.addEventListener("message", (event) => {
      try {
        const message = JSON.parse(event.data);
        if (message.type === "open") this.session = message.session;
        else if (message.type === "check") prompt.show(message.check, message.seconds);
        else if (message.type === "answer") prompt.answered(message.check, message.result);
        else if (message.type === "taken_over") takenOver(message.text);
        // "ack" answers each heartbeat; the page has nothing to do with it.
      } catch {
        // Nothing else is expected from the server.
      }
    });
    socket.addEventListener("close", (event) => {
      window.clearInterval(this.timer);
      if (this.socket === socket) this.socket = null;
      // 1008: refused; 4003: the attendee's access was withdrawn (rejected, cancelled, erased, logged out);
      // 4002: another device of this registrant took over (SPEC §15); reconnecting would take the stream back.
      if (event.code === 4002) takenOver(player.dataset.msgTakenOver);
      if (this.stopped || event.code === 1008 || event.code === 4002 || event.code === 4003) return;
      const delay = Math.min(30000, 1000 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt += 1;
      window.setTimeout(() => this.connect(), delay);
    });
  },

  send(type, extra = {}) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      const message = this.session ? { type, session: this.session } : { type };
      this.socket.send(JSON.stringify({ ...message, ...extra }));
    }
  },

  leave() {
    this.stopped = true;
    this.send("leave");
    if (this.socket) this.socket.close(1000);
  },
};

// Another device of this registrant opened the stream page: say so (in the page's language, as the server wrote it)
// and stop playing; reloading the page takes the stream back.
function takenOver(text) {
  presence.stopped = true;
  const video = document.getElementById("stream");
  if (video && video.tagName === "VIDEO") video.pause();
  else if (video) video.remove();
  const notice = document.getElementById("taken-over");
  if (notice) {
    notice.textContent = text || player.dataset.msgTakenOver;
    notice.hidden = false;
  }
  say("");
}

// The "are you still here?" prompt: shown when the server sends a check, focused (a real button, so Enter or
// Space answers it), announced as an alert dialog; it goes away when answered or when its time is up.
const prompt = {
  box: document.getElementById("presence-check"),
  button: document.getElementById("presence-check-answer"),
  check: null,
  timer: null,
  returnFocus: null,

  show(check, seconds) {
    if (!this.box || this.check === check) return;
    this.check = check;
    this.returnFocus = document.activeElement;
    this.box.hidden = false;
    this.button.disabled = false;
    this.button.focus();
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.close(player.dataset.msgCheckMissed), Math.max(1, seconds) * 1000);
  },

  answer() {
    if (this.check === null) return;
    this.button.disabled = true;
    presence.send("answer", { check: this.check });
  },

  answered(check, result) {
    if (check !== this.check) return;
    const messages = {
      answered: player.dataset.msgCheckAnswered,
      late: player.dataset.msgCheckLate,
      refused: player.dataset.msgCheckRefused,
    };
    this.close(messages[result] || player.dataset.msgCheckRefused);
  },

  close(text) {
    window.clearTimeout(this.timer);
    if (this.box) this.box.hidden = true;
    this.check = null;
    say(text, presenceLine);
    const back = this.returnFocus;
    this.returnFocus = null;
    if (back && typeof back.focus === "function" && document.contains(back)) back.focus();
  },
};

if (prompt.button) prompt.button.addEventListener("click", () => prompt.answer());

if (player) {
  startVideo();
  presence.connect();
  // Logging out ends the session on the server ("logout"); do not reconnect meanwhile.
  const logout = document.querySelector("form.logout");
  if (logout) logout.addEventListener("submit", () => { presence.stopped = true; });
  window.addEventListener("pagehide", () => presence.leave());
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) {
      presence.stopped = false;
      presence.connect();
    }
  });
}
