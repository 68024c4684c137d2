// Staff's tools in the entered room's chat: removing a message (confirmed: it cannot be
// undone), the menu on its author (mute for a while or a day, unmute, remove from the room,
// each confirmed), and the list of who is muted here with a button to lift it.

import { t } from "../i18n.js";
import { $, el, busy, isBusy } from "../dom.js";
import { state, connection, roomData, isStaff, isEntered, on } from "../context.js";
import { showError } from "../notice.js";
import { clockOf } from "./common.js";

/** How long "Mute for a while" mutes (the console's Mute too). */
export const MUTE_SHORT_MINUTES = 10;
const SANCTIONS = ["mute-short", "mute-day", "unmute", "remove"];

/** A click on a staff control of chat message `id` (its `item` in the log). */
export function onStaffClick(item, button, id, message) {
  if (button.classList.contains("remove-chat")) {
    confirmRemoval(item, button, message);
  } else if (button.dataset.confirmRemoval) {
    busy(button, connection.request({ type: "remove_chat", room: state.room, id })).then(
      () => closePersonMenu(item, false),
      (error) => {
        showError(error);
        closePersonMenu(item, true);
      },
    );
  } else if (button.classList.contains("chat-person-menu")) {
    togglePersonMenu(item, button, message);
  } else if (button.dataset.sanction) {
    confirmSanction(item, button.dataset.sanction, message);
  } else if (button.dataset.confirmSanction) {
    applySanction(item, button, button.dataset.confirmSanction, message);
  } else if (button.classList.contains("cancel-sanction")) {
    closePersonMenu(item, true);
  }
}

function togglePersonMenu(item, button, message) {
  if (item.querySelector(".chat-menu")) {
    closePersonMenu(item, true);
    return;
  }
  for (const open of $("chat-log").querySelectorAll(".chat-menu")) closePersonMenu(open.closest("li"), false);
  const name = message?.author?.name ?? "";
  const menu = el("div", { class: "chat-menu", role: "group", "aria-label": t("chat.personMenuLabel", { name }) },
    SANCTIONS.map((sanction) => el("button", {
      type: "button", class: "secondary small", dataset: { sanction },
      text: t(`sanction.${sanction}`, { minutes: MUTE_SHORT_MINUTES }),
    })));
  item.append(menu);
  button.setAttribute("aria-expanded", "true");
  menu.querySelector("button").focus();
}

/** Ask before removing a message: removal cannot be undone. */
function confirmRemoval(item, button, message) {
  for (const open of $("chat-log").querySelectorAll(".chat-menu")) closePersonMenu(open.closest("li"), false);
  const name = message?.author?.name ?? "";
  const menu = el("div", { class: "chat-menu", role: "group", "aria-label": t("chat.removeLabel", { name }) },
    el("p", { class: "chat-menu-question", text: t("chat.removeConfirm", { name }) }),
    el("button", { type: "button", class: "small danger", dataset: { confirmRemoval: "yes" }, text: t("chat.removeYes") }),
    " ",
    el("button", { type: "button", class: "secondary small cancel-sanction", text: t("sanction.cancel") }));
  item.append(menu);
  button.setAttribute("aria-expanded", "true");
  menu.querySelector("button").focus();
}

function closePersonMenu(item, focusButton) {
  item?.querySelector(".chat-menu")?.remove();
  const removal = item?.querySelector(".remove-chat[aria-expanded=true]");
  removal?.setAttribute("aria-expanded", "false");
  const button = removal ?? item?.querySelector(".chat-person-menu");
  button?.setAttribute("aria-expanded", "false");
  if (focusButton) button?.focus();
}

function confirmSanction(item, sanction, message) {
  const name = message?.author?.name ?? "";
  const menu = item.querySelector(".chat-menu");
  if (!menu) return;
  menu.replaceChildren(
    el("p", { class: "chat-menu-question", text: t(`sanction.${sanction}.confirm`, { name, minutes: MUTE_SHORT_MINUTES }) }),
    el("button", { type: "button", class: "small danger", dataset: { confirmSanction: sanction }, text: t(`sanction.${sanction}.yes`) }),
    " ",
    el("button", { type: "button", class: "secondary small cancel-sanction", text: t("sanction.cancel") }));
  menu.querySelector("button").focus();
}

function applySanction(item, button, sanction, message) {
  const user = message?.author?.id;
  const name = message?.author?.name ?? "";
  if (!user) return;
  const room = state.room;
  let request;
  if (sanction === "mute-short") request = { type: "mute", room, user, minutes: MUTE_SHORT_MINUTES };
  else if (sanction === "mute-day") request = { type: "mute", room, user };
  else if (sanction === "unmute") request = { type: "unmute", room, user };
  else request = { type: "remove_person", room, user };
  busy(button, connection.request(request)).then(
    () => {
      $("chat-status").textContent = t(`sanction.${sanction}.done`, { name, minutes: MUTE_SHORT_MINUTES });
      closePersonMenu(item, true);
    },
    (error) => {
      showError(error);
      closePersonMenu(item, true);
    },
  );
}

function onChatKeydown(keyEvent) {
  if (keyEvent.key !== "Escape") return;
  const menu = keyEvent.target.closest(".chat-menu");
  if (menu) {
    keyEvent.preventDefault();
    closePersonMenu(menu.closest("li"), true);
  }
}

/** For staff: who is muted in the entered room, each with a button to lift it. */
function renderMutedPeople() {
  const list = $("muted-people");
  const now = Date.now();
  const muted = isStaff()
    ? [...(roomData()?.mutedPeople.values() ?? [])].filter((entry) => Date.parse(entry.until) > now)
    : [];
  list.hidden = muted.length === 0;
  list.replaceChildren(
    el("h4", { text: t("chat.mutedPeople") }),
    el("ul", {}, muted.map(({ user, until }) => el("li", {},
      t("chat.mutedPerson", { name: user.name, time: clockOf(until) }),
      " ",
      el("button", {
        type: "button", class: "secondary small", dataset: { unmute: user.id },
        text: t("sanction.unmute"), "aria-label": t("chat.unmutePerson", { name: user.name }),
      })))));
}

function onMutedPeopleClick(clickEvent) {
  const button = clickEvent.target.closest("button[data-unmute]");
  if (!button || isBusy(button)) return;
  const entry = roomData()?.mutedPeople.get(button.dataset.unmute);
  busy(button, connection.request({ type: "unmute", room: state.room, user: button.dataset.unmute })).then(
    () => {
      $("chat-status").textContent = t("sanction.unmute.done", { name: entry?.user.name ?? "" });
    },
    showError,
  );
}

export function init() {
  $("muted-people").addEventListener("click", onMutedPeopleClick);
  $("chat-log").addEventListener("keydown", onChatKeydown);
  on("render", renderMutedPeople);
  on("chat", (room, change) => {
    if (isEntered(room) && ["snapshot", "muted", "unmuted"].includes(change.what)) renderMutedPeople();
  });
}
