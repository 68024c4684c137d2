// The entered room's chat: the log (with mentions marked and replies quoted, and for staff
// the messages people flagged), older messages on demand, flagging a message for the
// moderators, sending and replying (offline too: what is sent then waits, shown in the log,
// and goes out on reconnect, its `client_id` keeping it from being stored twice), whether the
// connection is there, and this person's own mute. Staff's tools on a message and the list of
// who is muted are in `chat-moderation.js`.

import { t, formatClock } from "../i18n.js";
import { $, el, busy, isBusy, replaceKeepingFocus, timeElement } from "../dom.js";
import { Connection } from "../connection.js";
import { state, connection, roomData, isStaff, isMe, isEntered, on } from "../context.js";
import { applyOlderChat } from "../state.js";
import { announce, showError } from "../notice.js";
import { clockOf } from "./common.js";
import { onStaffClick } from "./chat-moderation.js";

/** Older chat messages asked for per click. */
const CHAT_PAGE = 50;
/** setTimeout's largest delay. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** The chat message the next one answers: {id, name}. */
let replyTo = null;

/** Messages sent while offline and not answered yet: client id -> {room, text}. */
const waiting = new Map();

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
  const flags = staff ? roomData()?.flagged.get(message.id) ?? 0 : 0;
  const flaggedByMe = Boolean(roomData()?.flaggedByMe.has(message.id));
  return el("li", { class: classes.join(" "), dataset: { chatId: message.id, authorId: message.author?.id ?? "" } },
    reply ? el("blockquote", { class: "chat-quote", dataset: { replyTo: reply.id } },
      el("span", { class: "chat-quote-author", text: t("chat.quoteAuthor", { name: reply.author?.name ?? "" }) }),
      " ",
      el("span", { class: "chat-quote-text", text: String(reply.excerpt ?? "") })) : null,
    el("span", { class: "chat-meta" },
      el("span", { class: "chat-author", text: name }),
      own ? [" ", el("span", { class: "chat-you", text: t("chat.you") })] : null,
      Number.isNaN(at.getTime()) ? null : [" ", timeElement(at, formatClock(at))]),
    flags ? [" ", el("span", { class: "badge chat-flagged", text: t("chat.flaggedBy", { count: flags }) })] : null,
    " ",
    el("span", { class: "chat-text" }, ...mentionNodes(String(message.text ?? ""), message.mentions)),
    el("span", { class: "chat-actions" },
      el("button", {
        type: "button", class: "reply-chat secondary small", dataset: { focusKey: "reply" },
        "aria-label": t("chat.replyLabel", { name }), text: t("chat.reply"),
      }),
      staff || own ? null : el("button", {
        type: "button", class: "flag-chat secondary small", disabled: flaggedByMe, dataset: { focusKey: "flag" },
        "aria-label": t("chat.flagLabel", { name }), text: t(flaggedByMe ? "chat.flagged" : "chat.flag"),
      }),
      staff ? el("button", {
        type: "button", class: "remove-chat secondary small", "aria-expanded": "false",
        "aria-label": t("chat.removeLabel", { name }), text: t("chat.remove"),
      }) : null,
      staff && !own ? el("button", {
        type: "button", class: "chat-person-menu secondary small", "aria-expanded": "false",
        "aria-label": t("chat.personMenuLabel", { name }), text: t("chat.personMenu"),
      }) : null));
}

/** A message sent while offline, at the end of the log until the server has it. */
function waitingItem(clientId, text) {
  return el("li", { class: "chat-message own chat-waiting", dataset: { waiting: clientId } },
    el("span", { class: "chat-meta" },
      el("span", { class: "chat-author", text: state.user?.name ?? "" }),
      " ",
      el("span", { class: "chat-you", text: t("chat.you") })),
    " ",
    el("span", { class: "chat-text", text }),
    " ",
    el("span", { class: "chat-waiting-note", text: t("chat.waiting") }));
}

function waitingItems() {
  return [...waiting].filter(([, message]) => message.room === state.room)
    .map(([clientId, message]) => waitingItem(clientId, message.text));
}

/** The server answered a message sent offline (it is in the log now, or was refused). */
function settleWaiting(clientId) {
  if (!waiting.delete(clientId)) return;
  $("chat-log").querySelector(`li[data-waiting="${CSS.escape(clientId)}"]`)?.remove();
  renderOffline();
}

/** Beside the chat box: whether the connection is there, and what waits for it. */
function renderOffline() {
  const note = $("chat-offline");
  const offline = !connection.online;
  note.hidden = !offline;
  const count = [...waiting.values()].filter((message) => message.room === state.room).length;
  note.textContent = !offline ? "" : t(count ? "chat.offlineWaiting" : "chat.offline", { count });
}

