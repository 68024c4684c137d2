// Plenary's browser client: the programme, the room (chat and Q&A) and who you are.
//
// State lives in `state`; the DOM is rendered from it. Text from the server (names, chat,
// questions, titles) is only ever put in the page with textContent, never as HTML.

import {
  t, has, timeZone, formatStart, formatEnd, formatClock, translatePage,
} from "/i18n.js";
import { Connection } from "/connection.js";
import { Media } from "/media.js";

const STAFF_ROLES = new Set(["moderator", "host", "organiser"]);
const TOKEN_KEY = "plenary.token";
const INVITE_KEY = "plenary.invite";
const NAME_KEY = "plenary.name";
const BADGE_REFRESH_MS = 30_000;
const CHAT_KEEP = 500;

const $ = (id) => document.getElementById(id);

const state = {
  /** The programme from /api/schedule, or null until it is loaded. */
  schedule: null,
  rooms: new Map(),
  sessions: new Map(),
  /** Sessions of each room, sorted by start. */
  sessionsByRoom: new Map(),
  /** The person, from `welcome`. */
  user: null,
  /** The invite token of the link this browser came with, if any. */
  invite: null,
  /** The room entered, or null on the programme. */
  room: null,
  /** Whether the entered room's snapshot has arrived. */
  roomReady: false,
  chat: new Map(),
  questions: new Map(),
  voted: new Set(),
  /** Ids of questions this person asked from this page (for anonymous ones). */
  asked: new Set(),
  /** The session whose Q&A is shown. */
  selectedSession: null,
  /** Whether the person picked the session themselves (else it follows the clock). */
  sessionPicked: false,
  /** Staff's question filter: all | pending | published | rejected. */
  filter: "all",
  /** People brought on stage in the current room. */
  onStage: new Set(),
};

const connection = new Connection();
const media = new Media(connection, { onTracks: renderStage, onError: showError });
// For tests and the curious: decoded frames of the stage video.
window.plenaryMedia = media;

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

function isStaff() {
  return Boolean(state.user && STAFF_ROLES.has(state.user.role));
}

