// The entered room's polls: each poll's question, state, voting form and results, updated
// part by part so a vote being chosen survives new counts; and staff's form for a new poll
// and the buttons that open, close and show or hide results.

import { t } from "../i18n.js";
import { $, el, busy, isBusy, replaceKeepingFocus } from "../dom.js";
import { state, connection, roomData, isStaff, isEntered, on } from "../context.js";
import { applyPollVote } from "../state.js";
import { announce, showError } from "../notice.js";
import { listFormat } from "./common.js";

const POLL_OPTIONS_MIN = 2;
const POLL_OPTIONS_MAX = 10;

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
      applyPollVote(data, id, choices);
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

/** What a reducer changed in a room's polls, shown if it is the room entered. */
function onChange(room, change) {
  if (!isEntered(room)) return;
  renderPolls();
  if (change.opened) announce(t("polls.openedAnnounce", { question: change.poll.question }));
}

export function init() {
  resetPollForm();
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

  on("render", () => {
    $("poll-form-status").textContent = "";
    renderPolls();
  });
  on("polls", onChange);
}