function renderChat() {
  const data = roomData();
  const log = $("chat-log");
  const messages = data ? [...data.chat.values()] : [];
  log.replaceChildren(...messages.map(chatItem), ...waitingItems());
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

/** A new message (already in the state) at the end of the log, and the trimmed ones gone. */
function appendChat(message, trimmed) {
  const log = $("chat-log");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.insertBefore(chatItem(message), log.querySelector("li[data-waiting]"));
  for (const id of trimmed) log.querySelector(`li[data-chat-id="${id}"]`)?.remove();
  $("chat-empty").hidden = true;
  renderChatOlder();
  if (atBottom || isMe(message.author)) log.scrollTop = log.scrollHeight;
  if (mentionsMe(message)) {
    announce(t("chat.mentionedYou", { name: message.author?.name ?? "", text: message.text ?? "" }));
  }
}

function removeChatItem(id) {
  if (replyTo?.id === id) {
    replyTo = null;
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
    const older = applyOlderChat(data, answer.messages ?? [], CHAT_PAGE);
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
  const clientId = Connection.clientId();
  const message = { type: "chat", room: state.room, text, client_id: clientId };
  const answering = replyTo;
  if (answering) message.reply_to = answering.id;
  // Cleared at once, so the next message can be typed while this one travels; given back if
  // it is refused and nothing new was typed meanwhile.
  input.value = "";
  if (!connection.online) {
    waiting.set(clientId, { room: state.room, text });
    const log = $("chat-log");
    log.append(waitingItem(clientId, text));
    log.scrollTop = log.scrollHeight;
    renderOffline();
  }
  connection.request(message).then(
    () => {
      settleWaiting(clientId);
      if (replyTo === answering) {
        replyTo = null;
        renderReply();
      }
    },
    (error) => {
      settleWaiting(clientId);
      if (!input.value) input.value = text;
      showError(error);
    },
  );
}

function renderReply() {
  $("chat-replying").hidden = !replyTo;
  $("chat-replying-text").textContent = replyTo ? t("chat.replying", { name: replyTo.name }) : "";
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

function onChatClick(clickEvent) {
  const button = clickEvent.target.closest("button");
  if (!button || isBusy(button)) return;
  const item = button.closest("li.chat-message");
  if (!item) return;
  const id = Number(item.dataset.chatId);
  const message = roomData()?.chat.get(id);
  if (button.classList.contains("reply-chat")) {
    replyTo = { id, name: message?.author?.name ?? "" };
    renderReply();
    $("chat-input").focus();
  } else if (button.classList.contains("flag-chat")) {
    flagMessage(item, button, id);
  } else {
    onStaffClick(item, button, id, message);
  }
}

/** Flag a message for the moderators: they are told, and the button says it was done. */
function flagMessage(item, button, id) {
  const room = state.room;
  const data = roomData();
  busy(button, connection.request({ type: "flag_chat", room, id })).then(
    () => {
      data.flaggedByMe.add(id);
      if (!isEntered(room) || !item.isConnected) return;
      redrawItem(id);
      $("chat-status").textContent = t("chat.flagThanks");
    },
    showError,
  );
}

/** Draw one message of the log again (its flags changed), keeping focus on it. */
function redrawItem(id) {
  const item = $("chat-log").querySelector(`li[data-chat-id="${id}"]`);
  const message = roomData()?.chat.get(id);
  if (item && message) replaceKeepingFocus(item, chatItem(message));
}

/** What a reducer changed in a room's chat, shown if it is the room entered. */
function onChange(room, change) {
  if (!isEntered(room)) return;
  switch (change.what) {
    case "snapshot":
      renderChat();
      renderMuted();
      break;
    case "added":
      appendChat(change.message, change.trimmed);
      break;
    case "removed":
      removeChatItem(change.id);
      break;
    case "flagged":
      redrawItem(change.id);
      break;
    case "muted":
      if (change.me) renderMuted();
      else $("chat-status").textContent = t("chat.mutedOther", { name: change.user?.name ?? "", time: clockOf(change.until) });
      break;
    case "unmuted":
      if (change.me) renderMuted();
      else $("chat-status").textContent = t("chat.unmutedOther", { name: change.user?.name ?? "" });
      break;
    case "person_removed":
      $("chat-status").textContent = t("chat.removedOther", { name: change.user?.name ?? "" });
      break;
    default:
      break;
  }
}

export function init() {
  $("chat-form").addEventListener("submit", onChatSubmit);
  $("chat-log").addEventListener("click", onChatClick);
  $("chat-older").addEventListener("click", onChatOlder);
  $("chat-reply-cancel").addEventListener("click", () => {
    replyTo = null;
    renderReply();
    $("chat-input").focus();
  });

  on("enter", () => {
    replyTo = null;
  });
  on("render", () => {
    $("chat-status").textContent = "";
    renderChat();
    renderReply();
    renderMuted();
    renderOffline();
  });
  connection.on("status", renderOffline);
  on("chat", onChange);
}
