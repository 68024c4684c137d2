// The WebSocket client: one connection to `/ws` that says hello, keeps the rooms joined, and
// comes back by itself after a drop.
//
// It owns the per-room sequence numbers. After a reconnect it joins each room again with
// `since` = the last seq it passed on, so the server replays exactly the missed events; events
// at or below that seq are dropped here, so the app never sees one twice.
//
// Events it emits (subscribe with `on(name, callback)`):
//   status   {state: "idle"|"connecting"|"online"|"offline", retryIn?: ms}
//   welcome  {user, token?}                       after every successful hello
//   unauthorized {credentials, code, message}     hello refused (`unauthorized`, or
//                                                 `invite_required`: no guests here); the
//                                                 socket is closed and the connection waits
//                                                 for new credentials
//   snapshot {room, seq, snapshot, resync}        replace the room's state with this
//   event    {room, seq, event}                   apply this, in this order
//   room-error {room, code, message}              a join was refused; the room is dropped
//   removed  {room}                               a moderator removed this person from the
//                                                 room; it is dropped and never joined again
//   reactions {room, counts}                      reaction totals of the last interval
//   presence {room, count, people?}               who is in a room
//   hands    {room, queue}                        a workshop room's raised hands
//   error    {code, message, ref}                 an error nobody was waiting for
//
// Several rooms may be joined at once (the entered room, plus the rooms a moderator console
// or a host's overview watches); each keeps its own seq and is resumed with its own `since`.

const HELLO_TIMEOUT_MS = 10_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 20_000;

/** An error the server (or the connection itself) answered a request with. */
export class RequestError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

export class Connection {
  /** @param {{url?: string}} options */
  constructor(options = {}) {
    this.url = options.url ?? defaultUrl();
    /** What the next hello says: `{token}`, `{token, name}` or `{name}`; null = wait. */
    this.credentials = null;
    this.state = "idle";
    this.socket = null;
    this.welcomed = false;
    this.nextRef = 1;
    /** ref -> {resolve, reject, message} of requests awaiting their answer. */
    this.pending = new Map();
    /** Requests with a `client_id` cut off by a drop or sent offline, for after the next hello. */
    this.resend = [];
    /** room -> {lastSeq: number|null, joined: boolean, buffer: event[]} */
    this.rooms = new Map();
    this.listeners = new Map();
    this.attempt = 0;
    this.retryTimer = null;
    this.helloTimer = null;

    if (typeof window !== "undefined") {
      // Back on the network: do not wait for the backoff to run out.
      window.addEventListener("online", () => {
        if (this.retryTimer !== null) this.reconnectNow();
      });
    }
  }

