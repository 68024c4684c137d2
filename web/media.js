// The room's media over WebRTC: watching the stage (the server offers, we answer) and, for
// hosts and people brought on stage, publishing camera, microphone and screen (we offer,
// the server answers). Signalling travels over the page's WebSocket (`Connection`).

/** How long an SDP waits for our ICE candidates before it goes out (the rest trickle). */
const GATHER_MS = 2_000;

/** Resolves once the peer connection has gathered its candidates, or after `GATHER_MS`. */
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, GATHER_MS);
  });
}

/** Send our candidates found after the SDP went out; earlier ones are in it. */
function trickle(pc, connection, room, kind, sent) {
  pc.addEventListener("icecandidate", ({ candidate }) => {
    if (!candidate || !sent()) return;
    connection
      .request({ type: "rtc_candidate", room, pc: kind, candidate: candidate.toJSON() })
      .catch(() => {});
  });
}

export class Media {
  /**
   * @param {import("./connection.js").Connection} connection
   * @param {{onShown?: Function, onError?: Function}} hooks
   */
  constructor(connection, hooks = {}) {
    this.connection = connection;
    this.hooks = hooks;
    this.iceServers = [];
    /** The room watched, its peer connection, and what is shown. */
    this.watching = null;
    /** The room published to, with the peer connection and the local stream. */
    this.publishing = null;
    /** The room's live tracks, from the `tracks` event, by id. */
    this.tracks = new Map();
    this.options = { audioOnly: false, slidesOnly: false };
    /** The video track the watched room's video plays now, or null (sound only, or nothing). */
    this.shown = null;
    connection.on("rtc_offer", (message) => this.onOffer(message));
    connection.on("rtc_candidate", (message) => this.onCandidate(message));
    // The server closes a connection's peer connections when the WebSocket drops: publish
    // again, with the same devices, once the room is joined again.
    connection.on("status", ({ state }) => {
      if (state === "online" || !this.publishing || this.publishing.stale) return;
      this.publishing.stale = true;
      this.publishing.pc.close();
    });
    connection.on("joined", ({ room }) => {
      if (this.publishing?.stale && this.publishing.room === room) {
        this.republish().catch((error) => this.hooks.onError?.(error));
      }
    });
  }

  setIceServers(servers) {
    this.iceServers = Array.isArray(servers) ? servers : [];
  }

  /** The room's track list changed (from the snapshot or a `tracks` event). */
  setTracks(_room, tracks) {
    this.tracks = new Map(tracks.map((track) => [track.id, track]));
    this.applyOptions();
  }

  /** Receive a room's media into `video` (and its audio). */
  async watch(room, video) {
    this.stopWatching();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    const stream = new MediaStream();
    video.srcObject = stream;
    const watching = { room, pc, stream, video, answered: false, mids: {} };
    this.watching = watching;
    trickle(pc, this.connection, room, "subscribe", () => watching.answered);
    pc.addEventListener("track", () => this.applyOptions());
    try {
      await this.connection.request({ type: "rtc_subscribe", room });
    } catch (error) {
      if (this.watching === watching) this.stopWatching();
      throw error;
    }
  }

  stopWatching() {
    const watching = this.watching;
    if (!watching) return;
    this.watching = null;
    watching.pc.close();
    watching.video.srcObject = null;
    this.show(null);
    this.connection.request({ type: "rtc_unsubscribe", room: watching.room }).catch(() => {});
  }

  /**
   * Audio only: no video is received. Slides only: no camera video is received. Either
   * changes what the peer connection receives, so watching starts over.
   */
  setOptions(options) {
    Object.assign(this.options, options);
    const watching = this.watching;
    if (watching) this.watch(watching.room, watching.video).catch((error) => this.hooks.onError?.(error));
  }

  /**
   * The id of the room's track a receiving transceiver carries: the server names it by mid
   * in each offer (it reuses an m-line for later tracks of its kind).
   */
  trackIdOf(transceiver) {
    return this.watching?.mids[transceiver.mid] ?? transceiver.receiver.track.id;
  }

  /** Whether a received video track should play under the current options. */
  wanted(trackId) {
    if (this.options.audioOnly) return false;
    if (this.options.slidesOnly) return this.tracks.get(trackId)?.source === "screen";
    return true;
  }

  /**
   * Show what is received now: every audio track, and one video, the screen share when there
   * is one, else the camera. A track the server stopped sending (its transceiver is no longer
   * receiving) leaves the stream, or the video would stay on its last frame.
   */
  applyOptions() {
    const watching = this.watching;
    if (!watching) return;
    const live = watching.pc.getTransceivers()
      .filter((transceiver) => ["recvonly", "sendrecv"].includes(transceiver.currentDirection));
    const videos = live.filter((transceiver) => transceiver.receiver.track.kind === "video"
      && this.wanted(this.trackIdOf(transceiver)));
    const shown = (videos.find((transceiver) => this.tracks.get(this.trackIdOf(transceiver))?.source === "screen")
      ?? videos[0])?.receiver.track;
    const wanted = [
      ...live.map((transceiver) => transceiver.receiver.track).filter((track) => track.kind === "audio"),
      ...(shown ? [shown] : []),
    ];
    for (const track of watching.stream.getTracks()) {
      if (!wanted.includes(track)) watching.stream.removeTrack(track);
    }
    for (const track of wanted) {
      if (!watching.stream.getTracks().includes(track)) watching.stream.addTrack(track);
    }
    this.show(shown ?? null);
    if (wanted.length) watching.video.play().catch(() => {});
  }

