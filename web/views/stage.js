// The entered room's stage: what plays (who is live, the video and its audio-only and
// slides-only options; when nobody is on stage, what is coming; when there is sound but no
// picture, why), and for hosts and people brought on stage, going live with camera,
// microphone and screen, and moving the stream to another room. A person a host invites on
// stage accepts (going live) or declines. A broadcast goes on while its host looks around the
// programme or other rooms, and the header says where they are live. The media itself is
// `media.js`'s; this draws it and asks it.

import { t } from "../i18n.js";
import { $, el } from "../dom.js";
import { state, connection, media, roomData, isStaff, emit, on } from "../context.js";
import { timeline } from "../state.js";
import { showError } from "../notice.js";
import { listFormat, sessionTimes } from "./common.js";

/** The room whose host invited this person on stage, while they have not answered. */
let invitedIn = null;

/** Watch the room's media once the room is joined (again after a reconnect). */
export function onJoined({ room }) {
  if (room !== state.room) return;
  media.watch(room, $("stage-video")).catch(showError);
}

/**
 * What the stage shows: `video` (a picture plays), `sound` (someone is live but no picture
 * plays: audio only was chosen, slides only and no screen is shared, or nobody sends video) or
 * `waiting` (nobody is on stage: what is coming instead).
 */
function renderPlayer() {
  if (state.view !== "room" || !state.room) return;
  const tracks = roomData()?.tracks ?? [];
  const names = [...new Set(tracks.map((track) => track.publisher.name))];
  const shown = media.watching?.room === state.room ? media.shown : null;
  const mode = shown ? "video" : (names.length ? "sound" : "waiting");
  $("stage-player").dataset.state = mode;
  $("stage-video").hidden = !shown; // a hidden video element still plays its sound
  const status = names.length ? t("stage.live", { names: listFormat(names) }) : t("stage.waiting");
  if ($("stage-status").textContent !== status) $("stage-status").textContent = status;
  const coming = $("stage-coming");
  const key = mode === "waiting" ? comingKey() : `${mode}:${whyNoPicture(tracks)}`;
  if (coming.dataset.key === key) return;
  coming.dataset.key = key;
  if (mode === "video") coming.replaceChildren();
  else if (mode === "sound") coming.replaceChildren(el("p", { text: t(whyNoPicture(tracks)) }));
  else coming.replaceChildren(...comingParts());
}

/** Why someone is live and no picture plays: a key of i18n. */
function whyNoPicture(tracks) {
  if (media.options.audioOnly) return "stage.audioOnlyOn";
  const videos = tracks.filter((track) => track.kind === "video");
  if (!videos.length) return "stage.soundOnly";
  if (media.options.slidesOnly && !videos.some((track) => track.source === "screen")) return "stage.noSlides";
  return "stage.connecting";
}

/** The session the room's programme has now or next (or had last), as `timeline` says. */
function comingKey() {
  const { current } = timeline(state, state.room);
  return current ? `waiting:${current.session.id}:${current.phase}` : "waiting:none";
}

function comingParts() {
  const { current } = timeline(state, state.room);
  if (!current) return [el("p", { class: "stage-coming-label", text: t("room.noSessions") })];
  const { session, phase } = current;
  const label = { live: "stage.dueNow", next: "stage.comingNext" }[phase] ?? "stage.endedLast";
  return [
    el("p", { class: "stage-coming-label", text: t(label) }),
    el("p", { class: "stage-coming-title", text: session.title }),
    el("p", { class: "stage-coming-time" }, sessionTimes(session)),
  ];
}

/** Whether this person may publish in the current room (the server checks again). */
function mayPublish() {
  return isStaff() || Boolean(state.user && roomData()?.onStage.has(state.user.id));
}

export function renderPublishControls() {
  const live = Boolean(media.publishing);
  $("publish-controls").hidden = !state.room || (!mayPublish() && !live);
  const invited = !live && invitedIn !== null && invitedIn === state.room;
  $("stage-invite").hidden = !invited;
  $("go-live").hidden = live || invited;
  for (const id of ["toggle-mic", "toggle-camera", "share-screen", "stop-live", "preview"]) {
    $(id).hidden = !live;
  }
  $("move-row").hidden = !live || !isStaff();
  $("publish-status").textContent = live
    ? t("stage.youAreLive", { room: state.rooms.get(media.publishing.room)?.name ?? "" })
    : "";
  const select = $("move-room");
  select.replaceChildren(...[...state.rooms.values()]
    .filter((room) => room.id !== media.publishing?.room)
    .map((room) => el("option", { value: room.id, text: room.name })));
  renderLiveBanner();
}

