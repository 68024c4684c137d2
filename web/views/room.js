// The entered room's frame: its title and kind, the session on now, who is here, the reaction
// buttons and their floating emoji, a workshop room's raised hands (and for staff, bringing
// people from the hands or the people list on stage and taking them off), and on a narrow
// screen the tabs that show one of chat, questions and polls at a time under the stage.
//
// The layout (`style.css`, "room layout"): the stage's picture comes first. From `WIDE` up the
// room is two columns, the stage with its controls and the session beside chat, questions and
// polls; below it one column, the picture sticky at the top, its controls under it, then the
// tabs.

import { t } from "../i18n.js";
import { $, el, busy, isBusy, reconcile } from "../dom.js";
import { state, connection, roomData, isStaff, isMe, isEntered, on } from "../context.js";
import { timeline } from "../state.js";
import { showError } from "../notice.js";
import { clockOf, listFormat, roomMeta, sessionDetails } from "./common.js";

/** The reactions the server accepts (protocol `REACTIONS`), with their names in i18n. */
const REACTIONS = [
  ["👏", "applause"], ["❤️", "love"], ["😂", "laughter"],
  ["🎉", "celebrate"], ["🤔", "thinking"], ["👍", "thumbsUp"],
];
const REACTION_LANES = 8;
const REACTION_FLOATERS_MAX = 30;
const REACTION_SUMMARY_MS = 5_000;

/**
 * From this width chat, questions and polls stand beside the stage, all shown; below it they
 * are tabs. `style.css` uses the same width (62.5rem) for the two-column layout.
 */
const WIDE = typeof matchMedia === "function" ? matchMedia("(min-width: 62.5rem)") : { matches: true };

const reducedMotion = typeof matchMedia === "function"
  ? matchMedia("(prefers-reduced-motion: reduce)")
  : { matches: true };

function renderRoom() {
  const room = state.rooms.get(state.room);
  const data = roomData();
  $("room-title").textContent = room.name;
  $("room-meta").textContent = roomMeta(room);
  $("room-joining").textContent = data.ready ? "" : t("room.joining");
  $("reactions").hidden = room.kind !== "stage";
  $("hand").hidden = room.kind !== "workshop";
  $("reactions-summary").textContent = "";
  $("reactions-float").replaceChildren();
  renderTabs();
  renderRoomSession();
  renderPresence();
  renderHands();
}

function renderRoomSession() {
  const panel = $("room-session");
  const { current } = timeline(state, state.room);
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
  const staff = isStaff();
  const entries = (people ?? []).map((person) => ({
    key: person.id,
    signature: JSON.stringify([person, staff && onStage(person)]),
    build: () => el("li", { class: isMe(person) ? "person own" : "person" },
      el("span", { class: "person-name", text: person.name }),
      staff && !isMe(person) ? [" ", stageButton(person)] : null),
  }));
  reconcile($("room-people"), entries, $("room-title"));
}

/** Whether a person is on this room's stage (brought on by a host). */
function onStage(person) {
  return Boolean(roomData()?.onStage.has(person.id));
}

/** Staff's button that brings a person on stage, or takes them off it. */
function stageButton(person) {
  const on = onStage(person);
  return el("button", {
    type: "button", class: "secondary small",
    dataset: { stageUser: person.id, stageAllowed: String(!on), focusKey: "stage" },
    "aria-label": t(on ? "stage.takeOffFor" : "stage.inviteFor", { name: person.name }),
    text: t(on ? "stage.takeOff" : "stage.invite"),
  });
}

/**
 * Bring a person on stage or take them off (`grant_stage`); brought on from the raised hands,
 * their hand is lowered too.
 */
function onStageClick(clickEvent) {
  const button = clickEvent.target.closest("button[data-stage-user]");
  if (!button || isBusy(button) || !state.room) return;
  const room = state.room;
  const user = button.dataset.stageUser;
  const allowed = button.dataset.stageAllowed === "true";
  const fromHands = Boolean(button.closest("#hands-queue"));
  const granted = connection.request({ type: "grant_stage", room, user, allowed });
  busy(button, granted).then(() => {
    if (allowed && fromHands) {
      return connection.request({ type: "clear_hands", room, user });
    }
    return null;
  }).catch(showError);
}

/**
 * Whether this device draws emoji in colour. Where it has no colour-emoji font (a bare headless
 * browser, some Linux desktops) they come out as empty boxes, and the reactions show their names
 * instead (`:root[data-emoji="none"]` in `style.css`): a font for them would outweigh the client.
 */
function drawsColourEmoji() {
  const size = 24;
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  if (!context) return true; // cannot tell: trust the device
  context.font = `${size - 4}px "Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji", sans-serif`;
  context.textBaseline = "top";
  context.fillStyle = "#000";
  context.fillText(REACTIONS[0][0], 0, 0);
  const { data } = context.getImageData(0, 0, size, size);
  // Text drawn in black stays grey; a colour glyph has pixels whose channels differ.
  for (let index = 0; index < data.length; index += 4) {
    if (data[index + 3] && (data[index] !== data[index + 1] || data[index + 1] !== data[index + 2])) return true;
  }
  return false;
}

/** How a reaction reads on this device: its emoji, or its name where emoji are boxes. */
function reactionText(emoji) {
  const known = REACTIONS.find(([candidate]) => candidate === emoji);
  return known && document.documentElement.dataset.emoji === "none" ? t(`reactionLabel.${known[1]}`) : emoji;
}

