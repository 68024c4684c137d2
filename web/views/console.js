// The moderator console, for staff only (loaded with `import()` when needed): in every room
// this person moderates, live, the questions waiting for approval, each with Approve and
// Reject, the latest chat (flagged messages marked), each message with Remove and Mute (both
// asked first), and a way into the room.

import { t } from "../i18n.js";
import { $, el, busy, isBusy, reconcile } from "../dom.js";
import { state, connection, roomData, isStaff, isMe, emit, on } from "../context.js";
import { showError } from "../notice.js";
import { clockOf, questionAuthor } from "./common.js";
import { MUTE_SHORT_MINUTES } from "./chat-moderation.js";

/** Chat messages shown per room. */
const CONSOLE_CHAT = 10;

/** The chat action waiting for its confirmation: {room, id, action: remove | mute}, or null. */
let confirming = null;

/** The heading focused when the console is shown. */
export const heading = "console-heading";

/** The rooms the console keeps joined: every room this person moderates. */
export function rooms() {
  return [...state.rooms.keys()].filter((id) => isStaff(id));
}

export function render() {
  const container = $("console-rooms");
  const ids = rooms();
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
        el("p", { class: "console-empty muted" }),
        el("h4", { id: `${headingId}-chat`, text: t("console.chat") }),
        el("ol", { class: "console-chat", "aria-labelledby": `${headingId}-chat` }),
        el("p", { class: "console-chat-empty muted", text: t("console.chatEmpty") }),
        el("p", { class: "console-chat-status muted", role: "status" }));
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

/** A chat message in the console: who, when, what, and Remove and Mute, each asked first. */
function consoleChatItem(room, message) {
  const name = message.author?.name ?? "";
  const asking = confirming?.room === room && confirming.id === message.id ? confirming.action : null;
  const actions = asking
    ? [
      el("span", { class: "chat-menu-question", text: asking === "remove"
        ? t("chat.removeConfirm", { name })
        : t("sanction.mute-short.confirm", { name, minutes: MUTE_SHORT_MINUTES }) }),
      " ",
      el("button", { type: "button", class: "small danger", dataset: { chatConfirm: asking, focusKey: "confirm" },
        text: t(asking === "remove" ? "chat.removeYes" : "sanction.mute-short.yes") }),
      " ",
      el("button", { type: "button", class: "secondary small", dataset: { chatCancel: asking, focusKey: "cancel" },
        text: t("sanction.cancel") }),
    ]
    : [
      el("button", { type: "button", class: "secondary small", dataset: { chatAction: "remove", focusKey: "remove" },
        "aria-label": t("chat.removeLabel", { name }), text: t("chat.remove") }),
      isMe(message.author) ? null : [" ", el("button", {
        type: "button", class: "secondary small", dataset: { chatAction: "mute", focusKey: "mute" },
        text: t("sanction.mute-short", { minutes: MUTE_SHORT_MINUTES }),
      })],
    ];
  const flags = roomData(room)?.flagged.get(message.id) ?? 0;
  return el("li", { class: "console-chat-message", dataset: { chatId: message.id, flags: String(flags) } },
    el("span", { class: "chat-author", text: name }),
    " ",
    el("span", { class: "muted", text: clockOf(message.at) }),
    flags ? [" ", el("span", { class: "badge chat-flagged", text: t("chat.flaggedBy", { count: flags }) })] : null,
    " ",
    el("span", { class: "chat-text", text: String(message.text ?? "") }),
    el("span", { class: "chat-actions" }, ...actions));
}

function renderConsoleChat(section, room, data) {
  const messages = data ? [...data.chat.values()].slice(-CONSOLE_CHAT) : [];
  reconcile(section.querySelector(".console-chat"), messages.map((message) => ({
    key: message.id,
    signature: JSON.stringify([message, data.flagged.get(message.id) ?? 0,
      confirming?.room === room && confirming.id === message.id ? confirming.action : null]),
    build: () => consoleChatItem(room, message),
  })), section.querySelector("h3"));
  section.querySelector(".console-chat-empty").hidden = messages.length > 0 || !data?.ready;
}

/** Remove a message or mute its author, once confirmed; say what was done. */
function applyChatAction(section, room, id, action, button) {
  const message = roomData(room)?.chat.get(id);
  const user = message?.author?.id;
  if (!message || !user) return;
  const name = message.author.name ?? "";
  const request = action === "remove"
    ? { type: "remove_chat", room, id }
    : { type: "mute", room, user, minutes: MUTE_SHORT_MINUTES };
  busy(button, connection.request(request)).then(
    () => {
      confirming = null;
      section.querySelector(".console-chat-status").textContent = action === "remove"
        ? t("console.chatRemoved", { name })
        : t("sanction.mute-short.done", { name, minutes: MUTE_SHORT_MINUTES });
      renderConsoleRoom(room);
    },
    (error) => {
      confirming = null;
      renderConsoleRoom(room);
      showError(error);
    },
  );
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
  renderConsoleChat(section, id, data);
  const { total, rooms } = consolePending();
  const summary = total ? t("console.summary", { count: total, rooms }) : t("console.summaryNone");
  if ($("console-summary").textContent !== summary) $("console-summary").textContent = summary;
}

function onConsoleClick(clickEvent) {
  const button = clickEvent.target.closest("button");
  if (!button || isBusy(button)) return;
  if (button.dataset.goRoom) {
    emit("navigate", "room", button.dataset.goRoom);
    return;
  }
  const section = button.closest("section[data-room]");
  const chatId = Number(button.closest("li[data-chat-id]")?.dataset.chatId);
  if (section && Number.isFinite(chatId)) {
    const room = section.dataset.room;
    if (button.dataset.chatConfirm) {
      applyChatAction(section, room, chatId, button.dataset.chatConfirm, button);
      return;
    }
    const before = confirming?.room;
    confirming = button.dataset.chatAction ? { room, id: chatId, action: button.dataset.chatAction } : null;
    if (before && before !== room) renderConsoleRoom(before);
    renderConsoleRoom(room);
    return;
  }
  const id = Number(button.closest("li")?.dataset.questionId);
  if (!button.dataset.action || !Number.isFinite(id)) return;
  busy(button, connection.request({ type: "moderate", question: id, action: button.dataset.action }))
    .catch(showError);
}

export function init() {
  $("console-rooms").addEventListener("click", onConsoleClick);
  on("changed", (room) => {
    if (state.view === "console") renderConsoleRoom(room);
  });
}
