// What several views draw the same way: a session's badge, times and details, a room's name
// and kind, clock times, lists and excerpts in the page's language, and a question's author.

import { t, formatStart, formatEnd, formatClock } from "../i18n.js";
import { el, timeElement } from "../dom.js";
import { state, isStaff } from "../context.js";

/** A clock time for an RFC 3339 instant, or "" if it is not one. */
export function clockOf(rfc3339) {
  const date = new Date(rfc3339);
  return Number.isNaN(date.getTime()) ? "" : formatClock(date);
}

export function roomName(roomId) {
  return state.rooms.get(roomId)?.name ?? roomId;
}

export function roomMeta(room) {
  const parts = [t(`roomKind.${room.kind}`)];
  if (room.capacity !== undefined && room.capacity !== null) {
    parts.push(t("programme.capacity", { count: room.capacity }));
  }
  return parts.join(" · ");
}

export function listFormat(items) {
  try {
    return new Intl.ListFormat(document.documentElement.lang, { type: "conjunction" }).format(items);
  } catch {
    return items.join(", ");
  }
}

export function excerpt(text, length = 60) {
  const value = String(text ?? "");
  return value.length > length ? `${value.slice(0, length - 1)}…` : value;
}

export function badge(phase) {
  const label = { live: "badge.live", ended: "badge.ended", next: "badge.next" }[phase];
  return el("span", { class: "badge", dataset: { badge: phase }, text: label ? t(label) : "", hidden: !label });
}

export function sessionTimes(session) {
  return el("span", { class: "session-time" },
    timeElement(session.startDate, formatStart(session.startDate)),
    " – ",
    timeElement(session.endDate, formatEnd(session.endDate, session.startDate)));
}

export function sessionDetails(session, headingTag) {
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

export function questionAuthor(question) {
  if (question.anonymous) {
    return question.author?.name && isStaff()
      ? t("qa.anonymousStaff", { name: question.author.name })
      : t("qa.anonymousAuthor");
  }
  return question.author?.name ?? t("qa.anonymousAuthor");
}
