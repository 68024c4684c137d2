// The moderator console, for staff only (loaded with `import()` when needed): the questions
// waiting for approval in every room this person moderates, live, each with Approve and
// Reject, and a way into the room.

import { t } from "../i18n.js";
import { $, el, busy, isBusy, reconcile } from "../dom.js";
import { state, connection, roomData, isStaff, emit, on } from "../context.js";
import { showError } from "../notice.js";
import { clockOf, questionAuthor } from "./common.js";

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
    emit("navigate", "room", button.dataset.goRoom);
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
