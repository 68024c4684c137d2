// The entered room's Q&A: the session picker ("Q&A for session", following the clock until
// the person picks one), the questions in order with their votes, asking, and staff's tools:
// the filter, moderation buttons, inline edit and merge, closing and reopening, and the
// moderation log (`moderation-log.js`).

import { t, formatStart } from "../i18n.js";
import { $, el, busy, isBusy } from "../dom.js";
import { Connection } from "../connection.js";
import { state, connection, roomData, isStaff, isEntered, on } from "../context.js";
import { applyVote, isOwnQuestion, sessionQuestions, timeline } from "../state.js";
import { announce, showError } from "../notice.js";
import { questionAuthor, excerpt } from "./common.js";
import {
  closeModerationLog, exportModerationLog, forgetModerationLog, openModerationLog, sessionSelected,
} from "./moderation-log.js";

/** Whether the person picked the session themselves (else it follows the clock). */
let sessionPicked = false;
/** Staff's question filter: all | pending | published | rejected. */
let filter = "all";
/** Question order: votes | newest (pinned first either way). */
let sort = "votes";
/** A question being edited or merged by staff: {id, mode: "edit"|"merge", draft, into?}. */
let editing = null;

function renderSessionPicker() {
  const select = $("session-select");
  const { entries, current } = timeline(state, state.room);
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
  if (picked) sessionPicked = true;
  editing = null;
  const select = $("session-select");
  if (sessionId && select.value !== sessionId) select.value = sessionId;
  const session = sessionId ? state.sessions.get(sessionId) : null;
  $("qa-moderated").hidden = !session?.qa_moderated;
  $("ask-status").textContent = "";
  sessionSelected(sessionId);
  renderQuestions();
}

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

function matchesFilter(question) {
  switch (filter) {
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
  if (sort === "newest") return -byTime;
  if (a.votes !== b.votes) return b.votes - a.votes;
  return byTime;
}

/** The inline editor of a question being edited or merged. */
function questionEditor(question) {
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

/**
 * What became of a merged question: for staff the kept one's number; for its author the kept
 * one's text and a way to it, when they may see it.
 */
function mergedNote(question, staff) {
  if (staff) return el("span", { class: "question-merged", text: t("qa.mergedInto", { id: question.merged_into }) });
  const kept = roomData()?.questions.get(question.merged_into);
  const shown = kept && sessionQuestions(state, state.room, kept.session).includes(kept);
  if (!shown) return el("span", { class: "question-merged", text: t("qa.mergedIntoHidden") });
  return el("span", { class: "question-merged" },
    t("qa.mergedIntoText", { text: excerpt(kept.text) }),
    " ",
    el("button", {
      type: "button", class: "secondary small", dataset: { follow: String(kept.id), focusKey: "follow" },
      text: t("qa.followMerged"),
    }));
}

function questionItem(question) {
  const data = roomData();
  const voted = Boolean(data?.voted.has(question.id));
  const votable = question.status === "approved" || question.status === "answered";
  const staff = isStaff();
  // Nobody upvotes their own question (the server refuses it too).
  const own = isOwnQuestion(state, question);
  const kept = question.status === "merged" ? data?.questions.get(question.merged_into) : null;
  const textId = `question-text-${question.id}`;
  const editingMode = editing?.id === question.id ? editing.mode : null;
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
    question.status === "merged" && question.merged_into !== undefined ? [" ", mergedNote(question, staff)] : null),
  question.status === "merged" ? null : el("div", { class: "question-actions" },
    el("span", { class: "vote-count" },
      el("span", { class: "votes", text: String(question.votes ?? 0) }),
      " ",
      el("span", { class: "votes-label", text: t("qa.votes", { count: question.votes ?? 0 }) })),
    own ? null : el("button", {
      type: "button", class: voted ? "vote voted" : "vote", disabled: !votable,
      "aria-pressed": voted ? "true" : "false",
      "aria-label": voted ? t("qa.unvoteLabel", { text: question.text }) : t("qa.voteLabel", { text: question.text }),
      text: voted ? t("qa.voted") : t("qa.vote"),
    }),
    staff ? actionsFor(question).map((action) => el("button", {
      type: "button", class: "secondary small", dataset: { action }, "aria-describedby": textId,
      "aria-expanded": action === "edit" || action === "merge" ? String(editingMode === action) : null,
      text: t(`action.${action}`),
    })) : null),
  staff && editingMode ? questionEditor(question) : null);
  item.dataset.signature = JSON.stringify([question, voted, staff, own, state.user?.id, editingMode, kept ?? null]);
  const textarea = item.querySelector(".question-edit-input");
  if (textarea) textarea.value = editing.draft ?? "";
  const select = item.querySelector(".question-merge-select");
  if (select && editing.into !== undefined) select.value = String(editing.into);
  return item;
}

