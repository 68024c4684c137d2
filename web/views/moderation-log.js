// Staff's moderation log of the selected session's Q&A: asked for, shown as a table, and
// exported as CSV. Part of the Q&A view (`qa.js`), which opens and closes it.

import { t, has, formatStart } from "../i18n.js";
import { $, el, busy, isBusy, timeElement } from "../dom.js";
import { state, connection } from "../context.js";
import { showError } from "../notice.js";

/** The moderation log shown: {session, entries}, or null. */
let modLog = null;

export async function openModerationLog() {
  const session = state.selectedSession;
  const button = $("moderation-log-open");
  if (!session || isBusy(button)) return;
  try {
    const answer = await busy(button, connection.request({ type: "moderation_log", session }));
    if (state.selectedSession !== session) return;
    modLog = { session, entries: Array.isArray(answer.entries) ? answer.entries : [] };
    renderModerationLog();
    const wasHidden = $("moderation-log").hidden;
    $("moderation-log").hidden = false;
    if (wasHidden) $("moderation-log-heading").focus();
  } catch (error) {
    showError(error);
  }
}

function logActionLabel(action) {
  return has(`logAction.${action}`) ? t(`logAction.${action}`) : action;
}

function renderModerationLog() {
  const log = modLog;
  if (!log) return;
  const title = state.sessions.get(log.session)?.title ?? log.session;
  $("moderation-log-heading").textContent = t("log.heading", { title });
  $("moderation-log-empty").hidden = log.entries.length > 0;
  $("moderation-log-table").hidden = log.entries.length === 0;
  $("moderation-log-export").disabled = log.entries.length === 0;
  $("moderation-log-rows").replaceChildren(...log.entries.map((entry) => {
    const at = new Date(entry.at);
    return el("tr", {},
      el("td", {}, Number.isNaN(at.getTime()) ? String(entry.at ?? "") : timeElement(at, formatStart(at))),
      el("td", { text: entry.by?.name ?? "" }),
      el("td", { text: logActionLabel(entry.action) }),
      el("td", { text: entry.question !== undefined && entry.question !== null ? t("qa.number", { id: entry.question }) : "" }),
      el("td", { class: "log-detail", text: entry.detail ?? "" }));
  }));
}

export function closeModerationLog(focus = true) {
  modLog = null;
  $("moderation-log").hidden = true;
  $("moderation-log-rows").replaceChildren();
  if (focus) $("moderation-log-open").focus();
}

/** Another session was selected: a log of the last one closes. */
export function sessionSelected(session) {
  if (modLog && modLog.session !== session) closeModerationLog(false);
}

/** The room is drawn afresh: no log is shown. */
export function forgetModerationLog() {
  $("moderation-log").hidden = true;
  modLog = null;
}

/** One CSV cell: quoted, and defused against spreadsheet formulas. */
function csvCell(value) {
  let text = String(value ?? "");
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

export function exportModerationLog() {
  const log = modLog;
  if (!log) return;
  const rows = [["at", "by_id", "by", "action", "question", "detail"]];
  for (const entry of log.entries) {
    rows.push([entry.at, entry.by?.id, entry.by?.name, entry.action, entry.question, entry.detail]);
  }
  const csv = `\ufeff${rows.map((row) => row.map(csvCell).join(",")).join("\r\n")}\r\n`;
  const url = URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" }));
  const link = el("a", { href: url, download: `moderation-log-${log.session}.csv`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