function timeElement(date, text) {
  return el("time", { datetime: date.toISOString().replace(/\.\d{3}Z$/, "Z"), text });
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

function onWelcome({ user, token, iceServers }) {
  const roleChanged = state.user?.role !== user.role;
  state.user = user;
  media.setIceServers(iceServers);
  if (token) storage(TOKEN_KEY, token);
  const join = $("join");
  if (!join.hidden) {
    const hadFocus = join.contains(document.activeElement);
    join.hidden = true;
    if (hadFocus) (state.room ? $("room-title") : $("programme-heading")).focus();
  }
  $("user-name").textContent = user.name;
  const role = $("user-role");
  role.textContent = t(`role.${user.role}`);
  role.dataset.role = user.role;
  $("user").hidden = false;
  document.body.dataset.role = user.role;
  $("moderation").hidden = !isStaff();
  renderPublishControls();
  if (roleChanged && state.room) {
    renderChat();
    renderQuestions();
  }
}

function onUnauthorized({ credentials }) {
  state.user = null;
  $("user").hidden = true;
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
  $("timezone-note").textContent = venue && venue !== timeZone
    ? t("programme.timezone", { zone: timeZone, venue })
    : t("programme.timezoneSame", { zone: timeZone });
  $("programme-loading").hidden = true;
  renderProgramme();
  route();
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
      sessionTimes(session)),
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
  const container = $("programme-rooms");
  container.replaceChildren();
  for (const room of state.rooms.values()) {
    const headingId = `programme-room-${room.id}`;
    const { entries } = timeline(room.id);
    const list = el("ol", { class: "sessions" });
    for (const { session, phase } of entries) {
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
      entries.length ? list : el("p", { class: "muted", text: t("programme.empty") })));
  }
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
  if (state.room) {
    renderRoomSession();
    const current = timeline(state.room).current;
    if (!state.sessionPicked && current && current.session.id !== state.selectedSession
        && !$("ask-input").value) {
      selectSession(current.session.id, false);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Navigation: `#room=ID` is the entered room, so reload and the Back button work.

function roomFromHash() {
  const match = /^#room=(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

function navigate(roomId) {
  const base = location.pathname + location.search;
  if (roomId) history.pushState({ room: roomId }, "", `${base}#room=${encodeURIComponent(roomId)}`);
  else history.pushState(null, "", base);
  route();
}

function route() {
  if (!state.schedule) return;
  const roomId = roomFromHash();
  if (roomId && !state.rooms.has(roomId)) {
    showError({ code: "not_found" });
    history.replaceState(null, "", location.pathname + location.search);
    showProgramme();
    return;
  }
  if (roomId) enterRoom(roomId);
  else showProgramme();
}

function showProgramme() {
  const left = state.room;
  if (left) leaveRoom();
  $("room").hidden = true;
  $("programme").hidden = false;
  if (left) {
    const button = document.querySelector(`[data-enter-room="${CSS.escape(left)}"]`);
    button?.focus();
  }
}

function enterRoom(roomId) {
  if (state.room === roomId) return;
  if (state.room) leaveRoom();
  const room = state.rooms.get(roomId);
  state.room = roomId;
  state.roomReady = false;
  state.chat = new Map();
  state.questions = new Map();
  state.voted = new Set();
  state.sessionPicked = false;
  state.filter = "all";
  $("filter-all").checked = true;

  $("room-title").textContent = room.name;
  $("room-meta").textContent = roomMeta(room);
  $("room-joining").textContent = t("room.joining");
  renderSessionPicker();
  renderRoomSession();
  renderChat();
  renderQuestions();

  $("programme").hidden = true;
  $("room").hidden = false;
  $("room-title").focus();
  connection.join(roomId);
}

function leaveRoom() {
  media.stopWatching();
  if (media.publishing?.room === state.room) stopLive();
  connection.leave(state.room);
  state.room = null;
  state.roomReady = false;
  state.chat = new Map();
  state.questions = new Map();
  state.voted = new Set();
  $("chat-log").replaceChildren();
  $("questions").replaceChildren();
}

function onBack() {
  if (history.state?.room === state.room) history.back();
  else navigate(null);
}

// ---------------------------------------------------------------------------------------------
// Room: the current session and the session picker

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
  const select = $("session-select");
  if (sessionId && select.value !== sessionId) select.value = sessionId;
  const session = sessionId ? state.sessions.get(sessionId) : null;
  $("qa-moderated").hidden = !session?.qa_moderated;
  $("ask-status").textContent = "";
  renderQuestions();
}

// ---------------------------------------------------------------------------------------------
// Room: snapshot and events

function onSnapshot({ room, snapshot }) {
  if (room !== state.room) return;
  state.roomReady = true;
  state.chat = new Map((snapshot.chat ?? []).map((message) => [message.id, message]));
  state.questions = new Map((snapshot.questions ?? []).map((question) => [question.id, question]));
  state.voted = new Set(snapshot.voted ?? []);
  state.onStage = new Set(snapshot.on_stage ?? []);
  media.setTracks(room, snapshot.tracks ?? []);
  renderPublishControls();
  $("room-joining").textContent = "";
  renderChat();
  renderQuestions();
}

function onRoomEvent({ room, event }) {
  if (room !== state.room) return;
  switch (event.kind) {
    case "chat":
      addChat(event);
      break;
    case "chat_removed":
      removeChat(event.id);
      break;
    case "question":
      state.questions.set(event.id, withoutKind(event));
      renderQuestions();
      break;
    case "tracks":
      media.setTracks(room, event.tracks ?? []);
      break;
    case "stage":
      if (event.allowed) state.onStage.add(event.user);
      else state.onStage.delete(event.user);
      if (event.user === state.user?.id) {
        if (!event.allowed) stopLive();
        else showNotice(t("stage.onStage"));
      }
      renderPublishControls();
      break;
    default:
      break; // a kind this client does not know yet
  }
}

function withoutKind(event) {
  const { kind, ...rest } = event;
  return rest;
}

function onRoomError({ room, code, message }) {
  if (room !== state.room) return;
  showError({ code, message });
  state.room = null; // the connection already forgot it
  history.replaceState(null, "", location.pathname + location.search);
  $("room").hidden = true;
  $("programme").hidden = false;
  document.querySelector(`[data-enter-room="${CSS.escape(room)}"]`)?.focus();
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
  connection.join(to);
  try {
    await media.moveTo(to);
    navigate(to);
  } catch (error) {
    connection.leave(to);
    showError(error);
  }
}

// ---------------------------------------------------------------------------------------------
// Chat

function chatItem(message) {
  const own = state.user && message.author?.id === state.user.id;
  const name = message.author?.name ?? "";
  const at = new Date(message.at);
  return el("li", { class: own ? "chat-message own" : "chat-message", dataset: { chatId: message.id } },
    el("span", { class: "chat-meta" },
      el("span", { class: "chat-author", text: name }),
      own ? [" ", el("span", { class: "chat-you", text: t("chat.you") })] : null,
      Number.isNaN(at.getTime()) ? null : [" ", timeElement(at, formatClock(at))]),
    " ",
    el("span", { class: "chat-text", text: String(message.text ?? "") }),
    isStaff() ? el("button", {
      type: "button", class: "remove-chat secondary small",
      "aria-label": t("chat.removeLabel", { name }), text: t("chat.remove"),
    }) : null);
}

function renderChat() {
  const log = $("chat-log");
  log.replaceChildren(...[...state.chat.values()].map(chatItem));
  $("chat-empty").hidden = state.chat.size > 0 || !state.roomReady;
  log.scrollTop = log.scrollHeight;
}

function addChat(event) {
  const message = withoutKind(event);
  if (state.chat.has(message.id)) return;
  state.chat.set(message.id, message);
  const log = $("chat-log");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(chatItem(message));
  while (state.chat.size > CHAT_KEEP) {
    const oldest = state.chat.keys().next().value;
    state.chat.delete(oldest);
    log.querySelector(`li[data-chat-id="${oldest}"]`)?.remove();
  }
  $("chat-empty").hidden = true;
  if (atBottom || message.author?.id === state.user?.id) log.scrollTop = log.scrollHeight;
}

function removeChat(id) {
  state.chat.delete(id);
  const item = $("chat-log").querySelector(`li[data-chat-id="${id}"]`);
  if (!item) return;
  if (item.contains(document.activeElement)) {
    const neighbour = item.nextElementSibling ?? item.previousElementSibling;
    const target = neighbour?.querySelector(".remove-chat") ?? $("chat-input");
    item.remove();
    target.focus();
  } else {
    item.remove();
  }
  $("chat-empty").hidden = state.chat.size > 0;
}

function onChatSubmit(submitEvent) {
  submitEvent.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text || !state.room) return;
  connection.request({ type: "chat", room: state.room, text, client_id: Connection.clientId() }).then(
    () => {
      if (input.value.trim() === text) input.value = "";
    },
    showError,
  );
}

function onChatClick(clickEvent) {
  const button = clickEvent.target.closest("button.remove-chat");
  if (!button || button.getAttribute("aria-disabled") === "true") return;
  const id = Number(button.closest("li").dataset.chatId);
  button.setAttribute("aria-disabled", "true");
  connection.request({ type: "remove_chat", room: state.room, id }).catch((error) => {
    button.removeAttribute("aria-disabled");
    showError(error);
  });
}

// ---------------------------------------------------------------------------------------------
// Q&A

/** The moderation buttons that make sense for a question in its state. */
function actionsFor(question) {
  switch (question.status) {
    case "pending":
      return ["approve", "reject"];
    case "approved":
      return [question.pinned ? "unpin" : "pin", "answered", "reject"];
    case "answered":
      return [question.pinned ? "unpin" : "pin", "reject"];
    case "rejected":
      return ["approve"];
    default:
      return [];
  }
}

function isOwnQuestion(question) {
  return state.asked.has(question.id)
    || Boolean(state.user && question.author?.id === state.user.id);
}

function sessionQuestions() {
  const staff = isStaff();
  return [...state.questions.values()].filter((question) => question.session === state.selectedSession
    && (staff || question.status !== "rejected" || isOwnQuestion(question)));
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

/** Pinned first, then most votes, then oldest. */
function compareQuestions(a, b) {
  if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
  if (a.votes !== b.votes) return b.votes - a.votes;
  const byTime = Date.parse(a.at) - Date.parse(b.at);
  return byTime || a.id - b.id;
}

function questionAuthor(question) {
  if (question.anonymous) {
    return question.author?.name && isStaff()
      ? t("qa.anonymousStaff", { name: question.author.name })
      : t("qa.anonymousAuthor");
  }
  return question.author?.name ?? t("qa.anonymousAuthor");
}

function questionItem(question) {
  const voted = state.voted.has(question.id);
  const votable = question.status === "approved" || question.status === "answered";
  const item = el("li", {
    class: "question",
    tabindex: "-1",
    dataset: { questionId: question.id, status: question.status, pinned: String(Boolean(question.pinned)) },
  },
  el("p", { class: "question-body" }, el("span", { class: "question-text", text: String(question.text ?? "") })),
  el("p", { class: "question-meta" },
    el("span", { class: "question-author", text: questionAuthor(question) }),
    " ",
    question.pinned ? el("span", { class: "badge pinned-badge", text: t("qa.pinned") }) : null,
    " ",
    el("span", { class: "badge status-badge", dataset: { badge: question.status }, text: t(`question.${question.status}`) })),
  el("div", { class: "question-actions" },
    el("span", { class: "vote-count" },
      el("span", { class: "votes", text: String(question.votes ?? 0) }),
      " ",
      el("span", { class: "votes-label", text: t("qa.votes", { count: question.votes ?? 0 }) })),
    el("button", {
      type: "button", class: "vote", disabled: voted || !votable,
      "aria-pressed": voted ? "true" : "false",
      "aria-label": voted ? t("qa.voted") : t("qa.voteLabel", { text: question.text }),
      text: voted ? t("qa.voted") : t("qa.vote"),
    }),
    isStaff() ? actionsFor(question).map((action) => el("button", {
      type: "button", class: "secondary small", dataset: { action }, text: t(`action.${action}`),
    })) : null));
  item.dataset.signature = JSON.stringify([question, voted, isStaff(), state.user?.id]);
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
      const partner = { pin: "unpin", unpin: "pin" }[focusKey.action];
      const buttons = [...item.querySelectorAll("button")];
      const target = [
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
  empty.hidden = shown.length > 0 || !state.roomReady;
  empty.textContent = inSession.length ? t("qa.emptyFilter") : t("qa.empty");
  renderModeration(inSession);
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
  if (!button || button.disabled || button.getAttribute("aria-disabled") === "true") return;
  const id = Number(button.closest("li")?.dataset.questionId);
  if (!Number.isFinite(id)) return;
  if (button.classList.contains("vote")) {
    vote(id);
  } else if (button.dataset.action) {
    // aria-disabled, not disabled: a disabled button loses focus, and focus should stay put
    // until the question's new state arrives and the item is redrawn.
    button.setAttribute("aria-disabled", "true");
    connection.request({ type: "moderate", question: id, action: button.dataset.action }).catch((error) => {
      button.removeAttribute("aria-disabled");
      showError(error);
    });
  }
}

function vote(id) {
  if (state.voted.has(id)) return;
  state.voted.add(id);
  renderQuestions();
  connection.request({ type: "vote", question: id }).catch((error) => {
    if (error.code !== "conflict") {
      state.voted.delete(id);
      renderQuestions();
    }
    showError(error);
  });
}

// ---------------------------------------------------------------------------------------------
// Start

function bindInterface() {
  $("join-form").addEventListener("submit", onJoinSubmit);
  $("name").addEventListener("input", (inputEvent) => inputEvent.target.setCustomValidity(""));
  $("programme-rooms").addEventListener("click", (clickEvent) => {
    const button = clickEvent.target.closest("button[data-enter-room]");
    if (button) navigate(button.dataset.enterRoom);
  });
  $("back-to-programme").addEventListener("click", onBack);
  $("session-select").addEventListener("change", (changeEvent) => selectSession(changeEvent.target.value, true));
  $("chat-form").addEventListener("submit", onChatSubmit);
  $("chat-log").addEventListener("click", onChatClick);
  $("ask-form").addEventListener("submit", onAskSubmit);
  $("ask-input").addEventListener("keydown", (keyEvent) => {
    if (keyEvent.key === "Enter" && (keyEvent.ctrlKey || keyEvent.metaKey)) {
      keyEvent.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  $("questions").addEventListener("click", onQuestionsClick);
  $("question-filter").addEventListener("change", (changeEvent) => {
    state.filter = changeEvent.target.value;
    renderQuestions();
  });
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
  connection.on("error", showError);
}

translatePage();
bindInterface();
showNotice("");
renderStatus({ state: "idle" });
startIdentity();
loadSchedule();
setInterval(refreshClock, BADGE_REFRESH_MS);
