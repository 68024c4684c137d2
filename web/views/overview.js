// A host's rooms side by side, for staff only (loaded with `import()` when needed): every
// workshop room they run, joined and live, with its session, people, hands, waiting
// questions and last chat lines.

import { t } from "../i18n.js";
import { $, el } from "../dom.js";
import { state, roomData, isStaff, emit, on } from "../context.js";
import { timeline } from "../state.js";
import { badge, excerpt, listFormat } from "./common.js";

const OVERVIEW_CHAT_LINES = 3;

/** The heading focused when the overview is shown. */
export const heading = "rooms-overview-heading";

/** The rooms the overview keeps joined: the workshop rooms this person runs. */
export function rooms() {
  return [...state.rooms.values()]
    .filter((room) => room.kind === "workshop" && isStaff(room.id))
    .map((room) => room.id);
}

export function render() {
  const grid = $("rooms-overview-grid");
  const ids = rooms();
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
  const current = timeline(state, id).current;
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
  if (button) emit("navigate", "room", button.dataset.goRoom);
}

export function init() {
  $("rooms-overview-grid").addEventListener("click", onOverviewClick);
  on("changed", (room) => {
    if (state.view === "overview") renderOverviewRoom(room);
  });
  on("clock", () => {
    if (state.view === "overview") render();
  });
}