function renderReactionButtons() {
  $("reaction-buttons").replaceChildren(...REACTIONS.map(([emoji, name]) => el("button", {
    type: "button", class: "reaction secondary", dataset: { emoji },
    "aria-label": t("reactions.send", { name: t(`reaction.${name}`) }), title: t(`reactionLabel.${name}`),
  },
  el("span", { class: "reaction-emoji", "aria-hidden": "true", text: emoji }),
  el("span", { class: "reaction-name", "aria-hidden": "true", text: t(`reactionLabel.${name}`) }))));
}

function onReactionClick(clickEvent) {
  const button = clickEvent.target.closest("button[data-emoji]");
  if (!button || !state.room) return;
  connection.request({ type: "react", room: state.room, emoji: button.dataset.emoji }).catch(showError);
}

let reactionsTimer = null;

/** The reaction totals of the last interval (`reactions`, outside the event log). */
export function onReactions({ room, counts }) {
  if (state.view !== "room" || room !== state.room) return;
  const entries = Object.entries(counts ?? {}).filter(([, count]) => Number(count) > 0);
  if (!entries.length) return;
  $("reactions-summary").textContent = listFormat(entries.map(([emoji, count]) => `${count} ${reactionText(emoji)}`));
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
        text: reactionText(emoji),
      });
      floater.addEventListener("animationend", () => floater.remove());
      setTimeout(() => floater.remove(), 4_000); // in case the animation never runs
      stage.append(floater);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Chat, questions and polls: beside the stage on a wide screen, tabs under it on a narrow one

/** The panel shown on a narrow screen: chat | qa | polls (the ids of the panels). */
let selectedTab = "chat";

function tabs() {
  return [...$("room-tabs").querySelectorAll("[role=tab]")];
}

/** Show the tabs and one panel on a narrow screen, every panel (and no tabs) on a wide one. */
function renderTabs() {
  const narrow = !WIDE.matches;
  $("room-tabs").hidden = !narrow;
  for (const tab of tabs()) {
    const selected = tab.dataset.panel === selectedTab;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    const panel = $(tab.dataset.panel);
    panel.hidden = narrow && !selected;
    panel.querySelector("h3").classList.toggle("sr-only", narrow); // the tab names it
    if (narrow) {
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", tab.id);
    } else {
      panel.removeAttribute("role");
      panel.setAttribute("aria-labelledby", `${tab.dataset.panel}-heading`);
    }
  }
}

function selectTab(panel, focus) {
  selectedTab = panel;
  renderTabs();
  if (focus) $(`tab-${panel}`).focus();
}

/** The tablist's keys (WAI-ARIA tabs, selection follows focus): arrows, Home and End. */
function onTabKey(keyEvent) {
  const all = tabs();
  const at = all.findIndex((tab) => tab.dataset.panel === selectedTab);
  const to = {
    ArrowRight: (at + 1) % all.length,
    ArrowLeft: (at - 1 + all.length) % all.length,
    Home: 0,
    End: all.length - 1,
  }[keyEvent.key];
  if (to === undefined) return;
  keyEvent.preventDefault();
  selectTab(all[to].dataset.panel, true);
}

function renderHands() {
  const data = roomData();
  if (!data) return;
  const staff = isStaff();
  const toggle = $("hand-toggle");
  // Staff are the ones hands are raised to: they have none of their own.
  toggle.hidden = staff;
  toggle.setAttribute("aria-pressed", String(data.handRaised));
  toggle.textContent = t(data.handRaised ? "hand.lower" : "hand.raise");
  $("hands-panel").hidden = !staff;
  if (!staff) return;
  const entries = data.hands.map((hand) => ({
    key: hand.user.id,
    signature: JSON.stringify([hand, onStage(hand.user)]),
    build: () => el("li", { class: "hand-entry" },
      el("span", { class: "hand-name", text: hand.user.name }),
      " ",
      el("span", { class: "muted", text: t("hand.raisedAt", { time: clockOf(hand.at) }) }),
      " ",
      stageButton(hand.user),
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

export function init() {
  document.documentElement.dataset.emoji = drawsColourEmoji() ? "colour" : "none";
  renderReactionButtons();
  $("room-tabs").addEventListener("click", (clickEvent) => {
    const tab = clickEvent.target.closest("[role=tab]");
    if (tab) selectTab(tab.dataset.panel, false);
  });
  $("room-tabs").addEventListener("keydown", onTabKey);
  WIDE.addEventListener?.("change", renderTabs);
  $("reaction-buttons").addEventListener("click", onReactionClick);
  $("hand-toggle").addEventListener("click", onHandToggle);
  $("hands-queue").addEventListener("click", onHandsClick);
  $("hands-queue").addEventListener("click", onStageClick);
  $("room-people").addEventListener("click", onStageClick);
  $("hands-clear").addEventListener("click", onHandsClear);

  on("render", renderRoom);
  on("room", (room) => {
    if (isEntered(room)) $("room-joining").textContent = "";
  });
  on("presence", (room) => {
    if (isEntered(room)) renderPresence();
  });
  on("hands", (room) => {
    if (isEntered(room)) renderHands();
  });
  on("stage", (room) => {
    if (!isEntered(room)) return;
    renderPresence();
    renderHands();
  });
  on("zone", () => {
    if (state.view !== "room" || !state.room) return;
    delete $("room-session").dataset.currentSession;
    renderRoomSession();
  });
  on("clock", () => {
    if (state.view === "room" && state.room) renderRoomSession();
  });
}
