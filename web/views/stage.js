// The entered room's stage: what plays (who is live, the video and its audio-only and
// slides-only options; when nobody is on stage, what is coming; when there is sound but no
// picture, why), and for hosts and people brought on stage, going live with camera,
// microphone and screen, and moving the stream to another room. The media itself is
// `media.js`'s; this draws it and asks it.

import { t } from "../i18n.js";
import { $, el } from "../dom.js";
import { state, media, roomData, isStaff, emit, on } from "../context.js";
import { timeline } from "../state.js";
import { showError, showNotice } from "../notice.js";
import { listFormat, sessionTimes } from "./common.js";

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
  $("go-live").hidden = live;
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
      if (change.user === state.user?.id) {
        if (!change.allowed) stopLive();
        else showNotice(t("stage.onStage"));
      }
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
