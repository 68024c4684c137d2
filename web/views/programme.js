// The programme: loading it, the zone switch, the track and kind filters and the day tabs,
// every room with its sessions, "Now and next" (each a link into its room, what is next with
// the time until it starts), and the Live now / Ended / Up next badges kept current by the
// clock. The agenda's buttons are added once it is drawn (`drawn`).

import { t, timeZone, setDisplayZone, formatDay } from "../i18n.js";
import { $, el, storage } from "../dom.js";
import { state, emit, on } from "../context.js";
import { applySchedule, defaultDay, timeline } from "../state.js";
import { badge, roomMeta, sessionDetails, sessionTimes } from "./common.js";

const ZONE_KEY = "plenary.zone";

/**
 * How the programme is shown: times in the browser's zone ("local") or the conference's
 * ("venue"), the day shown (its date) and the track and kind filters ("" for all).
 */
const show = { zone: "local", day: null, track: "", kind: "" };

export async function loadSchedule(attempt = 0) {
  try {
    const response = await fetch("/api/schedule", { headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    setSchedule(await response.json());
  } catch (error) {
    console.error("plenary: loading the programme failed", error);
    $("programme-loading").textContent = t("programme.unavailable");
    setTimeout(() => loadSchedule(attempt + 1), Math.min(30_000, 1_000 * 2 ** attempt));
  }
}

function setSchedule(schedule) {
  applySchedule(state, schedule, timeZone);
  const name = schedule.conference?.name;
  if (name) {
    $("conference-name").textContent = name;
    document.title = `${name} · ${t("app.title")}`;
  }
  $("programme-loading").hidden = true;
  renderProgrammeControls();
  applyZone();
  renderProgramme();
  emit("schedule");
}

function fillSelect(select, allLabel, options, value) {
  select.replaceChildren(
    el("option", { value: "", text: allLabel }),
    ...options.map(([optionValue, label]) => el("option", { value: optionValue, text: label })));
  select.value = value;
}

/** The zone switch, the filters and the day tabs, for the programme just loaded. */
function renderProgrammeControls() {
  show.zone = state.venueZone && storage(ZONE_KEY) === "venue" ? "venue" : "local";
  $("zone-switch").hidden = !state.venueZone;
  $("zone-local-label").textContent = t("programme.zoneLocal", { zone: timeZone });
  $("zone-venue-label").textContent = t("programme.zoneVenue", { zone: state.venueZone ?? "" });
  for (const input of $("zone-switch").querySelectorAll("input")) input.checked = input.value === show.zone;

  const tracks = state.schedule.tracks ?? [];
  if (!tracks.includes(show.track)) show.track = "";
  fillSelect($("filter-track"), t("programme.allTracks"), tracks.map((track) => [track, track]), show.track);
  $("filter-track-field").hidden = tracks.length === 0;
  const kinds = [...new Set([...state.sessions.values()].map((session) => session.kind))];
  if (!kinds.includes(show.kind)) show.kind = "";
  fillSelect($("filter-kind"), t("programme.allKinds"),
    kinds.map((kind) => [kind, t(`kind.${kind}`)]).sort((a, b) => a[1].localeCompare(b[1])), show.kind);
  $("programme-controls").hidden = false;

  if (!state.days.some((day) => day.date === show.day)) show.day = defaultDay(state);
  $("programme-days").hidden = state.days.length < 2;
  $("programme-days").replaceChildren(...state.days.map((day) => el("button", {
    type: "button", class: "secondary", dataset: { day: day.date }, text: formatDay(day.date),
  })));
}

/** Show times in the zone picked (the browser's unless the conference's was chosen). */
function applyZone() {
  const venue = show.zone === "venue" && state.venueZone;
  const zone = setDisplayZone(venue || timeZone);
  $("timezone-note").textContent = venue
    ? t("programme.timezoneVenue", { zone })
    : t("programme.timezoneSame", { zone });
}

function onZoneChange(changeEvent) {
  show.zone = changeEvent.target.value === "venue" ? "venue" : "local";
  storage(ZONE_KEY, show.zone);
  applyZone();
  renderProgramme();
  emit("zone");
}

/** Whether a session passes the track and kind filters (and is on the day shown, if asked). */
function isShown(session, onDayShown = true) {
  return (!show.track || session.track === show.track)
    && (!show.kind || session.kind === show.kind)
    && (!onDayShown || state.days.length < 2 || session.day === show.day);
}

function renderProgramme() {
  const filtering = Boolean(show.track || show.kind);
  const container = $("programme-rooms");
  container.replaceChildren();
  for (const room of state.rooms.values()) {
    const headingId = `programme-room-${room.id}`;
    const { entries } = timeline(state, room.id);
    const shown = entries.filter(({ session }) => isShown(session));
    // A room with sessions, none of them on this day or passing the filters, is left out.
    if (entries.length ? !shown.length : filtering) continue;
    const list = el("ol", { class: "sessions" });
    for (const { session, phase } of shown) {
      list.append(el("li", { class: "session", dataset: { session: session.id, state: phase } },
        badge(phase),
        sessionDetails(session, "h4")));
    }
    container.append(el("section", { class: "programme-room card", dataset: { room: room.id }, "aria-labelledby": headingId },
      el("div", { class: "programme-room-header" },
        el("div", {},
          el("h3", { id: headingId, text: room.name }),
          el("p", { class: "room-meta muted", text: roomMeta(room) })),
        el("button", { type: "button", dataset: { enterRoom: room.id }, text: t("programme.enter", { room: room.name }) })),
      shown.length ? list : el("p", { class: "muted", text: t("programme.empty") })));
  }
  if (!container.childElementCount) {
    container.append(el("p", { class: "muted", text: t("programme.noMatch") }));
  }
  for (const button of $("programme-days").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.day === show.day));
  }
  emit("drawn");
  renderNow();
}

