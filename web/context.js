// The page's one of each: the state (the model of `state.js`), the connection, the media, and
// the topics views subscribe to. Every view imports from here, never from `main.js` nor from
// a view that imports it back: a view asks the page for something (to navigate, to join the
// rooms wanted) by `emit`, and learns what changed by `on`.
//
// Topics (`on(topic, callback)`):
//   room | presence | hands | chat | qa | polls | stage   (room, change): a reducer's change
//   changed   (room)     something in this room changed (the console and the overview watch)
//   enter     (room)     a room is entered: views forget what they showed of the last one
//   render    (room)     draw the entered room from the state
//   zone      ()         the programme's times are shown in another zone
//   clock     ()         every 30 s: what is live now may have moved on
//   drawn     ()         the programme was drawn (the agenda adds its buttons)
//   media-shown ()       the video `media` plays changed (`media.shown`: a track, or none)
//   schedule  ()         the programme was loaded
//   navigate  (view, room?)   asked of the page: show this, with a history entry
//   sync-joins ()        asked of the page: join the rooms wanted, leave the rest

import { createState, roomData as dataOf, isStaff as staffIn, isMe as meIn } from "./state.js";
import { Connection } from "./connection.js";
import { Media } from "./media.js";
import { showError } from "./notice.js";

export const state = createState();
export const connection = new Connection();
export const media = new Media(connection, {
  onShown: () => emit("media-shown"),
  onError: showError,
});
// For tests and the curious: decoded frames of the stage video.
window.plenaryMedia = media;

/** Where this browser keeps the person's personal token. */
export const TOKEN_KEY = "plenary.token";

const listeners = new Map();

export function on(topic, callback) {
  if (!listeners.has(topic)) listeners.set(topic, []);
  listeners.get(topic).push(callback);
}

/** Call `topic`'s subscribers, in the order they subscribed. */
export function emit(topic, ...args) {
  for (const callback of listeners.get(topic) ?? []) callback(...args);
}

/** Tell the views what a reducer changed in `room`. */
export function publish(room, changes) {
  for (const change of changes) emit(change.view, room, change);
  if (changes.length) emit("changed", room);
}

/** The data of a joined room (the entered one unless said), or null. */
export function roomData(room = state.room) {
  return dataOf(state, room);
}

/** Whether this person is staff in `room` (the entered one unless said; `null`: anywhere). */
export function isStaff(room = state.room) {
  return staffIn(state, room);
}

export function isMe(author) {
  return meIn(state, author);
}

/** Whether `room` is the room entered and shown. */
export function isEntered(room) {
  return state.view === "room" && room === state.room;
}
