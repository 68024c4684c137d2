// Plenary's browser client, started here: who the person is (the invite link, the name they
// give, the personal token the server hands back), what is shown (the URL's hash), which rooms
// are joined, and the connection's frames turned into state (`state.js`'s reducers) and
// handed to the views that subscribe to them (`context.js`).
//
// The views: the programme and my agenda, the entered room (its frame, chat, Q&A, polls and
// stage), and for staff the moderator console and a host's rooms side by side, loaded with
// `import()` only when shown. Text from the server (names, chat, questions, titles) is only
// ever put in the page with textContent, never as HTML.

import { t, translatePage } from "./i18n.js";
import { $, storage } from "./dom.js";
import {
  state, connection, media, roomData, isStaff, emit, on, publish, TOKEN_KEY,
} from "./context.js";
import {
  applyEvent, applyHands, applyJoinRefused, applyPresence, applyRemoved, applySnapshot,
  applyWelcome, newRoomData, wantedRooms,
} from "./state.js";
import { renderStatus, showError, showNotice } from "./notice.js";
import { roomName } from "./views/common.js";
import * as programme from "./views/programme.js";
import * as agenda from "./views/agenda.js";
import * as roomView from "./views/room.js";
import * as qa from "./views/qa.js";
import * as chat from "./views/chat.js";
import * as chatModeration from "./views/chat-moderation.js";
import * as polls from "./views/polls.js";
import * as stage from "./views/stage.js";

const INVITE_KEY = "plenary.invite";
const NAME_KEY = "plenary.name";
const BADGE_REFRESH_MS = 30_000;

/** The invite token of the link this browser came with, if any. */
let invite = null;

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
    invite = urlToken;
  } else {
    invite = storedInvite || null;
  }
  const personal = storage(TOKEN_KEY);
  if (personal) connection.start({ token: personal });
  else showJoinForm();
}

function showJoinForm() {
  const join = $("join");
  $("join-intro").textContent = t(invite ? "join.introInvite" : "join.introGuest");
  const input = $("name");
  if (!input.value) input.value = storage(NAME_KEY) ?? "";
  join.querySelector("button[type=submit]").disabled = false;
  const wasHidden = join.hidden;
  join.hidden = false;
  if (wasHidden) input.focus();
}

/** This conference admits no guests: say what to do without an invite, and ask no name. */
function showInviteOnly() {
  $("join-heading").textContent = t("join.inviteOnlyHeading");
  $("join-intro").textContent = t("join.inviteOnly");
  $("join-form").hidden = true;
  $("join").hidden = false;
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
  connection.start(invite ? { token: invite, name } : { name });
}

function onWelcome({ user, token, iceServers, rooms }) {
  media.setIceServers(iceServers);
  const { firstTime, roleChanged } = applyWelcome(state, { user, rooms });
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
  stage.renderPublishControls();
  if (firstTime) route(); // a staff view in the URL waited for the person
  if (roleChanged) renderView();
  agenda.loadAgenda();
}

function onUnauthorized({ credentials, code }) {
  state.user = null;
  $("user").hidden = true;
  $("staff-nav").hidden = true;
  // Whoever says hello next may be someone else: rooms start over from a snapshot.
  connection.forgetSeqs();
  if (code === "invite_required") {
    showInviteOnly();
    return;
  }
  if (credentials.token && credentials.token === storage(TOKEN_KEY)) {
    // The personal token is no longer good: forget it, and start over from the invite or name.
    storage(TOKEN_KEY, null);
    showNotice(t("error.tokenInvalid"));
  } else if (credentials.token && credentials.token === invite) {
    invite = null;
    showNotice(t("error.inviteInvalid"));
  } else {
    showNotice(t("error.unauthorized"));
  }
  showJoinForm();
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
      } else {
        showStaffView(target.view);
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
  stage.renderLiveBanner();
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
    case "overview":
      staffViews.get(state.view)?.render();
      break;
    default:
      break;
  }
}

/**
 * Join the rooms wanted (the entered one, the watched ones, and the one this person is live
 * in: a broadcast goes on while its host looks around), leave the rest.
 */