/** Bring #questions in line with the state, rebuilding only items that changed, keeping focus. */
function renderQuestions() {
  const list = $("questions");
  const inSession = sessionQuestions(state, state.room, state.selectedSession);
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
  } else if (button.dataset.follow) {
    const kept = $("questions").querySelector(`li[data-question-id="${CSS.escape(button.dataset.follow)}"]`);
    kept?.scrollIntoView({ block: "nearest" });
    kept?.focus();
  } else if (button.dataset.editorCancel) {
    editing = null;
    renderQuestions();
    $("questions").querySelector(`li[data-question-id="${id}"] [data-action="${button.dataset.editorCancel}"]`)?.focus();
  } else if (button.dataset.action === "edit" || button.dataset.action === "merge") {
    const mode = button.dataset.action;
    if (editing?.id === id && editing.mode === mode) {
      editing = null;
      renderQuestions();
      return;
    }
    const question = roomData()?.questions.get(id);
    editing = { id, mode, draft: question?.text ?? "" };
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
  const current = editing;
  if (!current || current.id !== id) return;
  const button = form.querySelector("button[type=submit]");
  if (isBusy(button)) return;
  let message;
  if (current.mode === "edit") {
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
      if (editing !== current) return;
      editing = null;
      renderQuestions();
      const item = $("questions").querySelector(`li[data-question-id="${id}"]`);
      (item?.querySelector(`[data-action="${current.mode}"]`) ?? item ?? $("qa-heading")).focus();
    },
    showError,
  );
}

function onQuestionsInput(inputEvent) {
  if (!editing) return;
  if (inputEvent.target.classList.contains("question-edit-input")) editing.draft = inputEvent.target.value;
  if (inputEvent.target.classList.contains("question-merge-select")) editing.into = inputEvent.target.value;
}

function toggleVote(id) {
  const data = roomData();
  if (!data) return;
  const wasVoted = data.voted.has(id);
  applyVote(data, id, !wasVoted);
  renderQuestions();
  connection.request({ type: wasVoted ? "unvote" : "vote", question: id }).catch((error) => {
    applyVote(data, id, wasVoted);
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

/** What a reducer changed in a room's Q&A, shown if it is the room entered. */
function onChange(room, change) {
  if (!isEntered(room)) return;
  renderQuestions();
  if (change.what === "qa_state") {
    const title = state.sessions.get(change.session)?.title ?? change.session;
    announce(t(change.open ? "qa.openedAnnounce" : "qa.closedAnnounce", { title }));
  }
}

/** The clock moved on: follow the session on now, unless one was picked or is being written in. */
function onClock() {
  if (state.view !== "room" || !state.room) return;
  const current = timeline(state, state.room).current;
  if (!sessionPicked && current && current.session.id !== state.selectedSession
      && !$("ask-input").value && !editing) {
    selectSession(current.session.id, false);
  }
}

export function init() {
  $("session-select").addEventListener("change", (changeEvent) => selectSession(changeEvent.target.value, true));
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
    if (keyEvent.key === "Escape" && editing && keyEvent.target.closest(".question-editor")) {
      const { id, mode } = editing;
      editing = null;
      renderQuestions();
      $("questions").querySelector(`li[data-question-id="${id}"] [data-action="${mode}"]`)?.focus();
    }
  });
  $("question-filter").addEventListener("change", (changeEvent) => {
    filter = changeEvent.target.value;
    renderQuestions();
  });
  $("qa-sort").addEventListener("change", (changeEvent) => {
    sort = changeEvent.target.value;
    renderQuestions();
  });
  $("qa-toggle").addEventListener("click", onQaToggle);
  $("moderation-log-open").addEventListener("click", openModerationLog);
  $("moderation-log-refresh").addEventListener("click", openModerationLog);
  $("moderation-log-close").addEventListener("click", () => closeModerationLog(true));
  $("moderation-log-export").addEventListener("click", exportModerationLog);

  on("enter", () => {
    sessionPicked = false;
    filter = "all";
    editing = null;
    $("filter-all").checked = true;
  });
  on("render", () => {
    forgetModerationLog();
    renderSessionPicker();
  });
  on("qa", onChange);
  on("zone", () => {
    if (state.view === "room" && state.room) renderSessionPicker();
  });
  on("clock", onClock);
}