/** "Now and next": what is live in each room and what comes next there, filters applied. */
function renderNow(now = Date.now()) {
  const items = [];
  for (const room of state.rooms.values()) {
    for (const entry of timeline(state, room.id, now).entries) {
      if ((entry.phase === "live" || entry.phase === "next") && isShown(entry.session, false)) {
        items.push({ ...entry, room });
      }
    }
  }
  items.sort((a, b) => a.session.startDate - b.session.startDate || a.room.name.localeCompare(b.room.name));
  $("programme-now").hidden = false;
  $("programme-now-list").replaceChildren(...(items.length
    ? items.map(({ session, phase, room }) => el("li", { dataset: { session: session.id, state: phase } },
      badge(phase),
      el("a", { class: "now-title", href: `#room=${encodeURIComponent(room.id)}`, text: session.title }),
      el("span", { class: "muted" }, ` · ${room.name} · `, sessionTimes(session)),
      phase === "next" ? [" ", el("span", { class: "countdown", text: startsIn(session, now) })] : null))
    : [el("li", { class: "muted", text: t("programme.nothingNow") })]));
}

/** "Starts in 12 minutes" (or hours and minutes), counted from `now`. */
function startsIn(session, now) {
  const minutes = Math.max(1, Math.ceil((session.startDate.getTime() - now) / 60_000));
  if (minutes < 60) return t("programme.startsIn", { count: minutes });
  return t("programme.startsInHours", { hours: Math.floor(minutes / 60), count: minutes % 60 });
}

/** Refresh the Live now / Ended / Up next badges without rebuilding anything. */
function refreshClock() {
  for (const room of state.rooms.values()) {
    for (const { session, phase } of timeline(state, room.id).entries) {
      const item = $("programme-rooms").querySelector(`li[data-session="${CSS.escape(session.id)}"]`);
      if (!item || item.dataset.state === phase) continue;
      item.dataset.state = phase;
      item.querySelector(".badge").replaceWith(badge(phase));
    }
  }
  renderNow();
}

export function init() {
  $("programme-rooms").addEventListener("click", (clickEvent) => {
    const button = clickEvent.target.closest("button[data-enter-room]");
    if (button) emit("navigate", "room", button.dataset.enterRoom);
  });
  $("zone-switch").addEventListener("change", onZoneChange);
  for (const [id, key] of [["filter-track", "track"], ["filter-kind", "kind"]]) {
    $(id).addEventListener("change", (changeEvent) => {
      show[key] = changeEvent.target.value;
      renderProgramme();
    });
  }
  $("programme-days").addEventListener("click", (clickEvent) => {
    const button = clickEvent.target.closest("button[data-day]");
    if (!button) return;
    show.day = button.dataset.day;
    renderProgramme();
  });
  on("clock", refreshClock);
}