function syncJoins() {
  if (media.watching && media.watching.room !== state.room) media.stopWatching();
  const wanted = wantedRooms(state, media.publishing?.room ?? null);
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

/** The staff views, once loaded and started: console | overview -> its module. */
const staffViews = new Map();

/** Load a staff view's module the first time it is shown. */
async function loadStaffView(name) {
  if (!staffViews.has(name)) {
    const view = name === "console"
      ? await import("./views/console.js")
      : await import("./views/overview.js");
    if (!staffViews.has(name)) {
      view.init();
      staffViews.set(name, view);
    }
  }
  return staffViews.get(name);
}

/** Show the moderator console or a host's rooms: every room it watches stays joined. */
async function showStaffView(name) {
  let view;
  try {
    view = await loadStaffView(name);
  } catch (error) {
    console.error(`plenary: loading the ${name} failed`, error);
    showError({ code: "offline" });
    return;
  }
  // Meanwhile the person may have gone elsewhere.
  if (parseHash()?.view !== name) return;
  state.room = null;
  for (const room of view.rooms()) state.watching.add(room);
  syncJoins();
  const wasShown = state.view === name;
  showView(name);
  view.render();
  if (!wasShown) $(view.heading).focus();
}

function enterRoom(roomId) {
  if (state.view === "room" && state.room === roomId) return;
  state.room = roomId;
  emit("enter", roomId);
  syncJoins();
  showView("room");
  renderRoom();
  // A room joined already (watched from the console or overview) plays at once; a new one
  // plays when it is joined (`stage.onJoined`).
  stage.enterStage(roomId);
  $("room-title").focus();
}

/** Draw everything shown for the entered room. */
function renderRoom() {
  if (!state.rooms.get(state.room) || !roomData()) return;
  emit("render", state.room);
}

function onBack() {
  // Came here from the programme: going back keeps the history tidy.
  if (history.state?.from === "programme" && history.state.view === state.view) history.back();
  else navigate("programme");
}

// ---------------------------------------------------------------------------------------------
// Rooms: the connection's frames, through the reducers, to the views

function onSnapshot({ room, snapshot }) {
  publish(room, applySnapshot(state, room, snapshot));
}

function onRoomEvent({ room, event }) {
  publish(room, applyEvent(state, room, event));
}

function onPresence({ room, count, people }) {
  publish(room, applyPresence(state, room, { count, people }));
}

function onHands({ room, queue }) {
  publish(room, applyHands(state, room, queue));
}

function onRoomError({ room, code, message }) {
  if (!applyJoinRefused(state, room)) return; // the connection already forgot it
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
  // The connection already forgot it, and will not join it again.
  applyRemoved(state, room);
  showNotice(t("room.removed", { room: roomName(room) }));
  if (state.view === "room" && state.room === room) {
    state.room = null;
    replaceWithProgramme();
    $("programme-heading").focus();
  } else {
    renderView();
  }
}

// ---------------------------------------------------------------------------------------------
// Start

function bindInterface() {
  $("join-form").addEventListener("submit", onJoinSubmit);
  $("name").addEventListener("input", (inputEvent) => inputEvent.target.setCustomValidity(""));
  $("open-console").addEventListener("click", () => navigate("console"));
  $("open-rooms-overview").addEventListener("click", () => navigate("overview"));
  for (const id of ["back-to-programme", "console-back", "rooms-overview-back"]) {
    $(id).addEventListener("click", onBack);
  }
  $("notice-dismiss").addEventListener("click", () => showNotice(""));
  window.addEventListener("popstate", route);

  on("navigate", navigate);
  on("sync-joins", syncJoins);
  on("schedule", route);

  connection.on("status", renderStatus);
  connection.on("welcome", onWelcome);
  connection.on("unauthorized", onUnauthorized);
  connection.on("snapshot", onSnapshot);
  connection.on("joined", stage.onJoined);
  connection.on("event", onRoomEvent);
  connection.on("room-error", onRoomError);
  connection.on("removed", onRemoved);
  connection.on("reactions", roomView.onReactions);
  connection.on("presence", onPresence);
  connection.on("hands", onHands);
  connection.on("registration", agenda.onRegistration);
  connection.on("reminder", agenda.onReminder);
  connection.on("error", showError);
}

translatePage();
for (const view of [programme, agenda, roomView, qa, chat, chatModeration, polls, stage]) view.init();
bindInterface();
showNotice("");
renderStatus({ state: "idle" });
startIdentity();
programme.loadSchedule();
setInterval(() => emit("clock"), BADGE_REFRESH_MS);