  on(name, callback) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(callback);
    return () => this.listeners.get(name)?.delete(callback);
  }

  emit(name, detail) {
    for (const callback of this.listeners.get(name) ?? []) {
      try {
        callback(detail);
      } catch (error) {
        console.error(`plenary: ${name} listener failed`, error);
      }
    }
  }

  /** Say hello with these credentials from now on, connecting if need be. */
  start(credentials) {
    this.credentials = credentials;
    if (this.socket && this.socket.readyState === WebSocket.OPEN && !this.welcomed) {
      this.sendHello();
    } else if (!this.socket) {
      this.reconnectNow();
    }
  }

  /** Whether messages can be sent now (connected and welcomed). */
  get online() {
    return this.state === "online";
  }

  /**
   * Send a message with a fresh `ref`. Resolves with the server's answer (`ack`, `joined`,
   * `welcome`), rejects with a RequestError on `error`, or on a drop before the answer, or
   * with `offline` when not connected — except for a message with a `client_id` (chat, ask):
   * the server stores those once however often they come, so one cut off by a drop, or sent
   * while offline, waits and is sent on the next connection instead.
   */
  request(message) {
    if (this.online) return this.transmit(message);
    if (message.client_id !== undefined && this.credentials) {
      return new Promise((resolve, reject) => this.resend.push({ resolve, reject, message }));
    }
    return Promise.reject(new RequestError("offline", ""));
  }

  /** How many messages wait for the next connection (sent offline, or cut off by a drop). */
  get waiting() {
    return this.resend.length;
  }

  /** A fresh `client_id` for `chat` and `ask`, so a retry after a drop is not stored twice. */
  static clientId() {
    if (typeof crypto.randomUUID === "function") {
      try {
        return crypto.randomUUID();
      } catch {
        // not a secure context: fall through
      }
    }
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  /** Enter a room; the snapshot and events follow as `snapshot` / `event`. */
  join(room) {
    if (this.rooms.has(room)) return;
    this.rooms.set(room, { lastSeq: null, joined: false, buffer: [] });
    if (this.online) this.sendJoin(room);
  }

  /** Whether a room is joined (or being joined). */
  has(room) {
    return this.rooms.has(room);
  }

  /** Leave a room: its events stop and its seq is forgotten. */
  leave(room) {
    if (!this.rooms.delete(room)) return;
    if (this.online) this.transmit({ type: "leave", room }).catch(() => {});
  }

  /** Join every room afresh (with a snapshot) next time, e.g. when the person changes. */
  forgetSeqs() {
    for (const entry of this.rooms.values()) entry.lastSeq = null;
  }

  // --- internals ---

  transmit(message) {
    return new Promise((resolve, reject) => this.sendFramed({ resolve, reject, message }));
  }

  /** Send `request.message` under a fresh ref and wait for its answer. */
  sendFramed(request) {
    const ref = this.nextRef++;
    const framed = { ...request.message, ref };
    this.pending.set(ref, { ...request, message: framed });
    try {
      this.socket.send(JSON.stringify(framed));
    } catch {
      // The socket is closing: `close` follows, and `failPending` settles this request.
    }
  }

  setState(state, extra = {}) {
    this.state = state;
    this.emit("status", { state, ...extra });
  }

  reconnectNow() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (!this.credentials) {
      this.setState("idle");
      return;
    }
    this.open();
  }

  open() {
    this.setState("connecting");
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      console.error("plenary: cannot open the WebSocket", error);
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.welcomed = false;
    socket.addEventListener("open", () => {
      if (socket === this.socket) this.sendHello();
    });
    socket.addEventListener("message", (message) => {
      if (socket === this.socket) this.receive(message.data);
    });
    socket.addEventListener("close", () => {
      if (socket === this.socket) this.dropped();
    });
    // An `error` is always followed by `close`, which is where we recover.
  }

  sendHello() {
    if (!this.credentials) return;
    const credentials = this.credentials;
    const hello = { type: "hello" };
    if (credentials.token) hello.token = credentials.token;
    if (credentials.name) hello.name = credentials.name;
    clearTimeout(this.helloTimer);
    this.helloTimer = setTimeout(() => {
      // No answer: the server is stuck or the network is; start over.
      if (!this.welcomed && this.socket) this.socket.close();
    }, HELLO_TIMEOUT_MS);
    this.transmit(hello).then(
      (welcome) => this.welcome(welcome),
      (error) => {
        clearTimeout(this.helloTimer);
        if (error.code === "disconnected") return; // `dropped` will retry
        if (error.code === "unauthorized" || error.code === "invite_required") {
          // The token is bad, or this server wants one: do not retry. Wait for the app to give
          // new credentials.
          this.credentials = null;
          this.closeQuietly();
          this.failPending({ keepIdempotent: false });
          this.setState("idle");
          this.emit("unauthorized", { credentials, code: error.code, message: error.message });
        } else {
          // Anything else (rate limited, internal…): try again after a pause.
          this.emit("error", { code: error.code, message: error.message });
          this.closeQuietly();
          this.scheduleReconnect();
        }
      },
    );
  }

  welcome(message) {
    clearTimeout(this.helloTimer);
    this.welcomed = true;
    this.attempt = 0;
    if (message.token) {
      // The personal token: say hello with it from now on, to stay the same person.
      this.credentials = { token: message.token };
    }
    this.setState("online");
    this.emit("welcome", {
      user: message.user,
      token: message.token ?? null,
      iceServers: message.ice_servers ?? [],
      rooms: message.rooms ?? null,
    });
    for (const room of this.rooms.keys()) this.sendJoin(room);
    // Messages cut off by the drop, sent again after the joins they need.
    const resend = this.resend;
    this.resend = [];
    for (const request of resend) this.sendFramed(request);
  }

  sendJoin(room) {
    const entry = this.rooms.get(room);
    entry.joined = false;
    entry.buffer = [];
    const join = { type: "join", room };
    if (entry.lastSeq !== null) join.since = entry.lastSeq;
    this.transmit(join).catch((error) => {
      if (error.code === "disconnected") return; // re-joined after the reconnect
      if (this.rooms.get(room) === entry) this.rooms.delete(room);
      this.emit("room-error", { room, code: error.code, message: error.message });
    });
  }

  receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      console.warn("plenary: ignoring a frame that is not JSON");
      return;
    }
    if (!message || typeof message !== "object") return;
    switch (message.type) {
      case "joined":
        this.joined(message);
        break;
      case "event":
        this.event(message);
        break;
      case "removed":
        // Told once, without a ref: forget the room so no reconnect joins it again.
        if (this.rooms.delete(message.room)) this.emit("removed", { room: message.room });
        return;
      case "reactions":
      case "presence":
      case "hands":
        // Frames outside the event log, about a room this connection is in.
        if (this.rooms.has(message.room)) this.emit(message.type, message);
        return;
      case "rtc_offer":
      case "rtc_candidate":
        this.emit(message.type, message);
        break;
      case "reminder":
      case "registration":
        // About this person, wherever they are (a `registration` may also answer a request).
        this.emit(message.type, message);
        break;
      default:
        break;
    }
    // Answers: settle the request they answer.
    if (message.ref !== undefined && message.ref !== null && this.pending.has(message.ref)) {
      const request = this.pending.get(message.ref);
      this.pending.delete(message.ref);
      if (message.type === "error") {
        request.reject(new RequestError(message.code, message.message));
      } else {
        request.resolve(message);
      }
      return;
    }
    if (message.type === "error") {
      if (message.code === "unauthorized" && !this.welcomed) {
        // A refusal of hello that lost its ref: treat it like the answer to hello.
        for (const [ref, request] of this.pending) {
          if (request.message.type === "hello") {
            this.pending.delete(ref);
            request.reject(new RequestError(message.code, message.message));
            return;
          }
        }
      }
      this.emit("error", { code: message.code, message: message.message, ref: message.ref });
    }
  }

  joined(message) {
    const entry = this.rooms.get(message.room);
    if (!entry) return; // left meanwhile
    if (!message.snapshot && entry.lastSeq !== null && Number(message.seq) < entry.lastSeq) {
      // The room is behind what we saw (its history was reset): start over from a snapshot.
      entry.lastSeq = null;
      this.sendJoin(message.room);
      return;
    }
    if (message.snapshot || message.resync || entry.lastSeq === null) {
      entry.lastSeq = Number(message.seq) || 0;
      this.emit("snapshot", {
        room: message.room,
        seq: entry.lastSeq,
        snapshot: message.snapshot ?? { chat: [], questions: [], voted: [] },
        resync: Boolean(message.resync),
      });
    }
    // Else: joined with `since`; the missed events follow and advance lastSeq.
    entry.joined = true;
    this.emit("joined", { room: message.room });
    const buffered = entry.buffer;
    entry.buffer = [];
    buffered.sort((a, b) => a.seq - b.seq);
    for (const event of buffered) this.apply(message.room, entry, event);
  }

  event(message) {
    const entry = this.rooms.get(message.room);
    if (!entry) return;
    if (!entry.joined) {
      entry.buffer.push(message);
      return;
    }
    this.apply(message.room, entry, message);
  }

  apply(room, entry, message) {
    const seq = Number(message.seq);
    if (!Number.isFinite(seq) || (entry.lastSeq !== null && seq <= entry.lastSeq)) return;
    entry.lastSeq = seq;
    if (message.event) this.emit("event", { room, seq, event: message.event });
  }

  dropped() {
    clearTimeout(this.helloTimer);
    this.socket = null;
    this.welcomed = false;
    this.failPending();
    for (const entry of this.rooms.values()) {
      entry.joined = false;
      entry.buffer = [];
    }
    if (this.credentials) this.scheduleReconnect();
    else this.setState("idle");
  }

  /** Settle the requests a drop cut off: keep the idempotent ones for the next connection. */
  failPending({ keepIdempotent = true } = {}) {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const request of pending) {
      if (keepIdempotent && request.message.client_id !== undefined) {
        const { ref, ...message } = request.message;
        this.resend.push({ ...request, message });
      } else {
        request.reject(new RequestError("disconnected", ""));
      }
    }
    if (!keepIdempotent) {
      const resend = this.resend;
      this.resend = [];
      for (const request of resend) request.reject(new RequestError("disconnected", ""));
    }
  }

  closeQuietly() {
    const socket = this.socket;
    this.socket = null;
    this.welcomed = false;
    this.failPending();
    if (socket) {
      try {
        socket.close();
      } catch {
        // already closed
      }
    }
  }

  scheduleReconnect() {
    clearTimeout(this.retryTimer);
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.attempt += 1;
    this.setState("offline", { retryAt: Date.now() + delay, retryIn: delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.reconnectNow();
    }, delay);
  }
}

function defaultUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}