/** The header's "You are live in …", shown while the person is live away from that room. */
export function renderLiveBanner() {
  const room = media.publishing?.room ?? null;
  const away = room !== null && !(state.view === "room" && state.room === room);
  $("live-banner").hidden = !away;
  if (!away) return;
  const name = state.rooms.get(room)?.name ?? room;
  $("live-banner-text").textContent = t("stage.liveIn", { room: name });
  $("live-return").textContent = t("stage.returnTo", { room: name });
}

/** Stop a broadcast from the header: its room is left too, unless it is shown. */
function stopFromBanner() {
  stopLive();
  emit("sync-joins");
}

/** Accept a host's invitation: go live with camera and microphone. */
function acceptInvitation() {
  invitedIn = null;
  goLive();
}

/** Decline a host's invitation: give the right to publish here back (the host sees it). */
function declineInvitation() {
  const room = invitedIn;
  invitedIn = null;
  renderPublishControls();
  if (!room || !state.user) return;
  connection.request({ type: "grant_stage", room, user: state.user.id, allowed: false }).catch(showError);
}

async function goLive() {
  $("go-live").disabled = true;
  try {
    await media.publish(state.room, $("preview"));
  } catch (error) {
    showError(error);
  } finally {
    $("go-live").disabled = false;
    renderPublishControls();
  }
}

export function stopLive() {
  media.stopPublishing();
  renderPublishControls();
}

function toggleMedia(kind, button, onKey, offKey) {
  const enabled = media.toggle(kind);
  button.textContent = t(enabled ? onKey : offKey);
}

async function shareScreen() {
  try {
    if (media.publishing?.screen) {
      await media.stopScreen();
      $("share-screen").textContent = t("stage.shareScreen");
    } else {
      await media.shareScreen();
      $("share-screen").textContent = t("stage.stopScreen");
    }
  } catch (error) {
    showError(error);
  }
}

/** Move the stream to another room and follow it there: one action for the host. */
async function moveLive() {
  const to = $("move-room").value;
  if (!to || !media.publishing) return;
  // Join the other room first (the server moves tracks only into a joined room), then
  // follow the stream there.
  const watched = state.watching.has(to);
  state.watching.add(to);
  emit("sync-joins");
  try {
    await media.moveTo(to);
    if (!watched) state.watching.delete(to);
    emit("navigate", "room", to);
  } catch (error) {
    if (!watched) state.watching.delete(to);
    emit("sync-joins");
    showError(error);
  }
}

/** A room is entered: play its stage at once if it is joined already, else once it is (`onJoined`). */
export function enterStage(roomId) {
  const data = roomData(roomId);
  if (data?.ready) {
    media.setTracks(roomId, data.tracks);
    media.watch(roomId, $("stage-video")).catch(showError);
  }
  renderPublishControls();
  renderPlayer();
}

/** What a reducer changed on a room's stage, for the room entered. */
function onChange(room, change) {
  if (change.what === "stage" && change.user === state.user?.id) {
    // This person was brought on stage here (an invitation to answer), or taken off.
    invitedIn = change.allowed ? room : null;
    if (!change.allowed && media.publishing?.room === room) stopLive();
  }
  if (room !== state.room) return;
  switch (change.what) {
    case "snapshot":
      media.setTracks(room, roomData(room).tracks);
      renderPublishControls();
      renderPlayer();
      break;
    case "tracks":
      media.setTracks(room, roomData(room).tracks);
      renderPlayer();
      break;
    case "stage":
      renderPublishControls();
      break;
    default:
      break;
  }
}

export function init() {
  $("go-live").addEventListener("click", goLive);
  $("stop-live").addEventListener("click", stopLive);
  $("toggle-mic").addEventListener("click", (clickEvent) =>
    toggleMedia("audio", clickEvent.target, "stage.mute", "stage.unmute"));
  $("toggle-camera").addEventListener("click", (clickEvent) =>
    toggleMedia("video", clickEvent.target, "stage.cameraOff", "stage.cameraOn"));
  $("share-screen").addEventListener("click", shareScreen);
  $("move-go").addEventListener("click", moveLive);
  $("stage-accept").addEventListener("click", acceptInvitation);
  $("stage-decline").addEventListener("click", declineInvitation);
  $("live-return").addEventListener("click", () => {
    if (media.publishing) emit("navigate", "room", media.publishing.room);
  });
  $("live-stop").addEventListener("click", stopFromBanner);
  $("audio-only").addEventListener("change", (changeEvent) => {
    media.setOptions({ audioOnly: changeEvent.target.checked });
    renderPlayer();
  });
  $("slides-only").addEventListener("change", (changeEvent) => {
    media.setOptions({ slidesOnly: changeEvent.target.checked });
    renderPlayer();
  });
  on("media-shown", renderPlayer);
  on("stage", onChange);
  on("render", renderPlayer);
  on("clock", renderPlayer);
  on("zone", () => {
    delete $("stage-coming").dataset.key;
    renderPlayer();
  });
}