  /** The video plays `track` now (null: none); `onShown` hears of a change. */
  show(track) {
    if (this.shown === track) return;
    this.shown = track;
    this.hooks.onShown?.();
  }

  async onOffer({ room, sdp, tracks }) {
    const watching = this.watching;
    if (watching?.room !== room) return;
    try {
      watching.mids = tracks ?? {};
      await watching.pc.setRemoteDescription({ type: "offer", sdp });
      // Video nobody will look at is not received at all (and an m-line refused for one
      // track is taken again when it carries another that is wanted).
      for (const transceiver of watching.pc.getTransceivers()) {
        if (transceiver.receiver.track.kind !== "video" || transceiver.stopped) continue;
        const id = this.trackIdOf(transceiver);
        const unwanted = this.options.audioOnly
          || (this.options.slidesOnly && this.tracks.has(id) && !this.wanted(id));
        transceiver.direction = unwanted ? "inactive" : "recvonly";
      }
      await watching.pc.setLocalDescription(await watching.pc.createAnswer());
      this.applyOptions();
      await gathered(watching.pc);
      watching.answered = true;
      await this.connection.request({
        type: "rtc_answer", room, pc: "subscribe", sdp: watching.pc.localDescription.sdp,
      });
    } catch (error) {
      this.hooks.onError?.(error);
    }
  }

  async onCandidate({ room, pc: kind, candidate }) {
    const pc = kind === "publish"
      ? (this.publishing?.room === room ? this.publishing.pc : null)
      : (this.watching?.room === room ? this.watching.pc : null);
    if (!pc) return;
    try {
      await pc.addIceCandidate(candidate);
    } catch {
      // A candidate for a description already replaced: harmless.
    }
  }

  /**
   * Publish the camera and microphone to `room`, previewed in `preview`. The browser asks
   * for permission once; moving rooms later keeps the same devices.
   */
  async publish(room, preview, { camera = true, microphone = true } = {}) {
    if (this.publishing) throw new Error("already publishing");
    const stream = await navigator.mediaDevices.getUserMedia({ video: camera, audio: microphone });
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    const publishing = { room, pc, stream, preview, offered: false, screen: null };
    this.publishing = publishing;
    preview.srcObject = stream;
    preview.muted = true;
    preview.play().catch(() => {});
    trickle(pc, this.connection, room, "publish", () => publishing.offered);
    const sources = {};
    for (const track of stream.getTracks()) {
      pc.addTrack(track, stream);
      sources[track.id] = track.kind === "audio" ? "microphone" : "camera";
    }
    try {
      await this.offer(publishing, sources);
    } catch (error) {
      this.stopPublishing();
      throw error;
    }
  }

  /** A new publishing peer connection with the tracks already captured. */
  async republish() {
    const old = this.publishing;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    const publishing = { ...old, pc, offered: false, stale: false };
    this.publishing = publishing;
    trickle(pc, this.connection, old.room, "publish", () => publishing.offered);
    const sources = {};
    for (const track of old.stream.getTracks()) {
      pc.addTrack(track, old.stream);
      sources[track.id] = track.kind === "audio" ? "microphone" : "camera";
    }
    const screen = old.screen?.track;
    if (screen) {
      publishing.screen = pc.addTrack(screen, new MediaStream([screen]));
      sources[screen.id] = "screen";
    }
    await this.offer(publishing, sources);
  }

  async offer(publishing, sources) {
    await publishing.pc.setLocalDescription(await publishing.pc.createOffer());
    await gathered(publishing.pc);
    publishing.offered = true;
    const answer = await this.connection.request({
      type: "rtc_publish", room: publishing.room, sdp: publishing.pc.localDescription.sdp, sources,
    });
    await publishing.pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  }

  /** Share the screen next to the camera (a renegotiation on the same connection). */
  async shareScreen() {
    const publishing = this.publishing;
    if (!publishing || publishing.screen) return;
    const screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
    const [track] = screen.getVideoTracks();
    publishing.screen = publishing.pc.addTrack(track, screen);
    track.addEventListener("ended", () => this.stopScreen());
    await this.offer(publishing, { [track.id]: "screen" });
  }

  async stopScreen() {
    const publishing = this.publishing;
    if (!publishing?.screen) return;
    publishing.screen.track?.stop();
    publishing.pc.removeTrack(publishing.screen);
    publishing.screen = null;
    await this.offer(publishing, {});
  }

  /** Mute or unmute the microphone (`audio`) or camera (`video`); returns the new state. */
  toggle(kind) {
    const tracks = this.publishing?.stream.getTracks().filter((track) => track.kind === kind) ?? [];
    const enabled = !tracks.every((track) => track.enabled);
    for (const track of tracks) track.enabled = enabled;
    return enabled;
  }

  /** Move what is published to another room, on the same connection and devices. */
  async moveTo(room) {
    const publishing = this.publishing;
    if (!publishing || publishing.room === room) return;
    await this.connection.request({ type: "rtc_move", from: publishing.room, to: room });
    publishing.room = room;
  }

  stopPublishing() {
    const publishing = this.publishing;
    if (!publishing) return;
    this.publishing = null;
    for (const track of publishing.stream.getTracks()) track.stop();
    publishing.screen?.track?.stop();
    publishing.pc.close();
    publishing.preview.srcObject = null;
    this.connection.request({ type: "rtc_unpublish", room: publishing.room }).catch(() => {});
  }

  /** Decoded video frames so far (for the status line and tests). */
  async framesDecoded() {
    if (!this.watching) return 0;
    let frames = 0;
    const stats = await this.watching.pc.getStats();
    stats.forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") {
        frames += report.framesDecoded ?? 0;
      }
    });
    return frames;
  }
}
