// My agenda: the list of the sessions bookmarked (each a link into its room), a bookmark
// button on every programme session to come (not on breaks), a
// registration button on workshop sessions with the places left or, when full, where on the
// waitlist the person would be, the calendar link, and the reminders and promotions the
// server sends. Added to the programme after it is drawn (`drawn`), so the programme's own
// rendering is untouched.

import { t, ordinal } from "../i18n.js";
import { $, el, busy, isBusy, storage } from "../dom.js";
import { state, connection, isStaff, on, TOKEN_KEY } from "../context.js";
import { applyAgenda, applyBookmark, applyRegistration, placeOnOffer } from "../state.js";
import { showError, showGoodNews, showNotice } from "../notice.js";
import { sessionTimes } from "./common.js";

/** Ask for the agenda and redraw its buttons (keeping focus on `focus`, a selector, if given). */
export async function loadAgenda(focus = null) {
  try {
    applyAgenda(state, await connection.request({ type: "agenda" }));
    if (focus) redecorate(focus);
    else decorateProgramme();
  } catch (error) {
    console.error("plenary: loading my agenda failed", error);
  }
}

/** Where the person stands in a workshop session, or what registering would give them. */
function registrationText(registration, offer) {
  if (registration?.status === "registered") return t("agenda.registered");
  if (registration?.status === "waitlisted") {
    return t("agenda.waitlisted", { position: registration.position ?? "?" });
  }
  if (offer?.left) return t("agenda.placesLeft", { count: offer.left });
  if (offer?.position) return t("agenda.full", { position: ordinal(offer.position) });
  return "";
}

/** The registration button's words: give up what one has, or ask for what is on offer. */
function registerLabel(registration, offer) {
  if (registration?.status === "registered") return t("agenda.unregister");
  if (registration?.status === "waitlisted") return t("agenda.leaveWaitlist");
  return t(offer?.position ? "agenda.joinWaitlist" : "agenda.register");
}

function decorateProgramme() {
  for (const item of $("programme-rooms").querySelectorAll("li[data-session]")) {
    const session = state.sessions.get(item.dataset.session);
    item.querySelector(".agenda-actions")?.remove();
    if (!session || !state.user) continue;
    const ended = item.dataset.state === "ended";
    const marked = state.bookmarks.has(session.id);
    const actions = el("div", { class: "agenda-actions" });
    // An ended session or a break is nothing to be reminded of (one bookmarked stays removable).
    if (marked || (!ended && session.kind !== "break")) {
      actions.append(el("button", { type: "button", class: "bookmark", dataset: { bookmark: session.id },
        "aria-pressed": String(marked), text: t(marked ? "agenda.bookmarked" : "agenda.bookmark") }));
    }
    const workshop = state.rooms.get(session.room)?.kind === "workshop";
    if (workshop && !isStaff(session.room) && !ended) {
      const registration = state.registrations.get(session.id);
      const offer = placeOnOffer(state, session.id);
      actions.append(
        el("button", { type: "button", dataset: { register: session.id, signedUp: String(Boolean(registration)) },
          text: registerLabel(registration, offer) }),
        el("span", { class: "registration", text: registrationText(registration, offer) }));
    }
    if (actions.childElementCount) item.append(actions);
  }
  renderMyAgenda();
  const token = storage(TOKEN_KEY);
  $("agenda-calendar")?.remove();
  if (token && state.user) {
    $("timezone-note").after(el("p", { id: "agenda-calendar" },
      el("a", { href: `/api/me/agenda.ics?token=${encodeURIComponent(token)}`, text: t("agenda.calendar") })));
  }
}

/** "My agenda": the sessions bookmarked, in programme order, each leading to its room. */
function renderMyAgenda() {
  $("my-agenda").hidden = !state.user;
  const sessions = [...state.sessions.values()].filter((session) => state.bookmarks.has(session.id));
  $("my-agenda-list").replaceChildren(...sessions.map((session) => el("li", { dataset: { session: session.id } },
    el("a", { class: "now-title", href: `#room=${encodeURIComponent(session.room)}`, text: session.title }),
    el("span", { class: "muted" }, ` · ${state.rooms.get(session.room)?.name ?? session.room} · `, sessionTimes(session)),
    state.registrations.has(session.id)
      ? [" ", el("span", { class: "registration", text: registrationText(state.registrations.get(session.id), null) })]
      : null)));
  $("my-agenda-empty").hidden = sessions.length > 0;
}

/** Redraw the agenda buttons, keeping focus on the one that was used. */
function redecorate(selector) {
  decorateProgramme();
  $("programme-rooms").querySelector(selector)?.focus();
}

function onAgendaClick(clickEvent) {
  const star = clickEvent.target.closest("button[data-bookmark]");
  if (star && !isBusy(star)) {
    const session = star.dataset.bookmark;
    const marking = !state.bookmarks.has(session);
    busy(star, connection.request({ type: marking ? "bookmark" : "unbookmark", session }))
      .then(() => {
        applyBookmark(state, session, marking);
        redecorate(`button[data-bookmark="${CSS.escape(session)}"]`);
      })
      .catch(showError);
    return;
  }
  const register = clickEvent.target.closest("button[data-register]");
  if (register && !isBusy(register)) {
    const session = register.dataset.register;
    const type = register.dataset.signedUp === "true" ? "unregister" : "register";
    busy(register, connection.request({ type, session }))
      .then(() => redecorate(`button[data-register="${CSS.escape(session)}"]`))
      .then(() => loadAgenda(`button[data-register="${CSS.escape(session)}"]`)) // the places moved
      .catch(showError);
  }
}

export function onRegistration(registration) {
  applyRegistration(state, registration);
  decorateProgramme();
  if (registration.promoted) {
    const { session } = registration;
    showGoodNews(t("agenda.promoted", { title: state.sessions.get(session)?.title ?? session }));
  }
}

export function onReminder({ session, minutes }) {
  const title = state.sessions.get(session)?.title ?? session;
  showNotice(t("agenda.reminder", { title, count: minutes }));
}

export function init() {
  $("programme-rooms").addEventListener("click", onAgendaClick);
  on("drawn", decorateProgramme);
}
