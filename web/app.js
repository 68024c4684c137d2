// Plenary's browser client: the programme, the room (stage, chat, Q&A, polls, hands), the
// moderator console, a host's side-by-side rooms, and who you are.
//
// State lives in `state`; the DOM is rendered from it. Each joined room has its own data
// (`state.data`): the entered room, plus the rooms the console or the overview watches, which
// stay joined and keep updating. Text from the server (names, chat, questions, titles) is only
// ever put in the page with textContent, never as HTML.

import {
  t, has, timeZone, setDisplayZone, formatStart, formatEnd, formatClock, formatDay, translatePage,
} from "/i18n.js";
import { Connection } from "/connection.js";
import { Media } from "/media.js";

const STAFF_ROLES = new Set(["moderator", "host", "organiser"]);
const TOKEN_KEY = "plenary.token";
const INVITE_KEY = "plenary.invite";
const NAME_KEY = "plenary.name";
const ZONE_KEY = "plenary.zone";
const BADGE_REFRESH_MS = 30_000;
const CHAT_KEEP = 500;
/** Older chat messages asked for per click. */
const CHAT_PAGE = 50;
/** The reactions the server accepts (protocol `REACTIONS`), with their names in i18n. */
const REACTIONS = [
  ["👏", "applause"], ["❤️", "love"], ["😂", "laughter"],
  ["🎉", "celebrate"], ["🤔", "thinking"], ["👍", "thumbsUp"],
];
const REACTION_LANES = 8;
const REACTION_FLOATERS_MAX = 30;
const REACTION_SUMMARY_MS = 5_000;
const MUTE_SHORT_MINUTES = 10;
const POLL_OPTIONS_MIN = 2;
const POLL_OPTIONS_MAX = 10;
const OVERVIEW_CHAT_LINES = 3;
/** setTimeout's largest delay. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const $ = (id) => document.getElementById(id);

const state = {
  /** The programme from /api/schedule, or null until it is loaded. */
  schedule: null,
  rooms: new Map(),
  sessions: new Map(),
  /** Sessions of each room, sorted by start. */
  sessionsByRoom: new Map(),
  /** The conference days: {date, start, end} with times in ms. */
  days: [],
  /** The conference's time zone when it is not the browser's, else null. */
  venueZone: null,
  /**
   * How the programme is shown: times in the browser's zone ("local") or the conference's
   * ("venue"), the day shown (its date) and the track and kind filters ("" for all).
   */
  show: { zone: "local", day: null, track: "", kind: "" },
  /** The person, from `welcome`. */
  user: null,
  /** The invite token of the link this browser came with, if any. */
  invite: null,
  /** What is shown: programme | room | console | overview. */
  view: "programme",
  /** The room entered, or null. */
  room: null,
  /** Room id -> its data (see `newRoomData`), for every room joined. */
  data: new Map(),
  /** Rooms kept joined besides the entered one (by the console and the overview). */
  watching: new Set(),
  /** Rooms a moderator removed this person from: never joined again. */
  removed: new Set(),
  /** Ids of questions this person asked from this page (for anonymous ones). */
  asked: new Set(),
  /** The session whose Q&A is shown. */
  selectedSession: null,
  /** Whether the person picked the session themselves (else it follows the clock). */
  sessionPicked: false,
  /** Staff's question filter: all | pending | published | rejected. */
  filter: "all",
  /** Question order: votes | newest (pinned first either way). */
  sort: "votes",
  /** A question being edited or merged by staff: {id, mode: "edit"|"merge", draft}. */
  editing: null,
  /** The chat message the next one answers: {id, name}. */
  replyTo: null,
  /** The moderation log shown: {session, entries}. */
  modLog: null,
  /** People brought on stage in the entered room. */
  onStage: new Set(),
  /** Sessions this person bookmarked ("my agenda"). */
  bookmarks: new Set(),
  /** Session id -> this person's registration {session, status, position?} (workshops). */
  registrations: new Map(),
};

/** What the client knows of one joined room. */
function newRoomData() {
  return {
    /** Whether the snapshot has arrived. */
    ready: false,
    chat: new Map(),
    questions: new Map(),
    voted: new Set(),
    /** Sessions whose Q&A is closed. */
    qaClosed: new Set(),
    polls: new Map(),
    /** Poll id -> this person's choices. */
    pollVotes: new Map(),
    /** Until when this person is muted here (ms since the epoch), or null. */
    mutedUntil: null,
    /** For staff: who is muted here, user id -> {user, until (RFC 3339)}. */
    mutedPeople: new Map(),
    /** {count, people?} from the last `presence`. */
    presence: null,
    /** The raised hands, for staff. */
    hands: [],
    /** Whether this person's hand is up. */
    handRaised: false,
    /** Older chat was loaded: keep it rather than trimming to CHAT_KEEP. */
    expanded: false,
    /** The start of the chat has been reached. */
    olderDone: false,
  };
}

function roomData(room = state.room) {
  return room ? state.data.get(room) ?? null : null;
}

const connection = new Connection();
const media = new Media(connection, { onTracks: renderStage, onError: showError });
// For tests and the curious: decoded frames of the stage video.
window.plenaryMedia = media;
const reducedMotion = typeof matchMedia === "function"
  ? matchMedia("(prefers-reduced-motion: reduce)")
  : { matches: true };

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Create an element; string children become text nodes (never HTML). */
function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

function storage(key, value) {
  try {
    if (value === undefined) return localStorage.getItem(key);
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Storage may be unavailable (private mode, disabled): then nothing is remembered.
  }
  return null;
}

/**
 * Whether this person is staff in `room` (the entered one unless said; `null`: anywhere). A
 * token may limit its holder to some rooms (`welcome.rooms`); the server enforces it anyway.
 */
function isStaff(room = state.room) {
  if (!state.user || !STAFF_ROLES.has(state.user.role)) return false;
  return !room || !state.user.rooms || state.user.rooms.includes(room);
}

function isMe(author) {
  return Boolean(state.user && author?.id === state.user.id);
}

function timeElement(date, text) {
  return el("time", { datetime: date.toISOString().replace(/\.\d{3}Z$/, "Z"), text });
}

/** A clock time for an RFC 3339 instant, or "" if it is not one. */
function clockOf(rfc3339) {
  const date = new Date(rfc3339);
  return Number.isNaN(date.getTime()) ? "" : formatClock(date);
}

function roomName(roomId) {
  return state.rooms.get(roomId)?.name ?? roomId;
}

/** Disable a button while its request is in flight, keeping focus on it (aria-disabled). */
function busy(button, promise) {
  button.setAttribute("aria-disabled", "true");
  return promise.finally(() => button.removeAttribute("aria-disabled"));
}

function isBusy(button) {
  return button.disabled || button.getAttribute("aria-disabled") === "true";
}

/** Say something to screen readers (politely) in the room. */
function announce(text) {
  $("room-announcer").textContent = text;
}

/**
 * Bring `list`'s children in line with `entries` ({key, signature, build}), keeping elements
 * whose signature did not change and moving focus sensibly when the focused one goes.
 */
