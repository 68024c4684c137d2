// How the page tells the person something outside the views: the notice bar (server and
// connection errors, by their code, translated; a connection error goes once the connection
// is back; good news in green), the connection indicator in the header, and the room's polite announcer for
// screen readers.

import { t, has } from "./i18n.js";
import { $ } from "./dom.js";

let noticeTimer = null;
/** The error code the notice shows, if it shows one (`offline` goes once back online). */
let noticeCode = null;

export function showNotice(text, code = null, good = false) {
  const notice = $("notice");
  notice.textContent = text;
  noticeCode = text ? code : null;
  $("notice-bar").classList.toggle("is-empty", !text);
  $("notice-bar").classList.toggle("is-good", Boolean(text) && good);
  $("notice-dismiss").hidden = !text;
  clearTimeout(noticeTimer);
  if (text) noticeTimer = setTimeout(() => showNotice(""), 20_000);
}

/** Tell the person something good (a place came free for them): not in an error's colours. */
export function showGoodNews(text) {
  showNotice(text, null, true);
}

/** Show a server (or connection) error as a translated message, by its code. */
export function showError(error) {
  const code = error?.code;
  if (code && has(`error.${code}`)) showNotice(t(`error.${code}`), code);
  else showNotice(error?.message || t("error.internal"), code ?? null);
}

export function renderStatus({ state: connectionState }) {
  const status = $("status");
  const shown = connectionState === "idle" ? "offline" : connectionState;
  status.dataset.state = shown;
  status.textContent = t(connectionState === "idle" ? "status.idle" : `status.${shown}`);
  document.body.dataset.connection = shown;
  // Told they were offline, the person is told no more once the connection is back.
  if (shown === "online" && ["offline", "disconnected"].includes(noticeCode)) showNotice("");
}

/** Say something to screen readers (politely) in the room. */
export function announce(text) {
  $("room-announcer").textContent = text;
}