function reconcile(list, entries, fallbackFocus) {
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const focusedItem = focused ? [...list.children].find((child) => child.contains(focused)) : null;
  const focusKey = focused?.dataset.focusKey ?? null;
  const focusedIndex = focusedItem ? [...list.children].indexOf(focusedItem) : -1;

  const existing = new Map([...list.children].map((child) => [child.dataset.key, child]));
  const wanted = entries.map((entry) => {
    const old = existing.get(String(entry.key));
    if (old && old.dataset.signature === entry.signature) return old;
    const fresh = entry.build();
    fresh.dataset.key = String(entry.key);
    fresh.dataset.signature = entry.signature;
    return fresh;
  });
  const keep = new Set(wanted);
  for (const child of [...list.children]) if (!keep.has(child)) child.remove();
  for (const [index, child] of wanted.entries()) {
    if (list.children[index] !== child) list.insertBefore(child, list.children[index] ?? null);
  }

  if (focused && !list.contains(document.activeElement)) {
    const same = focusedItem && list.querySelector(`:scope > [data-key="${CSS.escape(focusedItem.dataset.key)}"]`);
    const candidates = [
      same && focusKey ? same.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`) : null,
      same?.querySelector("button:not([disabled]), input, select, textarea"),
      list.children[Math.min(focusedIndex, list.children.length - 1)]?.querySelector("button:not([disabled])"),
      fallbackFocus,
    ];
    const target = candidates.find(Boolean);
    if (target) {
      if (target === fallbackFocus && !target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.focus();
    }
  }
}

/** Replace `old` with `fresh`, carrying focus over to the element with the same focus key. */
function replaceKeepingFocus(old, fresh) {
  const focused = old.contains(document.activeElement) ? document.activeElement : null;
  const key = focused?.dataset.focusKey;
  old.replaceWith(fresh);
  if (focused) {
    const target = (key && fresh.querySelector(`[data-focus-key="${CSS.escape(key)}"]`))
      ?? fresh.querySelector("button:not([disabled]), input:not([disabled])");
    target?.focus();
  }
}

// ---------------------------------------------------------------------------------------------
// Notices and the connection indicator

let noticeTimer = null;

function showNotice(text) {
  const notice = $("notice");
  notice.textContent = text;
  $("notice-bar").classList.toggle("is-empty", !text);
  $("notice-dismiss").hidden = !text;
  clearTimeout(noticeTimer);
  if (text) noticeTimer = setTimeout(() => showNotice(""), 20_000);
}

/** Show a server (or connection) error as a translated message, by its code. */
function showError(error) {
  const code = error?.code;
  if (code && has(`error.${code}`)) showNotice(t(`error.${code}`));
  else showNotice(error?.message || t("error.internal"));
}

function renderStatus({ state: connectionState }) {
  const status = $("status");
  const shown = connectionState === "idle" ? "offline" : connectionState;
  status.dataset.state = shown;
  status.textContent = t(connectionState === "idle" ? "status.idle" : `status.${shown}`);
  document.body.dataset.connection = shown;
}

// ---------------------------------------------------------------------------------------------
// Identity

/** Read the invite token from the URL and decide how to say hello. */
function startIdentity() {
  const url = new URL(location.href);
  const urlToken = url.searchParams.get("token");
  if (urlToken !== null) {
    url.searchParams.delete("token");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }
  const storedInvite = storage(INVITE_KEY);
  if (urlToken && urlToken !== storedInvite) {
    // A new invite link wins over whoever this browser was before.
    storage(INVITE_KEY, urlToken);
    storage(TOKEN_KEY, null);
    state.invite = urlToken;
  } else {
    state.invite = storedInvite || null;
  }
  const personal = storage(TOKEN_KEY);
  if (personal) connection.start({ token: personal });
  else showJoinForm();
}

function showJoinForm() {
  const join = $("join");
  $("join-intro").textContent = t(state.invite ? "join.introInvite" : "join.introGuest");
  const input = $("name");
  if (!input.value) input.value = storage(NAME_KEY) ?? "";
  join.querySelector("button[type=submit]").disabled = false;
  const wasHidden = join.hidden;
  join.hidden = false;
  if (wasHidden) input.focus();
}

function onJoinSubmit(submitEvent) {
  submitEvent.preventDefault();
  const input = $("name");
  const name = input.value.trim();
  if (!name) {
    input.setCustomValidity(t("join.nameEmpty"));
    input.reportValidity();
    return;
  }
  storage(NAME_KEY, name);
  submitEvent.target.querySelector("button[type=submit]").disabled = true;
  connection.start(state.invite ? { token: state.invite, name } : { name });
}

function onWelcome({ user, token, iceServers, rooms }) {
  media.setIceServers(iceServers);
  const firstTime = state.user === null;
  const roleChanged = state.user?.role !== user.role;
  state.user = { ...user, rooms: Array.isArray(rooms) ? rooms : null };
  if (token) storage(TOKEN_KEY, token);
  const join = $("join");
  if (!join.hidden) {
    const hadFocus = join.contains(document.activeElement);
    join.hidden = true;
    if (hadFocus) viewHeading().focus();
  }
  $("user-name").textContent = user.name;
  const role = $("user-role");
  role.textContent = t(`role.${user.role}`);
  role.dataset.role = user.role;
  $("user").hidden = false;
  document.body.dataset.role = user.role;
  $("staff-nav").hidden = !isStaff(null);
  renderPublishControls();
  if (firstTime) route(); // a staff view in the URL waited for the person
  if (roleChanged) renderView();
  loadAgenda();
}

function onUnauthorized({ credentials }) {
  state.user = null;
  $("user").hidden = true;
  $("staff-nav").hidden = true;
  // Whoever says hello next may be someone else: rooms start over from a snapshot.
  connection.forgetSeqs();
  if (credentials.token && credentials.token === storage(TOKEN_KEY)) {
    // The personal token is no longer good: forget it, and start over from the invite or name.
    storage(TOKEN_KEY, null);
    showNotice(t("error.tokenInvalid"));
  } else if (credentials.token && credentials.token === state.invite) {
    state.invite = null;
    showNotice(t("error.inviteInvalid"));
  } else {
    showNotice(t("error.unauthorized"));
  }
  showJoinForm();
}

// ---------------------------------------------------------------------------------------------
// Programme

async function loadSchedule(attempt = 0) {
  try {
    const response = await fetch("/api/schedule", { headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    setSchedule(await response.json());
  } catch (error) {
    console.error("plenary: loading the programme failed", error);
    $("programme-loading").textContent = t("programme.unavailable");
    setTimeout(() => loadSchedule(attempt + 1), Math.min(30_000, 1_000 * 2 ** attempt));
  }
}

function setSchedule(schedule) {
  state.schedule = schedule;
  state.rooms = new Map((schedule.rooms ?? []).map((room) => [room.id, room]));
  state.sessions = new Map();
  state.sessionsByRoom = new Map([...state.rooms.keys()].map((id) => [id, []]));
  for (const session of schedule.sessions ?? []) {
    const entry = { ...session, startDate: new Date(session.start), endDate: new Date(session.end) };
    state.sessions.set(session.id, entry);
    if (state.sessionsByRoom.has(session.room)) state.sessionsByRoom.get(session.room).push(entry);
  }
  for (const list of state.sessionsByRoom.values()) {
    list.sort((a, b) => a.startDate - b.startDate || a.endDate - b.endDate);
  }
  const name = schedule.conference?.name;
  if (name) {
    $("conference-name").textContent = name;
    document.title = `${name} · ${t("app.title")}`;
  }
  const venue = schedule.conference?.timezone;
  state.venueZone = venue && venue !== timeZone ? venue : null;
  state.days = (schedule.days ?? [])
    .map((day) => ({ date: day.date, start: Date.parse(day.start), end: Date.parse(day.end) }))
    .filter((day) => day.start < day.end);
  for (const session of state.sessions.values()) session.day = dayOf(session.startDate.getTime());
  $("programme-loading").hidden = true;
  renderProgrammeControls();
  applyZone();
  renderProgramme();
  route();
}

/** The date of the conference day a moment falls in (or the last one begun before it). */
function dayOf(time) {
  const within = state.days.find((day) => time >= day.start && time < day.end);
  if (within) return within.date;
  return state.days.findLast((day) => day.start <= time)?.date ?? state.days[0]?.date ?? null;
}

/** The day shown first: today if the conference is on, else the next day, else the last. */
function defaultDay(now = Date.now()) {
  return (state.days.find((day) => now < day.end) ?? state.days.at(-1))?.date ?? null;
}

function fillSelect(select, allLabel, options, value) {
  select.replaceChildren(
    el("option", { value: "", text: allLabel }),
    ...options.map(([optionValue, label]) => el("option", { value: optionValue, text: label })));
  select.value = value;
}

/** The zone switch, the filters and the day tabs, for the programme just loaded. */
function renderProgrammeControls() {
  const { show } = state;
  show.zone = state.venueZone && storage(ZONE_KEY) === "venue" ? "venue" : "local";
  $("zone-switch").hidden = !state.venueZone;
  $("zone-local-label").textContent = t("programme.zoneLocal", { zone: timeZone });
  $("zone-venue-label").textContent = t("programme.zoneVenue", { zone: state.venueZone ?? "" });
  for (const input of $("zone-switch").querySelectorAll("input")) input.checked = input.value === show.zone;

  const tracks = state.schedule.tracks ?? [];
  if (!tracks.includes(show.track)) show.track = "";
  fillSelect($("filter-track"), t("programme.allTracks"), tracks.map((track) => [track, track]), show.track);
  $("filter-track-field").hidden = tracks.length === 0;
  const kinds = [...new Set([...state.sessions.values()].map((session) => session.kind))];
  if (!kinds.includes(show.kind)) show.kind = "";
  fillSelect($("filter-kind"), t("programme.allKinds"),
    kinds.map((kind) => [kind, t(`kind.${kind}`)]).sort((a, b) => a[1].localeCompare(b[1])), show.kind);
  $("programme-controls").hidden = false;

  if (!state.days.some((day) => day.date === show.day)) show.day = defaultDay();
  $("programme-days").hidden = state.days.length < 2;
  $("programme-days").replaceChildren(...state.days.map((day) => el("button", {
    type: "button", class: "secondary", dataset: { day: day.date }, text: formatDay(day.date),
  })));
}

/** Show times in the zone picked (the browser's unless the conference's was chosen). */
function applyZone() {
  const venue = state.show.zone === "venue" && state.venueZone;
  const zone = setDisplayZone(venue || timeZone);
  $("timezone-note").textContent = venue
    ? t("programme.timezoneVenue", { zone })
    : t("programme.timezoneSame", { zone });
}

function onZoneChange(changeEvent) {
  state.show.zone = changeEvent.target.value === "venue" ? "venue" : "local";
  storage(ZONE_KEY, state.show.zone);
  applyZone();
  renderProgramme();
  if (state.view === "room" && state.room) {
    delete $("room-session").dataset.currentSession;
    renderRoomSession();
    renderSessionPicker();
  }
}

/** Whether a session passes the track and kind filters (and is on the day shown, if asked). */
function isShown(session, onDayShown = true) {
  const { show } = state;
  return (!show.track || session.track === show.track)
    && (!show.kind || session.kind === show.kind)
    && (!onDayShown || state.days.length < 2 || session.day === show.day);
}

/** Each session of a room with its state now: live, ended, next (the first to come), later. */
function timeline(roomId, now = Date.now()) {
  const sessions = state.sessionsByRoom.get(roomId) ?? [];
  let nextGiven = false;
  const entries = sessions.map((session) => {
    let phase;
    if (now >= session.endDate.getTime()) phase = "ended";
    else if (now >= session.startDate.getTime()) phase = "live";
    else if (!nextGiven) {
      phase = "next";
      nextGiven = true;
    } else phase = "later";
    return { session, phase };
  });
  const current = entries.find((e) => e.phase === "live")
    ?? entries.find((e) => e.phase === "next")
    ?? entries.at(-1)
    ?? null;
  return { entries, current };
}

function badge(phase) {
  const label = { live: "badge.live", ended: "badge.ended", next: "badge.next" }[phase];
  return el("span", { class: "badge", dataset: { badge: phase }, text: label ? t(label) : "", hidden: !label });
}

function sessionTimes(session) {
  return el("span", { class: "session-time" },
    timeElement(session.startDate, formatStart(session.startDate)),
    " – ",
    timeElement(session.endDate, formatEnd(session.endDate, session.startDate)));
}

function sessionDetails(session, headingTag) {
  const parts = [
    el(headingTag, { class: "session-title", text: session.title }),
    el("p", { class: "session-meta" },
      el("span", { class: "session-kind", dataset: { kind: session.kind }, text: t(`kind.${session.kind}`) }),
      " · ",
      sessionTimes(session),
      session.track ? [" · ", el("span", { class: "session-track", text: session.track })] : null),
  ];
  if (session.speakers?.length) {
    parts.push(el("p", { class: "session-speakers",
      text: t("programme.speakers", { speakers: listFormat(session.speakers) }) }));
  }
  if (session.description) {
    parts.push(el("p", { class: "session-description", text: session.description }));
  }
  return parts;
}

function listFormat(items) {
  try {
    return new Intl.ListFormat(document.documentElement.lang, { type: "conjunction" }).format(items);
  } catch {
    return items.join(", ");
  }
}

function roomMeta(room) {
  const parts = [t(`roomKind.${room.kind}`)];
  if (room.capacity !== undefined && room.capacity !== null) {
    parts.push(t("programme.capacity", { count: room.capacity }));
  }
  return parts.join(" · ");
}

function renderProgramme() {
  const { show } = state;
  const filtering = Boolean(show.track || show.kind);
  const container = $("programme-rooms");
  container.replaceChildren();
  for (const room of state.rooms.values()) {
    const headingId = `programme-room-${room.id}`;
    const { entries } = timeline(room.id);
    const shown = entries.filter(({ session }) => isShown(session));
    // A room with sessions, none of them on this day or passing the filters, is left out.
    if (entries.length ? !shown.length : filtering) continue;
    const list = el("ol", { class: "sessions" });
    for (const { session, phase } of shown) {
      list.append(el("li", { class: "session", dataset: { session: session.id, state: phase } },
        badge(phase),
        sessionDetails(session, "h4")));
    }
    container.append(el("section", { class: "programme-room card", dataset: { room: room.id }, "aria-labelledby": headingId },
      el("div", { class: "programme-room-header" },
        el("div", {},
          el("h3", { id: headingId, text: room.name }),
          el("p", { class: "room-meta muted", text: roomMeta(room) })),
        el("button", { type: "button", dataset: { enterRoom: room.id }, text: t("programme.enter", { room: room.name }) })),
      shown.length ? list : el("p", { class: "muted", text: t("programme.empty") })));
  }
  if (!container.childElementCount) {
    container.append(el("p", { class: "muted", text: t("programme.noMatch") }));
  }
  for (const button of $("programme-days").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.day === show.day));
  }
  decorateProgramme();
  renderNow();
}

/** "Now and next": what is live in each room and what comes next there, filters applied. */
function renderNow(now = Date.now()) {
  const items = [];
  for (const room of state.rooms.values()) {
    for (const entry of timeline(room.id, now).entries) {
      if ((entry.phase === "live" || entry.phase === "next") && isShown(entry.session, false)) {
        items.push({ ...entry, room });
      }
    }
  }
  items.sort((a, b) => a.session.startDate - b.session.startDate || a.room.name.localeCompare(b.room.name));
  $("programme-now").hidden = false;
  $("programme-now-list").replaceChildren(...(items.length
    ? items.map(({ session, phase, room }) => el("li", { dataset: { session: session.id, state: phase } },
      badge(phase),
      el("span", { class: "now-title", text: session.title }),
      el("span", { class: "muted" }, ` · ${room.name} · `, sessionTimes(session))))
    : [el("li", { class: "muted", text: t("programme.nothingNow") })]));
}

/** Refresh the Live now / Ended / Up next badges (every 30 s) without rebuilding anything. */
function refreshClock() {
  for (const room of state.rooms.values()) {
    for (const { session, phase } of timeline(room.id).entries) {
      const item = $("programme-rooms").querySelector(`li[data-session="${CSS.escape(session.id)}"]`);
      if (!item || item.dataset.state === phase) continue;
      item.dataset.state = phase;
      item.querySelector(".badge").replaceWith(badge(phase));
    }
  }
  renderNow();
  if (state.view === "room" && state.room) {
    renderRoomSession();
    const current = timeline(state.room).current;
    if (!state.sessionPicked && current && current.session.id !== state.selectedSession
        && !$("ask-input").value && !state.editing) {
      selectSession(current.session.id, false);
    }
  }
  if (state.view === "overview") renderOverview();
}

// ---------------------------------------------------------------------------------------------
// Navigation. The hash says what is shown, so reload and the Back button work:
// `#room=ID` a room, `#console` the moderator console, `#my-rooms` a host's rooms; none, the
// programme. Other hashes (the skip link's `#main`) are in-page anchors and change nothing.

function parseHash() {
  const hash = location.hash;
  if (!hash || hash === "#") return { view: "programme" };
  const match = /^#room=(.+)$/.exec(hash);
  if (match) return { view: "room", room: decodeURIComponent(match[1]) };
  if (hash === "#console") return { view: "console" };
  if (hash === "#my-rooms") return { view: "overview" };
  return null;
}

function hashFor(view, room) {
  switch (view) {
    case "room":
      return `#room=${encodeURIComponent(room)}`;
    case "console":
      return "#console";
    case "overview":
      return "#my-rooms";
    default:
      return "";
  }
}

function navigate(view, room = null) {
  const base = location.pathname + location.search;
  history.pushState({ view, room, from: state.view }, "", base + hashFor(view, room));
  route();
}

/** Go to the programme without adding to the history (after a refusal). */
function replaceWithProgramme() {
  history.replaceState(null, "", location.pathname + location.search);
  showProgramme();
}

function route() {
  if (!state.schedule) return;
  const target = parseHash();
  if (!target) return;
  switch (target.view) {
    case "room":
      if (!state.rooms.has(target.room)) {
        showError({ code: "not_found" });
        replaceWithProgramme();
      } else if (state.removed.has(target.room)) {
        showNotice(t("room.removedBefore", { room: roomName(target.room) }));
        replaceWithProgramme();
      } else {
        enterRoom(target.room);
      }
      break;
    case "console":
    case "overview":
      if (!state.user) {
        showView("programme"); // until welcome says who this is; onWelcome routes again
      } else if (!isStaff(null)) {
        showError({ code: "forbidden" });
        replaceWithProgramme();
      } else if (target.view === "console") {
        showConsole();
      } else {
        showOverview();
      }
      break;
    default:
      showProgramme();
  }
}

const VIEWS = { programme: "programme", room: "room", console: "console", overview: "rooms-overview" };

function showView(view) {
  state.view = view;
  for (const [name, id] of Object.entries(VIEWS)) $(id).hidden = name !== view;
}

function viewHeading() {
  return {
    room: $("room-title"), console: $("console-heading"), overview: $("rooms-overview-heading"),
  }[state.view] ?? $("programme-heading");
}

function renderView() {
  switch (state.view) {
    case "room":
      renderRoom();
      break;
    case "console":
      renderConsole();
      break;
    case "overview":
      renderOverview();
      break;
    default:
      break;
  }
}

/** Join the rooms wanted (the entered one and the watched ones), leave the rest. */
function syncJoins() {
  if (media.watching && media.watching.room !== state.room) media.stopWatching();
  const wanted = new Set(state.watching);
  if (state.room) wanted.add(state.room);
  if (media.publishing && !wanted.has(media.publishing.room)) stopLive();
  for (const room of state.removed) wanted.delete(room);
  for (const room of [...state.data.keys()]) {
    if (!wanted.has(room)) {
      connection.leave(room);
      state.data.delete(room);
    }
  }
  for (const room of wanted) {
    if (!state.data.has(room)) {
      state.data.set(room, newRoomData());
      connection.join(room);
    }
  }
}

function showProgramme() {
  const left = state.view === "room" ? state.room : null;
  state.room = null;
  syncJoins();
  showView("programme");
  if (left) document.querySelector(`[data-enter-room="${CSS.escape(left)}"]`)?.focus();
}

function showConsole() {
  state.room = null;
  for (const room of state.rooms.keys()) if (isStaff(room)) state.watching.add(room);
  syncJoins();
  const wasShown = state.view === "console";
  showView("console");
  renderConsole();
  if (!wasShown) $("console-heading").focus();
}

function showOverview() {
  state.room = null;
  for (const room of state.rooms.values()) {
    if (room.kind === "workshop" && isStaff(room.id)) state.watching.add(room.id);
  }
  syncJoins();
  const wasShown = state.view === "overview";
  showView("overview");
  renderOverview();
  if (!wasShown) $("rooms-overview-heading").focus();
}

function enterRoom(roomId) {
  if (state.view === "room" && state.room === roomId) return;
  state.room = roomId;
  state.sessionPicked = false;
  state.filter = "all";
  state.editing = null;
  state.replyTo = null;
  state.modLog = null;
  $("filter-all").checked = true;
  syncJoins();
  showView("room");
  renderRoom();
  // A room joined already (watched from the console or overview) plays at once; a new one
  // plays when it is joined (`onJoined`).
  if (roomData(roomId)?.ready) media.watch(roomId, $("stage-video")).catch(showError);
  renderPublishControls();
  $("room-title").focus();
}

function onBack() {
  // Came here from the programme: going back keeps the history tidy.
  if (history.state?.from === "programme" && history.state.view === state.view) history.back();
  else navigate("programme");
}

// ---------------------------------------------------------------------------------------------
// Room: everything shown for the entered room

function renderRoom() {
  const room = state.rooms.get(state.room);
  const data = roomData();
  if (!room || !data) return;
  $("room-title").textContent = room.name;
  $("room-meta").textContent = roomMeta(room);
  $("room-joining").textContent = data.ready ? "" : t("room.joining");
  $("reactions").hidden = room.kind !== "stage";
  $("hand").hidden = room.kind !== "workshop";
  $("reactions-summary").textContent = "";
  $("reactions-float").replaceChildren();
  $("moderation-log").hidden = true;
  state.modLog = null;
  $("chat-status").textContent = "";
  $("poll-form-status").textContent = "";
  renderSessionPicker();
  renderRoomSession();
  renderPresence();
  renderHands();
  renderChat();
  renderReply();
  renderMuted();
  renderMutedPeople();
  renderPolls();
}

function renderRoomSession() {
  const panel = $("room-session");
  const { current } = timeline(state.room);
  if (!current) {
    delete panel.dataset.currentSession;
    panel.replaceChildren(el("p", { class: "muted", text: t("room.noSessions") }));
    return;
  }
  const { session, phase } = current;
  const label = { live: "room.now", next: "room.next" }[phase] ?? "room.last";
  if (panel.dataset.currentSession === session.id && panel.dataset.phase === phase) return;
  panel.dataset.currentSession = session.id;
  panel.dataset.phase = phase;
  panel.replaceChildren(
    el("p", { class: "room-session-label" }, el("span", { class: "badge", dataset: { badge: phase }, text: t(label) })),
    ...sessionDetails(session, "h3"));
}

function renderSessionPicker() {
  const select = $("session-select");
  const { entries, current } = timeline(state.room);
  select.replaceChildren(...entries.map(({ session }) => el("option", {
    value: session.id,
    text: t("room.sessionOption", { time: formatStart(session.startDate), title: session.title }),
  })));
  select.disabled = entries.length === 0;
  $("ask-form").hidden = entries.length === 0;
  selectSession(current?.session.id ?? null, false);
}

function selectSession(sessionId, picked) {
  state.selectedSession = sessionId;
  if (picked) state.sessionPicked = true;
  state.editing = null;
  const select = $("session-select");
  if (sessionId && select.value !== sessionId) select.value = sessionId;
  const session = sessionId ? state.sessions.get(sessionId) : null;
  $("qa-moderated").hidden = !session?.qa_moderated;
  $("ask-status").textContent = "";
  if (state.modLog && state.modLog.session !== sessionId) closeModerationLog(false);
  renderQuestions();
}

// ---------------------------------------------------------------------------------------------
// Rooms: snapshot, events and the frames outside the event log

function onSnapshot({ room, snapshot }) {
  const data = roomData(room);
  if (!data) return;
  data.ready = true;
  data.chat = new Map((snapshot.chat ?? []).map((message) => [message.id, message]));
  data.questions = new Map((snapshot.questions ?? []).map((question) => [question.id, question]));
  data.voted = new Set(snapshot.voted ?? []);
  data.qaClosed = new Set(snapshot.qa_closed ?? []);
  data.polls = new Map((snapshot.polls ?? []).map((poll) => [poll.id, poll]));
  data.pollVotes = new Map((snapshot.poll_votes ?? []).map((vote) => [vote.poll, vote.choices ?? []]));
  data.mutedUntil = snapshot.muted_until ? Date.parse(snapshot.muted_until) : null;
  data.mutedPeople = new Map((snapshot.muted ?? []).map((entry) => [entry.user.id, entry]));
  data.expanded = false;
  data.olderDone = false;
  if (room === state.room) {
    state.onStage = new Set(snapshot.on_stage ?? []);
    media.setTracks(room, snapshot.tracks ?? []);
    renderPublishControls();
  }
  if (state.view === "room" && room === state.room) {
    $("room-joining").textContent = "";
    renderChat();
    renderQuestions();
    renderPolls();
    renderMuted();
    renderMutedPeople();
  }
  renderWatchers(room);
}

function onRoomEvent({ room, event }) {
  const data = roomData(room);
  if (!data) return;
  const entered = state.view === "room" && room === state.room;
  switch (event.kind) {
    case "chat":
      addChat(room, data, withoutKind(event), entered);
      break;
    case "chat_removed":
      data.chat.delete(event.id);
      if (entered) removeChatItem(event.id);
      break;
    case "question":
      data.questions.set(event.id, withoutKind(event));
      if (entered) renderQuestions();
      break;
    case "qa_state":
      if (event.open) data.qaClosed.delete(event.session);
      else data.qaClosed.add(event.session);
      if (entered) {
        renderQuestions();
        const title = state.sessions.get(event.session)?.title ?? event.session;
        announce(t(event.open ? "qa.openedAnnounce" : "qa.closedAnnounce", { title }));
      }
      break;
    case "poll": {
      const poll = withoutKind(event);
      const before = data.polls.get(poll.id);
      data.polls.set(poll.id, poll);
      if (entered) {
        renderPolls();
        if (poll.state === "open" && before?.state !== "open") {
          announce(t("polls.openedAnnounce", { question: poll.question }));
        }
      }
      break;
    }
    case "muted":
      if (event.user?.id) data.mutedPeople.set(event.user.id, { user: event.user, until: event.until });
      if (entered) renderMutedPeople();
      if (isMe(event.user)) {
        data.mutedUntil = Date.parse(event.until);
        if (entered) renderMuted();
      } else if (entered) {
        $("chat-status").textContent = t("chat.mutedOther", { name: event.user?.name ?? "", time: clockOf(event.until) });
      }
      break;
    case "unmuted":
      data.mutedPeople.delete(event.user?.id);
      if (entered) renderMutedPeople();
      if (isMe(event.user)) {
        data.mutedUntil = null;
        if (entered) renderMuted();
      } else if (entered) {
        $("chat-status").textContent = t("chat.unmutedOther", { name: event.user?.name ?? "" });
      }
      break;
    case "person_removed":
      if (entered) $("chat-status").textContent = t("chat.removedOther", { name: event.user?.name ?? "" });
      break;
    case "tracks":
      if (room === state.room) media.setTracks(room, event.tracks ?? []);
      break;
    case "stage":
      if (room !== state.room) break;
      if (event.allowed) state.onStage.add(event.user);
      else state.onStage.delete(event.user);
      if (event.user === state.user?.id) {
        if (!event.allowed) stopLive();
        else showNotice(t("stage.onStage"));
      }
      renderPublishControls();
      break;
    default:
      return; // a kind this client does not know yet
  }
  renderWatchers(room);
}

function withoutKind(event) {
  const { kind, ...rest } = event;
  return rest;
}

function onRoomError({ room, code, message }) {
  if (!state.data.has(room)) return;
  state.data.delete(room); // the connection already forgot it
  state.watching.delete(room);
  showError({ code, message });
  if (state.view === "room" && state.room === room) {
    state.room = null;
    replaceWithProgramme();
    document.querySelector(`[data-enter-room="${CSS.escape(room)}"]`)?.focus();
  } else {
    renderView();
  }
}

function onRemoved({ room }) {
  state.removed.add(room);
  state.watching.delete(room);
  state.data.delete(room); // the connection already forgot it, and will not join it again
  showNotice(t("room.removed", { room: roomName(room) }));
  if (state.view === "room" && state.room === room) {
    state.room = null;
    replaceWithProgramme();
    $("programme-heading").focus();
  } else {
    renderView();
  }
}

function onPresence({ room, count, people }) {
  const data = roomData(room);
  if (!data) return;
  data.presence = { count: Number(count) || 0, people: Array.isArray(people) ? people : null };
  if (state.view === "room" && room === state.room) renderPresence();
  renderWatchers(room);
}

function onHands({ room, queue }) {
  const data = roomData(room);
  if (!data) return;
  data.hands = Array.isArray(queue) ? queue : [];
  data.handRaised = data.hands.some((hand) => isMe(hand.user));
  if (state.view === "room" && room === state.room) renderHands();
  renderWatchers(room);
}

/** Update the console or overview if it shows this room. */
function renderWatchers(room) {
  if (state.view === "console") renderConsoleRoom(room);
  else if (state.view === "overview") renderOverviewRoom(room);
}

// ---------------------------------------------------------------------------------------------
// Presence, reactions and hands

function renderPresence() {
  const data = roomData();
  const room = state.rooms.get(state.room);
  const presence = data?.presence;
  const line = $("room-presence");
  line.hidden = !presence;
  line.textContent = presence ? t("presence.here", { count: presence.count }) : "";
  const people = room?.kind === "workshop" ? presence?.people : null;
  $("room-people-wrap").hidden = !people?.length;
  $("room-people").replaceChildren(...(people ?? []).map((person) => el("li", {
    class: isMe(person) ? "person own" : "person", text: person.name,
  })));
}

function renderReactionButtons() {
  $("reaction-buttons").replaceChildren(...REACTIONS.map(([emoji, name]) => el("button", {
    type: "button", class: "reaction secondary", dataset: { emoji },
    "aria-label": t("reactions.send", { name: t(`reaction.${name}`) }), text: emoji,
  })));
}

function onReactionClick(clickEvent) {
  const button = clickEvent.target.closest("button[data-emoji]");
  if (!button || !state.room) return;
  connection.request({ type: "react", room: state.room, emoji: button.dataset.emoji }).catch(showError);
}

let reactionsTimer = null;

function onReactions({ room, counts }) {
  if (state.view !== "room" || room !== state.room) return;
  const entries = Object.entries(counts ?? {}).filter(([, count]) => Number(count) > 0);
  if (!entries.length) return;
  $("reactions-summary").textContent = listFormat(entries.map(([emoji, count]) => `${count} ${emoji}`));
  clearTimeout(reactionsTimer);
  reactionsTimer = setTimeout(() => {
    $("reactions-summary").textContent = "";
  }, REACTION_SUMMARY_MS);
  if (reducedMotion.matches) return;
  const stage = $("reactions-float");
  for (const [emoji, count] of entries) {
    for (let shown = 0; shown < Math.min(Number(count), 4); shown += 1) {
      if (stage.childElementCount >= REACTION_FLOATERS_MAX) return;
      const floater = el("span", {
        class: "reaction-float",
        dataset: { lane: String(Math.floor(Math.random() * REACTION_LANES)), delay: String(shown) },
        text: emoji,
      });
      floater.addEventListener("animationend", () => floater.remove());
      setTimeout(() => floater.remove(), 4_000); // in case the animation never runs
      stage.append(floater);
    }
  }
}

function renderHands() {
  const data = roomData();
  if (!data) return;
  const toggle = $("hand-toggle");
  toggle.setAttribute("aria-pressed", String(data.handRaised));
  toggle.textContent = t(data.handRaised ? "hand.lower" : "hand.raise");
  const staff = isStaff();
  $("hands-panel").hidden = !staff;
  if (!staff) return;
  const entries = data.hands.map((hand) => ({
    key: hand.user.id,
    signature: JSON.stringify(hand),
    build: () => el("li", { class: "hand-entry" },
      el("span", { class: "hand-name", text: hand.user.name }),
      " ",
      el("span", { class: "muted", text: t("hand.raisedAt", { time: clockOf(hand.at) }) }),
      " ",
      el("button", {
        type: "button", class: "secondary small", dataset: { lowerHand: hand.user.id, focusKey: "lower" },
        "aria-label": t("hand.lowerFor", { name: hand.user.name }), text: t("hand.lowerOne"),
      })),
  }));
  reconcile($("hands-queue"), entries, $("hands-heading"));
  $("hands-empty").hidden = data.hands.length > 0;
  $("hands-clear").disabled = data.hands.length === 0;
}

function onHandToggle() {
  const data = roomData();
  if (!data) return;
  const raised = !data.handRaised;
  data.handRaised = raised;
  renderHands();
  connection.request({ type: "hand", room: state.room, raised }).catch((error) => {
    if (roomData() === data) {
      data.handRaised = !raised;
      renderHands();
    }
    showError(error);
  });
}

function onHandsClick(clickEvent) {
  const button = clickEvent.target.closest("button[data-lower-hand]");
  if (!button || isBusy(button)) return;
  busy(button, connection.request({ type: "clear_hands", room: state.room, user: button.dataset.lowerHand }))
    .catch(showError);
}

function onHandsClear(clickEvent) {
  const button = clickEvent.currentTarget;
  if (isBusy(button)) return;
  busy(button, connection.request({ type: "clear_hands", room: state.room })).catch(showError);
}

// ---------------------------------------------------------------------------------------------
// Stage: the room's media, and going live

/** Watch the room's media once the room is joined (again after a reconnect). */
function onJoined({ room }) {
  if (room !== state.room) return;
  media.watch(room, $("stage-video")).catch(showError);
}

function renderStage(tracks) {
  const names = [...new Set([...tracks.values()].map((track) => track.publisher.name))];
  $("stage-status").textContent = names.length
    ? t("stage.live", { names: listFormat(names) })
    : t("stage.waiting");
}

/** Whether this person may publish in the current room (the server checks again). */
function mayPublish() {
  return isStaff() || Boolean(state.user && state.onStage?.has(state.user.id));
}

function renderPublishControls() {
  const live = Boolean(media.publishing);
  $("publish-controls").hidden = !state.room || (!mayPublish() && !live);
  $("go-live").hidden = live;
  for (const id of ["toggle-mic", "toggle-camera", "share-screen", "stop-live", "preview"]) {
    $(id).hidden = !live;
  }
  $("move-row").hidden = !live || !isStaff();
  $("publish-status").textContent = live
    ? t("stage.youAreLive", { room: state.rooms.get(media.publishing.room)?.name ?? "" })
    : "";
  const select = $("move-room");
  select.replaceChildren(...[...state.rooms.values()]
    .filter((room) => room.id !== media.publishing?.room)
    .map((room) => el("option", { value: room.id, text: room.name })));
}

async function goLive() {
  $("go-live").disabled = true;
  try {
    await media.publish(state.room, $("preview"));
  } catch (error) {
    showError(error);
  } finally {
    $("go-live").disabled = false;
    renderPublishControls();
  }
}

function stopLive() {
  media.stopPublishing();
  renderPublishControls();
}

function toggleMedia(kind, button, onKey, offKey) {
  const enabled = media.toggle(kind);
  button.textContent = t(enabled ? onKey : offKey);
}

async function shareScreen() {
  try {
    if (media.publishing?.screen) {
      await media.stopScreen();
      $("share-screen").textContent = t("stage.shareScreen");
    } else {
      await media.shareScreen();
      $("share-screen").textContent = t("stage.stopScreen");
    }
  } catch (error) {
    showError(error);
  }
}

/** Move the stream to another room and follow it there: one action for the host. */
async function moveLive() {
  const to = $("move-room").value;
  if (!to || !media.publishing) return;
  // Join the other room first (the server moves tracks only into a joined room), then
  // follow the stream there.
  const watched = state.watching.has(to);
  state.watching.add(to);
  syncJoins();
  try {
    await media.moveTo(to);
    if (!watched) state.watching.delete(to);
    navigate("room", to);
  } catch (error) {
    if (!watched) state.watching.delete(to);
    syncJoins();
    showError(error);
  }
}

// ---------------------------------------------------------------------------------------------
// Chat

/** The text with `@Name` mentions of `mentions` marked up (as nodes, never HTML). */
function mentionNodes(text, mentions) {
  if (!mentions?.length || !text.includes("@")) return [text];
  const tags = mentions
    .map((person) => ({ person, tag: `@${person.name}` }))
    .sort((a, b) => b.tag.length - a.tag.length);
  const nodes = [];
  let plain = "";
  let index = 0;
  while (index < text.length) {
    const found = text[index] === "@" ? tags.find(({ tag }) => text.startsWith(tag, index)) : null;
    if (found) {
      if (plain) nodes.push(plain);
      plain = "";
      nodes.push(el("mark", { class: isMe(found.person) ? "mention mention-me" : "mention", text: found.tag }));
      index += found.tag.length;
    } else {
      plain += text[index];
      index += 1;
    }
  }
  if (plain) nodes.push(plain);
  return nodes;
}

function mentionsMe(message) {
  return !isMe(message.author) && (message.mentions ?? []).some((person) => isMe(person));
}

function chatItem(message) {
  const own = isMe(message.author);
  const name = message.author?.name ?? "";
  const at = new Date(message.at);
  const classes = ["chat-message"];
  if (own) classes.push("own");
  if (mentionsMe(message)) classes.push("mentions-me");
  const reply = message.reply_to;
  const staff = isStaff();
  return el("li", { class: classes.join(" "), dataset: { chatId: message.id, authorId: message.author?.id ?? "" } },
    reply ? el("blockquote", { class: "chat-quote", dataset: { replyTo: reply.id } },
      el("span", { class: "chat-quote-author", text: t("chat.quoteAuthor", { name: reply.author?.name ?? "" }) }),
      " ",
      el("span", { class: "chat-quote-text", text: String(reply.excerpt ?? "") })) : null,
    el("span", { class: "chat-meta" },
      el("span", { class: "chat-author", text: name }),
      own ? [" ", el("span", { class: "chat-you", text: t("chat.you") })] : null,
      Number.isNaN(at.getTime()) ? null : [" ", timeElement(at, formatClock(at))]),
    " ",
    el("span", { class: "chat-text" }, ...mentionNodes(String(message.text ?? ""), message.mentions)),
    el("span", { class: "chat-actions" },
      el("button", {
        type: "button", class: "reply-chat secondary small", dataset: { focusKey: "reply" },
        "aria-label": t("chat.replyLabel", { name }), text: t("chat.reply"),
      }),
      staff ? el("button", {
        type: "button", class: "remove-chat secondary small",
        "aria-label": t("chat.removeLabel", { name }), text: t("chat.remove"),
      }) : null,
      staff && !own ? el("button", {
        type: "button", class: "chat-person-menu secondary small", "aria-expanded": "false",
        "aria-label": t("chat.personMenuLabel", { name }), text: t("chat.personMenu"),
      }) : null));
}

function renderChat() {
  const data = roomData();
  const log = $("chat-log");
  const messages = data ? [...data.chat.values()] : [];
  log.replaceChildren(...messages.map(chatItem));
  $("chat-empty").hidden = messages.length > 0 || !data?.ready;
  log.scrollTop = log.scrollHeight;
  renderChatOlder();
}

function renderChatOlder() {
  const data = roomData();
  const ready = Boolean(data?.ready);
  $("chat-older").hidden = !ready || data.chat.size === 0 || data.olderDone;
  $("chat-start").hidden = !ready || !data.olderDone;
}

function addChat(room, data, message, entered) {
  if (data.chat.has(message.id)) return;
  data.chat.set(message.id, message);
  const trimmed = [];
  while (!data.expanded && data.chat.size > CHAT_KEEP) {
    const oldest = data.chat.keys().next().value;
    data.chat.delete(oldest);
    trimmed.push(oldest);
  }
  if (!entered) return;
  const log = $("chat-log");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(chatItem(message));
  for (const id of trimmed) log.querySelector(`li[data-chat-id="${id}"]`)?.remove();
  $("chat-empty").hidden = true;
  renderChatOlder();
  if (atBottom || isMe(message.author)) log.scrollTop = log.scrollHeight;
  if (mentionsMe(message)) {
    announce(t("chat.mentionedYou", { name: message.author?.name ?? "", text: message.text ?? "" }));
  }
}

function removeChatItem(id) {
  if (state.replyTo?.id === id) {
    state.replyTo = null;
    renderReply();
  }
  const item = $("chat-log").querySelector(`li[data-chat-id="${id}"]`);
  if (!item) return;
  if (item.contains(document.activeElement)) {
    const neighbour = item.nextElementSibling ?? item.previousElementSibling;
    const target = neighbour?.querySelector(".reply-chat") ?? $("chat-input");
    item.remove();
    target.focus();
  } else {
    item.remove();
  }
  $("chat-empty").hidden = (roomData()?.chat.size ?? 0) > 0;
}

async function onChatOlder(clickEvent) {
  const button = clickEvent.currentTarget;
  const data = roomData();
  if (!data || isBusy(button) || data.chat.size === 0) return;
  const room = state.room;
  const before = Math.min(...data.chat.keys());
  try {
    const answer = await busy(button,
      connection.request({ type: "chat_history", room, before, limit: CHAT_PAGE }));
    if (roomData(room) !== data) return;
    const older = (answer.messages ?? []).filter((message) => !data.chat.has(message.id));
    if ((answer.messages ?? []).length < CHAT_PAGE) data.olderDone = true;
    data.expanded = true;
    data.chat = new Map([...older.map((message) => [message.id, message]), ...data.chat]);
    if (state.view === "room" && state.room === room) {
      const log = $("chat-log");
      const height = log.scrollHeight;
      const top = log.scrollTop;
      log.prepend(...older.map(chatItem));
      log.scrollTop = top + (log.scrollHeight - height);
      $("chat-status").textContent = older.length
        ? t("chat.olderLoaded", { count: older.length })
        : t("chat.start");
      renderChatOlder();
      if (button.hidden) $("chat-log").focus();
    }
  } catch (error) {
    showError(error);
  }
}

function onChatSubmit(submitEvent) {
  submitEvent.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text || !state.room) return;
  const message = { type: "chat", room: state.room, text, client_id: Connection.clientId() };
  const replyTo = state.replyTo;
  if (replyTo) message.reply_to = replyTo.id;
  // Cleared at once, so the next message can be typed while this one travels; given back if
  // it is refused and nothing new was typed meanwhile.
  input.value = "";
  connection.request(message).then(
    () => {
      if (state.replyTo === replyTo) {
        state.replyTo = null;
        renderReply();
      }
    },
    (error) => {
      if (!input.value) input.value = text;
      showError(error);
    },
  );
}

function renderReply() {
  const reply = state.replyTo;
  $("chat-replying").hidden = !reply;
  $("chat-replying-text").textContent = reply ? t("chat.replying", { name: reply.name }) : "";
}

function renderMuted() {
  const data = roomData();
  const until = data?.mutedUntil ?? null;
  const muted = until !== null && until > Date.now();
  const notice = $("chat-muted");
  notice.hidden = !muted;
  notice.textContent = muted ? t("chat.muted", { time: formatClock(new Date(until)) }) : "";
  $("chat-input").disabled = muted;
  $("chat-form").querySelector("button[type=submit]").disabled = muted;
  clearTimeout(renderMuted.timer);
  if (muted) renderMuted.timer = setTimeout(renderMuted, Math.min(MAX_TIMEOUT_MS, until - Date.now() + 250));
}

/** For staff: who is muted in the entered room, each with a button to lift it. */
function renderMutedPeople() {
  const list = $("muted-people");
  const now = Date.now();
  const muted = isStaff()
    ? [...(roomData()?.mutedPeople.values() ?? [])].filter((entry) => Date.parse(entry.until) > now)
    : [];
  list.hidden = muted.length === 0;
  list.replaceChildren(
    el("h4", { text: t("chat.mutedPeople") }),
    el("ul", {}, muted.map(({ user, until }) => el("li", {},
      t("chat.mutedPerson", { name: user.name, time: clockOf(until) }),
      " ",
      el("button", {
        type: "button", class: "secondary small", dataset: { unmute: user.id },
        text: t("sanction.unmute"), "aria-label": t("chat.unmutePerson", { name: user.name }),
      })))));
}

function onMutedPeopleClick(clickEvent) {
  const button = clickEvent.target.closest("button[data-unmute]");
  if (!button || isBusy(button)) return;
  const entry = roomData()?.mutedPeople.get(button.dataset.unmute);
  busy(button, connection.request({ type: "unmute", room: state.room, user: button.dataset.unmute })).then(
    () => {
      $("chat-status").textContent = t("sanction.unmute.done", { name: entry?.user.name ?? "" });
    },
    showError,
  );
}

function onChatClick(clickEvent) {
  const button = clickEvent.target.closest("button");
  if (!button || isBusy(button)) return;
  const item = button.closest("li.chat-message");
  if (!item) return;
  const id = Number(item.dataset.chatId);
  const message = roomData()?.chat.get(id);
  if (button.classList.contains("reply-chat")) {
    state.replyTo = { id, name: message?.author?.name ?? "" };
    renderReply();
    $("chat-input").focus();
  } else if (button.classList.contains("remove-chat")) {
    busy(button, connection.request({ type: "remove_chat", room: state.room, id })).catch(showError);
  } else if (button.classList.contains("chat-person-menu")) {
    togglePersonMenu(item, button, message);
  } else if (button.dataset.sanction) {
    confirmSanction(item, button.dataset.sanction, message);
  } else if (button.dataset.confirmSanction) {
    applySanction(item, button, button.dataset.confirmSanction, message);
  } else if (button.classList.contains("cancel-sanction")) {
    closePersonMenu(item, true);
  }
}

const SANCTIONS = ["mute-short", "mute-day", "unmute", "remove"];

function togglePersonMenu(item, button, message) {
  if (item.querySelector(".chat-menu")) {
    closePersonMenu(item, true);
    return;
  }
  for (const open of $("chat-log").querySelectorAll(".chat-menu")) closePersonMenu(open.closest("li"), false);
  const name = message?.author?.name ?? "";
  const menu = el("div", { class: "chat-menu", role: "group", "aria-label": t("chat.personMenuLabel", { name }) },
    SANCTIONS.map((sanction) => el("button", {
      type: "button", class: "secondary small", dataset: { sanction },
      text: t(`sanction.${sanction}`, { minutes: MUTE_SHORT_MINUTES }),
    })));
  item.append(menu);
  button.setAttribute("aria-expanded", "true");
  menu.querySelector("button").focus();
}

function closePersonMenu(item, focusButton) {
  item?.querySelector(".chat-menu")?.remove();
  const button = item?.querySelector(".chat-person-menu");
  button?.setAttribute("aria-expanded", "false");
  if (focusButton) button?.focus();
}

function confirmSanction(item, sanction, message) {
  const name = message?.author?.name ?? "";
  const menu = item.querySelector(".chat-menu");
  if (!menu) return;
  menu.replaceChildren(
    el("p", { class: "chat-menu-question", text: t(`sanction.${sanction}.confirm`, { name, minutes: MUTE_SHORT_MINUTES }) }),
    el("button", { type: "button", class: "small danger", dataset: { confirmSanction: sanction }, text: t(`sanction.${sanction}.yes`) }),
    " ",
    el("button", { type: "button", class: "secondary small cancel-sanction", text: t("sanction.cancel") }));
  menu.querySelector("button").focus();
}

function applySanction(item, button, sanction, message) {
  const user = message?.author?.id;
  const name = message?.author?.name ?? "";
  if (!user) return;
  const room = state.room;
  let request;
  if (sanction === "mute-short") request = { type: "mute", room, user, minutes: MUTE_SHORT_MINUTES };
  else if (sanction === "mute-day") request = { type: "mute", room, user };
  else if (sanction === "unmute") request = { type: "unmute", room, user };
  else request = { type: "remove_person", room, user };
  busy(button, connection.request(request)).then(
    () => {
      $("chat-status").textContent = t(`sanction.${sanction}.done`, { name, minutes: MUTE_SHORT_MINUTES });
      closePersonMenu(item, true);
    },
    (error) => {
      showError(error);
      closePersonMenu(item, true);
    },
  );
}

function onChatKeydown(keyEvent) {
  if (keyEvent.key !== "Escape") return;
  const menu = keyEvent.target.closest(".chat-menu");
  if (menu) {
    keyEvent.preventDefault();
    closePersonMenu(menu.closest("li"), true);
  }
}

// ---------------------------------------------------------------------------------------------
// Q&A

/** The moderation buttons that make sense for a question in its state. */
function actionsFor(question) {
  const pin = question.pinned ? "unpin" : "pin";
  switch (question.status) {
    case "pending":
      return ["approve", "reject", "edit", "merge"];
    case "approved":
      return [pin, "answered", "reject", "edit", "merge"];
    case "answered":
      return [pin, "reject", "edit", "merge"];
    case "rejected":
      return ["restore", "edit"];
    default:
      return [];
  }
}

function isOwnQuestion(question) {
  return state.asked.has(question.id) || isMe(question.author);
}

function sessionQuestions() {
  const data = roomData();
  if (!data) return [];
  const staff = isStaff();
  return [...data.questions.values()].filter((question) => question.session === state.selectedSession
    && (staff || (question.status !== "merged"
      && (question.status !== "rejected" || isOwnQuestion(question)))));
}

function matchesFilter(question) {
  switch (state.filter) {
    case "pending":
      return question.status === "pending";
    case "published":
      return question.status === "approved" || question.status === "answered";
    case "rejected":
      return question.status === "rejected";
    default:
      return true;
  }
}

/** Pinned first; then most votes (oldest first among equals), or newest first. */
function compareQuestions(a, b) {
  if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
  const byTime = Date.parse(a.at) - Date.parse(b.at) || a.id - b.id;
  if (state.sort === "newest") return -byTime;
  if (a.votes !== b.votes) return b.votes - a.votes;
  return byTime;
}

function questionAuthor(question) {
  if (question.anonymous) {
    return question.author?.name && isStaff()
      ? t("qa.anonymousStaff", { name: question.author.name })
      : t("qa.anonymousAuthor");
  }
  return question.author?.name ?? t("qa.anonymousAuthor");
}

function excerpt(text, length = 60) {
  const value = String(text ?? "");
  return value.length > length ? `${value.slice(0, length - 1)}…` : value;
}

/** The inline editor of a question being edited or merged. */
function questionEditor(question) {
  const editing = state.editing;
  if (editing.mode === "edit") {
    const fieldId = `question-edit-${question.id}`;
    return el("form", { class: "question-editor", dataset: { editor: "edit" } },
      el("label", { for: fieldId, text: t("qa.editLabel") }),
      el("textarea", { id: fieldId, class: "question-edit-input", rows: "3", maxlength: "500", required: true, dataset: { focusKey: "edit-text" } }),
      el("div", { class: "form-row" },
        el("button", { type: "submit", class: "small", dataset: { focusKey: "edit-save" }, text: t("qa.editSave") }),
        el("button", { type: "button", class: "secondary small", dataset: { editorCancel: "edit", focusKey: "edit-cancel" }, text: t("qa.editCancel") })));
  }
  const candidates = [...(roomData()?.questions.values() ?? [])]
    .filter((other) => other.session === question.session && other.id !== question.id && other.status !== "merged")
    .sort((a, b) => a.id - b.id);
  const fieldId = `question-merge-${question.id}`;
  if (!candidates.length) {
    return el("div", { class: "question-editor", dataset: { editor: "merge" } },
      el("p", { class: "muted", text: t("qa.mergeNone") }),
      el("button", { type: "button", class: "secondary small", dataset: { editorCancel: "merge", focusKey: "merge-cancel" }, text: t("qa.editCancel") }));
  }
  return el("form", { class: "question-editor", dataset: { editor: "merge" } },
    el("label", { for: fieldId, text: t("qa.mergeLabel") }),
    el("select", { id: fieldId, class: "question-merge-select", dataset: { focusKey: "merge-into" } },
      candidates.map((other) => el("option", {
        value: String(other.id), text: t("qa.mergeOption", { id: other.id, text: excerpt(other.text) }),
      }))),
    el("div", { class: "form-row" },
      el("button", { type: "submit", class: "small", dataset: { focusKey: "merge-save" }, text: t("qa.mergeSave") }),
      el("button", { type: "button", class: "secondary small", dataset: { editorCancel: "merge", focusKey: "merge-cancel" }, text: t("qa.editCancel") })));
}

function questionItem(question) {
  const data = roomData();
  const voted = Boolean(data?.voted.has(question.id));
  const votable = question.status === "approved" || question.status === "answered";
  const staff = isStaff();
  const textId = `question-text-${question.id}`;
  const editing = state.editing?.id === question.id ? state.editing.mode : null;
  const item = el("li", {
    class: "question",
    tabindex: "-1",
    dataset: {
      questionId: question.id, status: question.status, pinned: String(Boolean(question.pinned)),
      edited: String(Boolean(question.edited)),
    },
  },
  el("p", { class: "question-body" },
    staff ? el("span", { class: "question-number", text: t("qa.number", { id: question.id }) }) : null,
    staff ? " " : null,
    el("span", { class: "question-text", id: textId, text: String(question.text ?? "") }),
    question.edited ? [" ", el("span", { class: "question-edited", text: t("qa.edited") })] : null),
  el("p", { class: "question-meta" },
    el("span", { class: "question-author", text: questionAuthor(question) }),
    " ",
    question.pinned ? el("span", { class: "badge pinned-badge", text: t("qa.pinned") }) : null,
    " ",
    el("span", { class: "badge status-badge", dataset: { badge: question.status }, text: t(`question.${question.status}`) }),
    question.status === "merged" && question.merged_into !== undefined
      ? [" ", el("span", { class: "question-merged", text: t("qa.mergedInto", { id: question.merged_into }) })]
      : null),
  question.status === "merged" ? null : el("div", { class: "question-actions" },
    el("span", { class: "vote-count" },
      el("span", { class: "votes", text: String(question.votes ?? 0) }),
      " ",
      el("span", { class: "votes-label", text: t("qa.votes", { count: question.votes ?? 0 }) })),
    el("button", {
      type: "button", class: voted ? "vote voted" : "vote", disabled: !votable,
      "aria-pressed": voted ? "true" : "false",
      "aria-label": voted ? t("qa.unvoteLabel", { text: question.text }) : t("qa.voteLabel", { text: question.text }),
      text: voted ? t("qa.voted") : t("qa.vote"),
    }),
    staff ? actionsFor(question).map((action) => el("button", {
      type: "button", class: "secondary small", dataset: { action }, "aria-describedby": textId,
      "aria-expanded": action === "edit" || action === "merge" ? String(editing === action) : null,
      text: t(`action.${action}`),
    })) : null),
  staff && editing ? questionEditor(question) : null);
  item.dataset.signature = JSON.stringify([question, voted, staff, state.user?.id, editing]);
  const textarea = item.querySelector(".question-edit-input");
  if (textarea) textarea.value = state.editing.draft ?? "";
  const select = item.querySelector(".question-merge-select");
  if (select && state.editing.into !== undefined) select.value = String(state.editing.into);
  return item;
}

/** Bring #questions in line with the state, rebuilding only items that changed, keeping focus. */
function renderQuestions() {
  const list = $("questions");
  const inSession = sessionQuestions();
  const shown = inSession.filter(matchesFilter).sort(compareQuestions);

  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const focusedItem = focused?.closest("li");
  const focusKey = focused && {
    id: focusedItem?.dataset.questionId,
    field: focused.dataset?.focusKey ?? null,
    action: focused.dataset?.action ?? (focused.classList.contains("vote") ? "vote" : null),
    index: focusedItem ? [...focusedItem.querySelectorAll("button")].indexOf(focused) : -1,
  };

  const existing = new Map([...list.children].map((item) => [item.dataset.questionId, item]));
  const wanted = shown.map((question) => {
    const fresh = questionItem(question);
    const old = existing.get(String(question.id));
    return old && old.dataset.signature === fresh.dataset.signature ? old : fresh;
  });
  const keep = new Set(wanted);
  for (const item of [...list.children]) if (!keep.has(item)) item.remove();
  // Then place the rest in order, moving only what is out of place.
  for (const [index, item] of wanted.entries()) {
    if (list.children[index] !== item) list.insertBefore(item, list.children[index] ?? null);
  }

  if (focusKey && !list.contains(document.activeElement)) {
    const item = list.querySelector(`li[data-question-id="${CSS.escape(String(focusKey.id))}"]`);
    if (item) {
      // The same control, else its counterpart (pin/unpin), else the one in its place.
      const partner = { pin: "unpin", unpin: "pin", reject: "restore", restore: "reject" }[focusKey.action];
      const buttons = [...item.querySelectorAll("button")];
      const target = [
        focusKey.field ? item.querySelector(`[data-focus-key="${CSS.escape(focusKey.field)}"]`) : null,
        item.querySelector(focusKey.action === "vote" ? "button.vote" : `[data-action="${focusKey.action}"]`),
        partner ? item.querySelector(`[data-action="${partner}"]`) : null,
        buttons[focusKey.index],
        ...buttons.slice(0, Math.max(0, focusKey.index)).reverse(),
      ].find((button) => button && !button.disabled) ?? item;
      target.focus();
    } else {
      $("qa-heading").setAttribute("tabindex", "-1");
      $("qa-heading").focus();
    }
  }

  const empty = $("questions-empty");
  const ready = Boolean(roomData()?.ready);
  empty.hidden = shown.length > 0 || !ready;
  empty.textContent = inSession.length ? t("qa.emptyFilter") : t("qa.empty");
  renderModeration(inSession);
  renderQaState();
}

function renderModeration(inSession) {
  const staff = isStaff();
  $("moderation").hidden = !staff;
  if (!staff) return;
  const count = (status) => inSession.filter((question) => status.includes(question.status)).length;
  const pending = count(["pending"]);
  $("filter-all-label").textContent = t("qa.filterAll", { count: inSession.length });
  $("filter-pending-label").textContent = t("qa.filterPending", { count: pending });
  $("filter-published-label").textContent = t("qa.filterPublished", { count: count(["approved", "answered"]) });
  $("filter-rejected-label").textContent = t("qa.filterRejected", { count: count(["rejected"]) });
  const queue = $("moderation-queue");
  queue.textContent = pending ? t("qa.queue", { count: pending }) : "";
  queue.hidden = !pending;
}

/** The ask form and the staff toggle, as the selected session's Q&A is open or closed. */
function renderQaState() {
  const data = roomData();
  const session = state.selectedSession;
  const closed = Boolean(session && data?.qaClosed.has(session));
  const note = $("qa-closed-note");
  const text = closed ? t("qa.closed") : "";
  if (note.textContent !== text) note.textContent = text;
  for (const control of $("ask-form").querySelectorAll("textarea, input, button")) control.disabled = closed;
  const toggle = $("qa-toggle");
  toggle.textContent = t(closed ? "qa.reopen" : "qa.close");
  toggle.dataset.open = String(!closed);
  toggle.disabled = !session;
  $("moderation-log-open").disabled = !session;
}

function onAskSubmit(submitEvent) {
  submitEvent.preventDefault();
  const input = $("ask-input");
  const text = input.value.trim();
  const session = state.selectedSession;
  if (!text || !session) return;
  const anonymous = $("ask-anonymous").checked;
  connection.request({ type: "ask", session, text, anonymous, client_id: Connection.clientId() }).then(
    (ack) => {
      if (typeof ack.id === "number") state.asked.add(ack.id);
      if (input.value.trim() === text) input.value = "";
      const moderated = state.sessions.get(session)?.qa_moderated && !isStaff();
      $("ask-status").textContent = t(moderated ? "qa.sentModerated" : "qa.sent");
      renderQuestions();
    },
    showError,
  );
}

function onQuestionsClick(clickEvent) {
  const button = clickEvent.target.closest("button");
  if (!button || isBusy(button)) return;
  const id = Number(button.closest("li")?.dataset.questionId);
  if (!Number.isFinite(id)) return;
  if (button.classList.contains("vote")) {
    toggleVote(id);
  } else if (button.dataset.editorCancel) {
    state.editing = null;
    renderQuestions();
    $("questions").querySelector(`li[data-question-id="${id}"] [data-action="${button.dataset.editorCancel}"]`)?.focus();
  } else if (button.dataset.action === "edit" || button.dataset.action === "merge") {
    const mode = button.dataset.action;
    if (state.editing?.id === id && state.editing.mode === mode) {
      state.editing = null;
      renderQuestions();
      return;
    }
    const question = roomData()?.questions.get(id);
    state.editing = { id, mode, draft: question?.text ?? "" };
    renderQuestions();
    $("questions").querySelector(`li[data-question-id="${id}"] .question-editor`)
      ?.querySelector("textarea, select, button")?.focus();
  } else if (button.dataset.action) {
    // aria-disabled, not disabled: a disabled button loses focus, and focus should stay put
    // until the question's new state arrives and the item is redrawn.
    busy(button, connection.request({ type: "moderate", question: id, action: button.dataset.action }))
      .catch(showError);
  }
}

function onQuestionsSubmit(submitEvent) {
  const form = submitEvent.target.closest("form.question-editor");
  if (!form) return;
  submitEvent.preventDefault();
  const id = Number(form.closest("li")?.dataset.questionId);
  const editing = state.editing;
  if (!editing || editing.id !== id) return;
  const button = form.querySelector("button[type=submit]");
  if (isBusy(button)) return;
  let message;
  if (editing.mode === "edit") {
    const text = form.querySelector("textarea").value.trim();
    if (!text) return;
    message = { type: "moderate", question: id, action: "edit", text };
  } else {
    const into = Number(form.querySelector("select").value);
    if (!Number.isFinite(into)) return;
    message = { type: "moderate", question: id, action: "merge", into };
  }
  busy(button, connection.request(message)).then(
    () => {
      if (state.editing !== editing) return;
      state.editing = null;
      renderQuestions();
      const item = $("questions").querySelector(`li[data-question-id="${id}"]`);
      (item?.querySelector(`[data-action="${editing.mode}"]`) ?? item ?? $("qa-heading")).focus();
    },
    showError,
  );
}

function onQuestionsInput(inputEvent) {
  if (!state.editing) return;
  if (inputEvent.target.classList.contains("question-edit-input")) state.editing.draft = inputEvent.target.value;
  if (inputEvent.target.classList.contains("question-merge-select")) state.editing.into = inputEvent.target.value;
}

function toggleVote(id) {
  const data = roomData();
  if (!data) return;
  const wasVoted = data.voted.has(id);
  if (wasVoted) data.voted.delete(id);
  else data.voted.add(id);
  renderQuestions();
  connection.request({ type: wasVoted ? "unvote" : "vote", question: id }).catch((error) => {
    if (wasVoted) data.voted.add(id);
    else data.voted.delete(id);
    if (roomData() === data) renderQuestions();
    showError(error);
  });
}

function onQaToggle(clickEvent) {
  const button = clickEvent.currentTarget;
  const session = state.selectedSession;
  if (!session || isBusy(button)) return;
  const open = button.dataset.open !== "true";
  busy(button, connection.request({ type: "set_qa", session, open })).catch(showError);
}

// ---------------------------------------------------------------------------------------------
// Moderation log

async function openModerationLog() {
  const session = state.selectedSession;
  const button = $("moderation-log-open");
  if (!session || isBusy(button)) return;
  try {
    const answer = await busy(button, connection.request({ type: "moderation_log", session }));
    if (state.selectedSession !== session) return;
    state.modLog = { session, entries: Array.isArray(answer.entries) ? answer.entries : [] };
    renderModerationLog();
    const wasHidden = $("moderation-log").hidden;
    $("moderation-log").hidden = false;
    if (wasHidden) $("moderation-log-heading").focus();
  } catch (error) {
    showError(error);
  }
}

function logActionLabel(action) {
  return has(`logAction.${action}`) ? t(`logAction.${action}`) : action;
}

function renderModerationLog() {
  const log = state.modLog;
  if (!log) return;
  const title = state.sessions.get(log.session)?.title ?? log.session;
  $("moderation-log-heading").textContent = t("log.heading", { title });
  $("moderation-log-empty").hidden = log.entries.length > 0;
  $("moderation-log-table").hidden = log.entries.length === 0;
  $("moderation-log-export").disabled = log.entries.length === 0;
  $("moderation-log-rows").replaceChildren(...log.entries.map((entry) => {
    const at = new Date(entry.at);
    return el("tr", {},
      el("td", {}, Number.isNaN(at.getTime()) ? String(entry.at ?? "") : timeElement(at, formatStart(at))),
      el("td", { text: entry.by?.name ?? "" }),
      el("td", { text: logActionLabel(entry.action) }),
      el("td", { text: entry.question !== undefined && entry.question !== null ? t("qa.number", { id: entry.question }) : "" }),
      el("td", { class: "log-detail", text: entry.detail ?? "" }));
  }));
}

function closeModerationLog(focus = true) {
  state.modLog = null;
  $("moderation-log").hidden = true;
  $("moderation-log-rows").replaceChildren();
  if (focus) $("moderation-log-open").focus();
}

/** One CSV cell: quoted, and defused against spreadsheet formulas. */
function csvCell(value) {
  let text = String(value ?? "");
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

function exportModerationLog() {
  const log = state.modLog;
  if (!log) return;
  const rows = [["at", "by_id", "by", "action", "question", "detail"]];
  for (const entry of log.entries) {
    rows.push([entry.at, entry.by?.id, entry.by?.name, entry.action, entry.question, entry.detail]);
  }
  const csv = `\ufeff${rows.map((row) => row.map(csvCell).join(",")).join("\r\n")}\r\n`;
  const url = URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" }));
  const link = el("a", { href: url, download: `moderation-log-${log.session}.csv`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// ---------------------------------------------------------------------------------------------
// Polls

function pollChoiceText(poll, choices) {
  return listFormat(choices.map((index) => poll.options[index]?.text ?? "").filter(Boolean));
}

function pollHead(poll) {
  return el("div", { class: "poll-head" },
    el("h4", { class: "poll-question", id: `poll-question-${poll.id}`, text: poll.question }),
    el("p", { class: "poll-meta" },
      el("span", { class: "badge poll-state", dataset: { badge: poll.state }, text: t(`polls.state.${poll.state}`) }),
      poll.multiple ? [" ", el("span", { class: "muted", text: t("polls.multipleNote") })] : null,
      isStaff() ? [" ", el("span", { class: "muted", text: t(poll.results_visible ? "polls.resultsShown" : "polls.resultsHidden") })] : null));
}

function pollControls(poll) {
  if (!isStaff()) return el("div", { class: "poll-controls", hidden: true });
  const actions = [];
  if (poll.state === "draft") actions.push("open");
  else if (poll.state === "open") actions.push("close");
  else actions.push("reopen");
  actions.push(poll.results_visible ? "hide_results" : "show_results");
  return el("div", { class: "poll-controls" },
    actions.map((action) => el("button", {
      type: "button", class: action === "open" ? "small" : "secondary small",
      dataset: { pollAction: action === "reopen" ? "open" : action, focusKey: `control-${action}` },
      "aria-describedby": `poll-question-${poll.id}`,
      text: t(`polls.action.${action}`),
    })));
}

function pollVoteArea(poll, choices) {
  if (poll.state === "draft") {
    return el("div", { class: "poll-vote-area" }, el("p", { class: "muted", text: t("polls.draftNote") }));
  }
  if (poll.state === "closed") {
    return el("div", { class: "poll-vote-area" },
      el("p", { class: "muted", text: t("polls.closedNote") }),
      choices.length ? el("p", { class: "poll-my-vote", text: t("polls.yourChoice", { choice: pollChoiceText(poll, choices) }) }) : null);
  }
  const type = poll.multiple ? "checkbox" : "radio";
  return el("form", { class: "poll-vote-area poll-vote-form" },
    el("fieldset", {},
      el("legend", { class: "sr-only", text: poll.question }),
      poll.options.map((option, index) => {
        const id = `poll-${poll.id}-option-${index}`;
        return el("span", { class: "poll-choice" },
          el("input", {
            type, id, name: `poll-${poll.id}`, value: String(index), checked: choices.includes(index),
            dataset: { focusKey: `option-${index}` },
          }),
          el("label", { for: id, text: option.text }));
      })),
    el("div", { class: "form-row" },
      el("button", { type: "submit", class: "small poll-vote-submit", dataset: { focusKey: "vote" },
        text: t(choices.length ? "polls.changeVote" : "polls.vote") }),
      choices.length ? el("span", { class: "poll-my-vote muted", text: t("polls.yourChoice", { choice: pollChoiceText(poll, choices) }) }) : null),
    el("p", { class: "poll-vote-status muted", role: "status" }));
}

function pollResults(poll, choices) {
  const counted = poll.options.every((option) => typeof option.votes === "number");
  if (!counted) {
    return el("div", { class: "poll-results" },
      poll.state === "draft" ? null : el("p", { class: "muted", text: t("polls.resultsHiddenNote") }));
  }
  const total = poll.options.reduce((sum, option) => sum + option.votes, 0);
  return el("div", { class: "poll-results" },
    el("ol", { class: "poll-result-list", "aria-label": t("polls.resultsLabel") },
      poll.options.map((option, index) => {
        const percent = total ? Math.round((option.votes / total) * 100) : 0;
        return el("li", { class: choices.includes(index) ? "poll-result chosen" : "poll-result", dataset: { index } },
          el("span", { class: "poll-result-text", text: option.text }),
          choices.includes(index) ? [" ", el("span", { class: "muted", text: t("polls.chosen") })] : null,
          el("span", { class: "poll-result-figures" },
            el("meter", { min: "0", max: String(Math.max(total, 1)), value: String(option.votes), "aria-hidden": "true" }),
            " ",
            el("span", { class: "poll-votes", text: String(option.votes) }),
            " ",
            el("span", { class: "poll-votes-label", text: t("polls.votes", { count: option.votes, percent }) })));
      })),
    typeof poll.voters === "number" ? el("p", { class: "muted poll-voters", text: t("polls.voters", { count: poll.voters }) }) : null);
}

/** Update one poll's item part by part, so a vote being chosen survives new counts. */
function updatePollItem(item, poll) {
  const choices = roomData()?.pollVotes.get(poll.id) ?? [];
  const staff = isStaff();
  item.dataset.state = poll.state;
  item.dataset.resultsVisible = String(Boolean(poll.results_visible));
  const parts = [
    [".poll-head", JSON.stringify([poll.question, poll.state, poll.multiple, poll.results_visible, staff]), () => pollHead(poll)],
    [".poll-controls", JSON.stringify([poll.state, poll.results_visible, staff]), () => pollControls(poll)],
    [".poll-vote-area", JSON.stringify([poll.state, poll.options.map((o) => o.text), poll.multiple, choices]), () => pollVoteArea(poll, choices)],
    [".poll-results", JSON.stringify([poll.options, poll.voters, choices, poll.state]), () => pollResults(poll, choices)],
  ];
  for (const [selector, signature, build] of parts) {
    const old = item.querySelector(`:scope > ${selector}`);
    if (old?.dataset.signature === signature) continue;
    const fresh = build();
    fresh.dataset.signature = signature;
    if (old) replaceKeepingFocus(old, fresh);
    else item.append(fresh);
  }
}

function renderPolls() {
  const data = roomData();
  const staff = isStaff();
  $("poll-staff").hidden = !staff;
  const list = $("poll-list");
  const polls = data
    ? [...data.polls.values()].filter((poll) => staff || poll.state !== "draft").sort((a, b) => b.id - a.id)
    : [];
  const existing = new Map([...list.children].map((item) => [item.dataset.pollId, item]));
  const wanted = polls.map((poll) => {
    const item = existing.get(String(poll.id))
      ?? el("li", { class: "poll", dataset: { pollId: poll.id }, "aria-labelledby": `poll-question-${poll.id}` });
    updatePollItem(item, poll);
    return item;
  });
  const keep = new Set(wanted);
  for (const item of [...list.children]) {
    if (!keep.has(item)) {
      if (item.contains(document.activeElement)) $("polls-heading").focus();
      item.remove();
    }
  }
  for (const [index, item] of wanted.entries()) {
    if (list.children[index] !== item) list.insertBefore(item, list.children[index] ?? null);
  }
  $("polls-empty").hidden = polls.length > 0 || !data?.ready;
}

function onPollListClick(clickEvent) {
  const button = clickEvent.target.closest("button[data-poll-action]");
  if (!button || isBusy(button)) return;
  const poll = Number(button.closest("li.poll")?.dataset.pollId);
  busy(button, connection.request({ type: "poll_action", poll, action: button.dataset.pollAction }))
    .catch(showError);
}

function onPollVote(submitEvent) {
  const form = submitEvent.target.closest("form.poll-vote-form");
  if (!form) return;
  submitEvent.preventDefault();
  const item = form.closest("li.poll");
  const id = Number(item?.dataset.pollId);
  const room = state.room;
  const button = form.querySelector("button[type=submit]");
  if (isBusy(button)) return;
  const choices = [...form.querySelectorAll("input:checked")].map((input) => Number(input.value));
  const status = form.querySelector(".poll-vote-status");
  if (!choices.length) {
    status.textContent = t("polls.chooseFirst");
    return;
  }
  busy(button, connection.request({ type: "poll_vote", poll: id, choices })).then(
    () => {
      const data = roomData(room);
      if (!data) return;
      data.pollVotes.set(id, [...choices].sort((a, b) => a - b));
      const poll = data.polls.get(id);
      if (poll && roomData() === data) updatePollItem(item, poll);
      const fresh = item.querySelector(".poll-vote-status");
      if (fresh) fresh.textContent = t("polls.voteCounted");
    },
    showError,
  );
}

function pollOptionField(value = "") {
  return el("li", { class: "poll-option-field" },
    el("label", { class: "poll-option-label" }),
    el("span", { class: "inline-field" },
      el("input", { type: "text", class: "poll-option-input", maxlength: "100", autocomplete: "off", value }),
      el("button", { type: "button", class: "secondary small poll-option-remove" })));
}

/** Number the option fields and enable add/remove within the bounds. */
function renumberPollOptions() {
  const fields = [...$("poll-option-list").children];
  fields.forEach((field, index) => {
    const id = `poll-option-${index}`;
    const label = field.querySelector("label");
    label.textContent = t("polls.optionLabel", { number: index + 1 });
    label.htmlFor = id;
    field.querySelector("input").id = id;
    const remove = field.querySelector(".poll-option-remove");
    remove.textContent = t("polls.removeOption");
    remove.setAttribute("aria-label", t("polls.removeOptionLabel", { number: index + 1 }));
    remove.disabled = fields.length <= POLL_OPTIONS_MIN;
  });
  $("poll-add-option").disabled = fields.length >= POLL_OPTIONS_MAX;
}

function resetPollForm() {
  $("poll-form").reset();
  $("poll-option-list").replaceChildren(...Array.from({ length: POLL_OPTIONS_MIN }, () => pollOptionField()));
  renumberPollOptions();
}

function togglePollForm(open) {
  $("poll-form").hidden = !open;
  $("poll-new").setAttribute("aria-expanded", String(open));
  if (open) {
    $("poll-form-status").textContent = "";
    $("poll-question").focus();
  }
}

function onPollFormClick(clickEvent) {
  const remove = clickEvent.target.closest("button.poll-option-remove");
  if (!remove || remove.disabled) return;
  const field = remove.closest("li");
  const next = field.nextElementSibling ?? field.previousElementSibling;
  field.remove();
  renumberPollOptions();
  next?.querySelector("input")?.focus();
}

function onPollAddOption() {
  if ($("poll-option-list").children.length >= POLL_OPTIONS_MAX) return;
  const field = pollOptionField();
  $("poll-option-list").append(field);
  renumberPollOptions();
  field.querySelector("input").focus();
}

function onPollCreate(submitEvent) {
  submitEvent.preventDefault();
  const button = $("poll-create-submit");
  if (isBusy(button) || !state.room) return;
  const question = $("poll-question").value.trim();
  const options = [...$("poll-option-list").querySelectorAll("input")]
    .map((input) => input.value.trim())
    .filter(Boolean);
  const status = $("poll-form-status");
  if (!question) {
    status.textContent = t("polls.needQuestion");
    $("poll-question").focus();
    return;
  }
  if (options.length < POLL_OPTIONS_MIN) {
    status.textContent = t("polls.needOptions", { count: POLL_OPTIONS_MIN });
    return;
  }
  const multiple = $("poll-multiple").checked;
  busy(button, connection.request({ type: "create_poll", room: state.room, question, options, multiple })).then(
    (ack) => {
      resetPollForm();
      togglePollForm(false);
      status.textContent = t("polls.created");
      const item = $("poll-list").querySelector(`li[data-poll-id="${CSS.escape(String(ack.id))}"]`);
      (item?.querySelector("button[data-poll-action]") ?? $("poll-new")).focus();
    },
    showError,
  );
}

// ---------------------------------------------------------------------------------------------
// Moderator console: pending questions of every room, live

function renderConsole() {
  const container = $("console-rooms");
  const ids = [...state.rooms.keys()].filter((id) => isStaff(id));
  const present = new Map([...container.children].map((section) => [section.dataset.room, section]));
  for (const [index, id] of ids.entries()) {
    let section = present.get(id);
    if (!section) {
      const room = state.rooms.get(id);
      const headingId = `console-room-${id}`;
      section = el("section", { class: "console-room card", dataset: { room: id }, "aria-labelledby": headingId },
        el("div", { class: "programme-room-header" },
          el("div", {},
            el("h3", { id: headingId, tabindex: "-1", text: room.name }),
            el("p", { class: "console-room-count muted", role: "status" })),
          el("button", { type: "button", class: "secondary small", dataset: { goRoom: id }, text: t("console.enter", { room: room.name }) })),
        el("ol", { class: "console-questions", "aria-labelledby": headingId, "aria-live": "polite" }),
        el("p", { class: "console-empty muted" }));
    }
    if (container.children[index] !== section) container.insertBefore(section, container.children[index] ?? null);
    present.delete(id);
    renderConsoleRoom(id);
  }
  for (const stale of present.values()) stale.remove();
}

function consoleQuestionItem(question) {
  const session = state.sessions.get(question.session);
  const textId = `console-question-${question.id}`;
  return el("li", { class: "question console-question", dataset: { questionId: question.id, status: question.status } },
    el("p", { class: "question-body" },
      el("span", { class: "question-number", text: t("qa.number", { id: question.id }) }),
      " ",
      el("span", { class: "question-text", id: textId, text: String(question.text ?? "") })),
    el("p", { class: "question-meta" },
      el("span", { class: "question-author", text: questionAuthor(question) }),
      " · ",
      el("span", { class: "console-session", text: session?.title ?? question.session }),
      " · ",
      el("span", { text: clockOf(question.at) })),
    el("div", { class: "question-actions" },
      ["approve", "reject"].map((action) => el("button", {
        type: "button", class: action === "approve" ? "small" : "secondary small",
        dataset: { action, focusKey: action }, "aria-describedby": textId, text: t(`action.${action}`),
      }))));
}

function consolePending() {
  let total = 0;
  let rooms = 0;
  for (const data of state.data.values()) {
    const pending = [...data.questions.values()].filter((question) => question.status === "pending").length;
    total += pending;
    if (pending) rooms += 1;
  }
  return { total, rooms };
}

function renderConsoleRoom(id) {
  const section = $("console-rooms").querySelector(`section[data-room="${CSS.escape(id)}"]`);
  if (!section) return;
  const data = roomData(id);
  const pending = data
    ? [...data.questions.values()].filter((question) => question.status === "pending")
      .sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || a.id - b.id)
    : [];
  reconcile(section.querySelector(".console-questions"), pending.map((question) => ({
    key: question.id,
    signature: JSON.stringify([question, state.user?.id]),
    build: () => consoleQuestionItem(question),
  })), section.querySelector("h3"));
  section.dataset.pending = String(pending.length);
  const count = section.querySelector(".console-room-count");
  const countText = data?.ready ? t("console.waiting", { count: pending.length }) : t("room.joining");
  if (count.textContent !== countText) count.textContent = countText;
  const empty = section.querySelector(".console-empty");
  empty.hidden = pending.length > 0 || !data?.ready;
  empty.textContent = t("console.nothing");
  const { total, rooms } = consolePending();
  const summary = total ? t("console.summary", { count: total, rooms }) : t("console.summaryNone");
  if ($("console-summary").textContent !== summary) $("console-summary").textContent = summary;
}

function onConsoleClick(clickEvent) {
  const button = clickEvent.target.closest("button");
  if (!button || isBusy(button)) return;
  if (button.dataset.goRoom) {
    navigate("room", button.dataset.goRoom);
    return;
  }
  const id = Number(button.closest("li")?.dataset.questionId);
  if (!button.dataset.action || !Number.isFinite(id)) return;
  busy(button, connection.request({ type: "moderate", question: id, action: button.dataset.action }))
    .catch(showError);
}

// ---------------------------------------------------------------------------------------------
// A host's rooms side by side: every workshop room, joined and live

function renderOverview() {
  const grid = $("rooms-overview-grid");
  const ids = [...state.rooms.values()]
    .filter((room) => room.kind === "workshop" && isStaff(room.id))
    .map((room) => room.id);
  const present = new Map([...grid.children].map((card) => [card.dataset.room, card]));
  for (const [index, id] of ids.entries()) {
    let card = present.get(id);
    if (!card) {
      const room = state.rooms.get(id);
      const headingId = `overview-room-${id}`;
      card = el("section", { class: "overview-room card", dataset: { room: id }, "aria-labelledby": headingId },
        el("h3", { id: headingId, text: room.name }),
        el("div", { class: "overview-body" }),
        el("button", { type: "button", dataset: { goRoom: id }, text: t("overview.go", { room: room.name }) }));
    }
    if (grid.children[index] !== card) grid.insertBefore(card, grid.children[index] ?? null);
    present.delete(id);
    renderOverviewRoom(id);
  }
  for (const stale of present.values()) stale.remove();
  if (!ids.length) grid.replaceChildren(el("p", { class: "muted", text: t("overview.none") }));
}

function renderOverviewRoom(id) {
  const card = $("rooms-overview-grid").querySelector(`section[data-room="${CSS.escape(id)}"]`);
  if (!card) return;
  const data = roomData(id);
  const body = card.querySelector(".overview-body");
  if (!data?.ready) {
    body.replaceChildren(el("p", { class: "muted", text: t("room.joining") }));
    return;
  }
  const current = timeline(id).current;
  const pending = [...data.questions.values()].filter((question) => question.status === "pending").length;
  const lines = [...data.chat.values()].slice(-OVERVIEW_CHAT_LINES);
  const people = data.presence?.people ?? [];
  body.replaceChildren(
    current ? el("p", { class: "overview-session" }, badge(current.phase), " ", current.session.title) : null,
    el("dl", { class: "overview-facts" },
      el("dt", { text: t("overview.people") }),
      el("dd", { class: "overview-presence" },
        data.presence ? t("presence.here", { count: data.presence.count }) : t("overview.unknown"),
        people.length ? el("span", { class: "muted overview-names", text: ` (${listFormat(people.map((person) => person.name))})` }) : null),
      el("dt", { text: t("overview.hands") }),
      el("dd", { class: "overview-hands", dataset: { count: data.hands.length } },
        t("overview.handsCount", { count: data.hands.length }),
        data.hands.length ? el("span", { class: "muted", text: ` (${listFormat(data.hands.map((hand) => hand.user.name))})` }) : null),
      el("dt", { text: t("overview.pending") }),
      el("dd", { class: "overview-pending", dataset: { count: pending }, text: t("console.waiting", { count: pending }) })),
    el("h4", { class: "overview-chat-heading", text: t("overview.chat") }),
    lines.length
      ? el("ol", { class: "overview-chat" }, lines.map((message) => el("li", {},
        el("span", { class: "chat-author", text: message.author?.name ?? "" }),
        ": ",
        el("span", { class: "overview-chat-text", text: excerpt(message.text, 120) }))))
      : el("p", { class: "muted", text: t("chat.empty") }));
}

function onOverviewClick(clickEvent) {
  const button = clickEvent.target.closest("button[data-go-room]");
  if (button) navigate("room", button.dataset.goRoom);
}

// ---------------------------------------------------------------------------------------------
// My agenda: a bookmark button on every programme session, a registration button on workshop
// sessions, the calendar link, and the reminders and promotions the server sends. Added to the
// programme after it is drawn (`decorateProgramme`), so the programme's own rendering is
// untouched.

async function loadAgenda() {
  try {
    const agenda = await connection.request({ type: "agenda" });
    state.bookmarks = new Set(agenda.bookmarks ?? []);
    state.registrations = new Map((agenda.registrations ?? []).map((entry) => [entry.session, entry]));
    decorateProgramme();
  } catch (error) {
    console.error("plenary: loading my agenda failed", error);
  }
}

function registrationText(registration) {
  if (registration?.status === "registered") return t("agenda.registered");
  if (registration?.status === "waitlisted") {
    return t("agenda.waitlisted", { position: registration.position ?? "?" });
  }
  return "";
}

function decorateProgramme() {
  for (const item of $("programme-rooms").querySelectorAll("li[data-session]")) {
    const session = state.sessions.get(item.dataset.session);
    item.querySelector(".agenda-actions")?.remove();
    if (!session || !state.user) continue;
    const marked = state.bookmarks.has(session.id);
    const actions = el("div", { class: "agenda-actions" },
      el("button", { type: "button", class: "bookmark", dataset: { bookmark: session.id },
        "aria-pressed": String(marked), text: t(marked ? "agenda.bookmarked" : "agenda.bookmark") }));
    const workshop = state.rooms.get(session.room)?.kind === "workshop";
    if (workshop && !isStaff(session.room) && item.dataset.state !== "ended") {
      const registration = state.registrations.get(session.id);
      actions.append(
        el("button", { type: "button", dataset: { register: session.id, signedUp: String(Boolean(registration)) },
          text: t({ registered: "agenda.unregister", waitlisted: "agenda.leaveWaitlist" }[registration?.status]
            ?? "agenda.register") }),
        el("span", { class: "registration", text: registrationText(registration) }));
    }
    item.append(actions);
  }
  const token = storage(TOKEN_KEY);
  $("agenda-calendar")?.remove();
  if (token && state.user) {
    $("timezone-note").after(el("p", { id: "agenda-calendar" },
      el("a", { href: `/api/me/agenda.ics?token=${encodeURIComponent(token)}`, text: t("agenda.calendar") })));
  }
}

/** Redraw the agenda buttons, keeping focus on the one that was used. */
function redecorate(selector) {
  decorateProgramme();
  $("programme-rooms").querySelector(selector)?.focus();
}

function onAgendaClick(clickEvent) {
  const star = clickEvent.target.closest("button[data-bookmark]");
  if (star && !isBusy(star)) {
    const session = star.dataset.bookmark;
    const on = !state.bookmarks.has(session);
    busy(star, connection.request({ type: on ? "bookmark" : "unbookmark", session }))
      .then(() => {
        if (on) state.bookmarks.add(session);
        else state.bookmarks.delete(session);
        redecorate(`button[data-bookmark="${CSS.escape(session)}"]`);
      })
      .catch(showError);
    return;
  }
  const register = clickEvent.target.closest("button[data-register]");
  if (register && !isBusy(register)) {
    const session = register.dataset.register;
    const type = register.dataset.signedUp === "true" ? "unregister" : "register";
    busy(register, connection.request({ type, session }))
      .then(() => redecorate(`button[data-register="${CSS.escape(session)}"]`))
      .catch(showError);
  }
}

function onRegistration({ session, status, position, promoted }) {
  if (status === "unregistered") state.registrations.delete(session);
  else state.registrations.set(session, { session, status, position });
  decorateProgramme();
  if (promoted) {
    showNotice(t("agenda.promoted", { title: state.sessions.get(session)?.title ?? session }));
  }
}

function onReminder({ session, minutes }) {
  const title = state.sessions.get(session)?.title ?? session;
  showNotice(t("agenda.reminder", { title, count: minutes }));
}

// ---------------------------------------------------------------------------------------------
// Start

function bindInterface() {
  $("join-form").addEventListener("submit", onJoinSubmit);
  $("name").addEventListener("input", (inputEvent) => inputEvent.target.setCustomValidity(""));
  $("programme-rooms").addEventListener("click", (clickEvent) => {
    const button = clickEvent.target.closest("button[data-enter-room]");
    if (button) navigate("room", button.dataset.enterRoom);
  });
  $("zone-switch").addEventListener("change", onZoneChange);
  for (const [id, key] of [["filter-track", "track"], ["filter-kind", "kind"]]) {
    $(id).addEventListener("change", (changeEvent) => {
      state.show[key] = changeEvent.target.value;
      renderProgramme();
    });
  }
  $("programme-days").addEventListener("click", (clickEvent) => {
    const button = clickEvent.target.closest("button[data-day]");
    if (!button) return;
    state.show.day = button.dataset.day;
    renderProgramme();
  });
  $("programme-rooms").addEventListener("click", onAgendaClick);
  $("open-console").addEventListener("click", () => navigate("console"));
  $("open-rooms-overview").addEventListener("click", () => navigate("overview"));
  for (const id of ["back-to-programme", "console-back", "rooms-overview-back"]) {
    $(id).addEventListener("click", onBack);
  }
  $("session-select").addEventListener("change", (changeEvent) => selectSession(changeEvent.target.value, true));

  $("reaction-buttons").addEventListener("click", onReactionClick);
  $("hand-toggle").addEventListener("click", onHandToggle);
  $("hands-queue").addEventListener("click", onHandsClick);
  $("hands-clear").addEventListener("click", onHandsClear);

  $("chat-form").addEventListener("submit", onChatSubmit);
  $("chat-log").addEventListener("click", onChatClick);
  $("muted-people").addEventListener("click", onMutedPeopleClick);
  $("chat-log").addEventListener("keydown", onChatKeydown);
  $("chat-older").addEventListener("click", onChatOlder);
  $("chat-reply-cancel").addEventListener("click", () => {
    state.replyTo = null;
    renderReply();
    $("chat-input").focus();
  });

  $("ask-form").addEventListener("submit", onAskSubmit);
  $("ask-input").addEventListener("keydown", (keyEvent) => {
    if (keyEvent.key === "Enter" && (keyEvent.ctrlKey || keyEvent.metaKey)) {
      keyEvent.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  $("questions").addEventListener("click", onQuestionsClick);
  $("questions").addEventListener("submit", onQuestionsSubmit);
  $("questions").addEventListener("input", onQuestionsInput);
  $("questions").addEventListener("change", onQuestionsInput);
  $("questions").addEventListener("keydown", (keyEvent) => {
    if (keyEvent.key === "Escape" && state.editing && keyEvent.target.closest(".question-editor")) {
      const { id, mode } = state.editing;
      state.editing = null;
      renderQuestions();
      $("questions").querySelector(`li[data-question-id="${id}"] [data-action="${mode}"]`)?.focus();
    }
  });
  $("question-filter").addEventListener("change", (changeEvent) => {
    state.filter = changeEvent.target.value;
    renderQuestions();
  });
  $("qa-sort").addEventListener("change", (changeEvent) => {
    state.sort = changeEvent.target.value;
    renderQuestions();
  });
  $("qa-toggle").addEventListener("click", onQaToggle);
  $("moderation-log-open").addEventListener("click", openModerationLog);
  $("moderation-log-refresh").addEventListener("click", openModerationLog);
  $("moderation-log-close").addEventListener("click", () => closeModerationLog(true));
  $("moderation-log-export").addEventListener("click", exportModerationLog);

  $("poll-new").addEventListener("click", () => togglePollForm($("poll-form").hidden));
  $("poll-cancel").addEventListener("click", () => {
    resetPollForm();
    togglePollForm(false);
    $("poll-new").focus();
  });
  $("poll-form").addEventListener("submit", onPollCreate);
  $("poll-option-list").addEventListener("click", onPollFormClick);
  $("poll-add-option").addEventListener("click", onPollAddOption);
  $("poll-list").addEventListener("click", onPollListClick);
  $("poll-list").addEventListener("submit", onPollVote);

  $("console-rooms").addEventListener("click", onConsoleClick);
  $("rooms-overview-grid").addEventListener("click", onOverviewClick);

  $("notice-dismiss").addEventListener("click", () => showNotice(""));
  $("go-live").addEventListener("click", goLive);
  $("stop-live").addEventListener("click", stopLive);
  $("toggle-mic").addEventListener("click", (clickEvent) =>
    toggleMedia("audio", clickEvent.target, "stage.mute", "stage.unmute"));
  $("toggle-camera").addEventListener("click", (clickEvent) =>
    toggleMedia("video", clickEvent.target, "stage.cameraOff", "stage.cameraOn"));
  $("share-screen").addEventListener("click", shareScreen);
  $("move-go").addEventListener("click", moveLive);
  $("audio-only").addEventListener("change", (changeEvent) =>
    media.setOptions({ audioOnly: changeEvent.target.checked }));
  $("slides-only").addEventListener("change", (changeEvent) =>
    media.setOptions({ slidesOnly: changeEvent.target.checked }));
  window.addEventListener("popstate", route);

  connection.on("status", renderStatus);
  connection.on("welcome", onWelcome);
  connection.on("unauthorized", onUnauthorized);
  connection.on("snapshot", onSnapshot);
  connection.on("joined", onJoined);
  connection.on("event", onRoomEvent);
  connection.on("room-error", onRoomError);
  connection.on("removed", onRemoved);
  connection.on("reactions", onReactions);
  connection.on("presence", onPresence);
  connection.on("hands", onHands);
  connection.on("registration", onRegistration);
  connection.on("reminder", onReminder);
  connection.on("error", showError);
}

translatePage();
renderReactionButtons();
resetPollForm();
bindInterface();
showNotice("");
renderStatus({ state: "idle" });
startIdentity();
loadSchedule();
setInterval(refreshClock, BADGE_REFRESH_MS);
