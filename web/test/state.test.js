// The client's reducers (`state.js`), without a browser: `node --test web/`.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  CHAT_KEEP, applyAgenda, applyEvent, applyHands, applyJoinRefused, applyOlderChat, applyPollVote,
  applyPresence, applyRemoved, applySchedule, applySnapshot, applyVote, applyWelcome,
  createState, isOwnQuestion, isStaff, newRoomData, placeOnOffer, sessionQuestions, timeline,
  wantedRooms,
} from "../state.js";

const ROOM = "main-stage";
const ANA = { id: "u-ana", name: "Ana" };
const BEN = { id: "u-ben", name: "Ben" };

/** A state with Ana signed in (as `role`) and ROOM joined, its snapshot not yet in. */
function joined(role = "attendee") {
  const state = createState();
  applyWelcome(state, { user: { ...ANA, role } });
  state.data.set(ROOM, newRoomData());
  state.room = ROOM;
  return state;
}

function chat(id, author = BEN, text = `message ${id}`) {
  return { kind: "chat", id, text, author, at: "2025-06-03T09:00:00Z" };
}

function question(id, fields = {}) {
  return {
    kind: "question", id, session: "keynote", text: `question ${id}`, author: BEN,
    anonymous: false, votes: 0, status: "approved", pinned: false, at: "2025-06-03T09:00:00Z",
    ...fields,
  };
}

const views = (changes) => changes.map((change) => change.view);

test("a snapshot replaces what was known of the room and redraws every part", () => {
  const state = joined();
  const data = state.data.get(ROOM);
  data.chat.set(99, { id: 99, text: "stale" });
  const changes = applySnapshot(state, ROOM, {
    chat: [{ id: 1, text: "hello", author: BEN }],
    questions: [{ id: 7, session: "keynote", status: "approved", votes: 2 }],
    voted: [7],
    qa_closed: ["panel"],
    polls: [{ id: 3, state: "open", question: "Tea?", options: [] }],
    poll_votes: [{ poll: 3, choices: [1] }],
    muted_until: "2025-06-03T10:00:00Z",
    muted: [{ user: BEN, until: "2025-06-03T10:00:00Z" }],
    on_stage: [BEN.id],
    tracks: [{ id: "t1", kind: "video", source: "camera", publisher: BEN }],
  });
  assert.deepEqual(views(changes), ["room", "chat", "qa", "polls", "stage"]);
  assert.ok(changes.every((change) => change.what === "snapshot"));
  assert.equal(data.ready, true);
  assert.deepEqual([...data.chat.keys()], [1]);
  assert.deepEqual([...data.voted], [7]);
  assert.ok(data.qaClosed.has("panel"));
  assert.deepEqual(data.pollVotes.get(3), [1]);
  assert.equal(data.mutedUntil, Date.parse("2025-06-03T10:00:00Z"));
  assert.ok(data.mutedPeople.has(BEN.id));
  assert.ok(data.onStage.has(BEN.id));
  assert.deepEqual(data.tracks.map((track) => track.id), ["t1"]);
});

test("frames about a room not joined change nothing", () => {
  const state = joined();
  assert.deepEqual(applySnapshot(state, "elsewhere", {}), []);
  assert.deepEqual(applyEvent(state, "elsewhere", chat(1)), []);
  assert.deepEqual(applyPresence(state, "elsewhere", { count: 3 }), []);
  assert.deepEqual(applyHands(state, "elsewhere", []), []);
  assert.equal(state.data.size, 1);
});

test("a kind this client does not know changes nothing", () => {
  const state = joined();
  assert.deepEqual(applyEvent(state, ROOM, { kind: "seats", session: "s", capacity: 4 }), []);
});

test("chat: a message is added once, without its kind, and the oldest trimmed past the limit", () => {
  const state = joined();
  const data = state.data.get(ROOM);
  const [added] = applyEvent(state, ROOM, chat(1));
  assert.equal(added.view, "chat");
  assert.equal(added.what, "added");
  assert.equal(added.message.kind, undefined);
  assert.deepEqual(added.trimmed, []);
  // The same message again (a replay) is no change.
  assert.deepEqual(applyEvent(state, ROOM, chat(1)), []);
  assert.equal(data.chat.size, 1);

  for (let id = 2; id <= CHAT_KEEP; id += 1) applyEvent(state, ROOM, chat(id));
  const [over] = applyEvent(state, ROOM, chat(CHAT_KEEP + 1));
  assert.deepEqual(over.trimmed, [1]);
  assert.equal(data.chat.size, CHAT_KEEP);
  assert.equal(data.chat.keys().next().value, 2);
});

test("chat: older messages go first, are kept past the limit, and the start is known", () => {
  const state = joined();
  const data = state.data.get(ROOM);
  applySnapshot(state, ROOM, { chat: [{ id: 60, text: "a" }, { id: 61, text: "b" }] });
  const page = [{ id: 58, text: "x" }, { id: 59, text: "y" }, { id: 60, text: "a" }];
  const older = applyOlderChat(data, page, 50);
  assert.deepEqual(older.map((message) => message.id), [58, 59]);
  assert.deepEqual([...data.chat.keys()], [58, 59, 60, 61]);
  assert.equal(data.olderDone, true, "a short page is the start of the chat");
  assert.equal(data.expanded, true);
  for (let id = 62; id < 62 + CHAT_KEEP; id += 1) applyEvent(state, ROOM, chat(id));
  assert.equal(data.chat.size, CHAT_KEEP + 4, "expanded chat is not trimmed");
});

test("chat: staff learn which messages were flagged, and a removed one is no longer flagged", () => {
  const state = joined("moderator");
  const data = state.data.get(ROOM);
  applySnapshot(state, ROOM, { chat: [chat(1)], flagged: { 1: 2 } });
  assert.equal(data.flagged.get(1), 2);
  assert.deepEqual(applyEvent(state, ROOM, { kind: "chat_flagged", id: 1, flags: 3 }), [
    { view: "chat", what: "flagged", id: 1 },
  ]);
  assert.equal(data.flagged.get(1), 3);
  applyEvent(state, ROOM, { kind: "chat_removed", id: 1 });
  assert.equal(data.flagged.size, 0);
});

test("chat: a removed message leaves the room's chat", () => {
  const state = joined();
  applyEvent(state, ROOM, chat(1));
  assert.deepEqual(applyEvent(state, ROOM, { kind: "chat_removed", id: 1 }), [
    { view: "chat", what: "removed", id: 1 },
  ]);
  assert.equal(state.data.get(ROOM).chat.size, 0);
});

test("Q&A: attendees see approved questions and their own rejected or merged ones; staff see all", () => {
  const state = joined();
  applyEvent(state, ROOM, question(1));
  applyEvent(state, ROOM, question(2, { status: "rejected" }));
  applyEvent(state, ROOM, question(3, { status: "rejected", author: ANA }));
  applyEvent(state, ROOM, question(4, { status: "merged", merged_into: 1 }));
  applyEvent(state, ROOM, question(5, { status: "rejected", anonymous: true, author: undefined }));
  applyEvent(state, ROOM, question(6, { session: "panel" }));
  applyEvent(state, ROOM, question(7, { status: "merged", merged_into: 1, author: ANA }));
  state.asked.add(5); // asked anonymously from this page
  const ids = () => sessionQuestions(state, ROOM, "keynote").map((shown) => shown.id).sort();
  assert.deepEqual(ids(), [1, 3, 5, 7]);
  assert.ok(isOwnQuestion(state, state.data.get(ROOM).questions.get(7)));
  assert.ok(!isOwnQuestion(state, state.data.get(ROOM).questions.get(1)));

  applyWelcome(state, { user: { ...ANA, role: "moderator" } });
  assert.deepEqual(ids(), [1, 2, 3, 4, 5, 7]);
});

test("Q&A: a pending question is approved by its next event, and its votes follow", () => {
  const state = joined("moderator");
  const data = state.data.get(ROOM);
  const [pending] = applyEvent(state, ROOM, question(1, { status: "pending" }));
  assert.equal(pending.view, "qa");
  assert.equal(pending.question.status, "pending");
  applyEvent(state, ROOM, question(1, { status: "approved", votes: 3 }));
  assert.equal(data.questions.size, 1);
  assert.equal(data.questions.get(1).status, "approved");
  assert.equal(data.questions.get(1).votes, 3);

  applyVote(data, 1, true);
  assert.ok(data.voted.has(1));
  applyVote(data, 1, false);
  assert.ok(!data.voted.has(1));
});

test("Q&A: closing and reopening a session's questions", () => {
  const state = joined();
  const data = state.data.get(ROOM);
  const [closed] = applyEvent(state, ROOM, { kind: "qa_state", session: "keynote", open: false });
  assert.deepEqual(closed, { view: "qa", what: "qa_state", session: "keynote", open: false });
  assert.ok(data.qaClosed.has("keynote"));
  applyEvent(state, ROOM, { kind: "qa_state", session: "keynote", open: true });
  assert.ok(!data.qaClosed.has("keynote"));
});

test("polls: a poll is replaced whole, and its opening is told once", () => {
  const state = joined("host");
  const data = state.data.get(ROOM);
  const poll = { kind: "poll", id: 3, room: ROOM, question: "Tea?", options: [{ text: "Yes" }, { text: "No" }], multiple: false, results_visible: false };
  assert.equal(applyEvent(state, ROOM, { ...poll, state: "draft" })[0].opened, false);
  const [opened] = applyEvent(state, ROOM, { ...poll, state: "open" });
  assert.equal(opened.view, "polls");
  assert.equal(opened.opened, true);
  assert.equal(opened.poll.kind, undefined);
  assert.equal(applyEvent(state, ROOM, { ...poll, state: "open", voters: 1 })[0].opened, false);
  assert.equal(data.polls.get(3).voters, 1);
  applyPollVote(data, 3, [1, 0]);
  assert.deepEqual(data.pollVotes.get(3), [0, 1]);
});

test("mutes: this person's own mute, and others' for staff", () => {
  const state = joined("moderator");
  const data = state.data.get(ROOM);
  const until = "2025-06-03T10:00:00Z";
  const [other] = applyEvent(state, ROOM, { kind: "muted", user: BEN, until });
  assert.equal(other.me, false);
  assert.equal(data.mutedUntil, null);
  assert.deepEqual(data.mutedPeople.get(BEN.id), { user: BEN, until });

  const [me] = applyEvent(state, ROOM, { kind: "muted", user: ANA, until });
  assert.equal(me.me, true);
  assert.equal(data.mutedUntil, Date.parse(until));
  applyEvent(state, ROOM, { kind: "unmuted", user: ANA });
  assert.equal(data.mutedUntil, null);
  applyEvent(state, ROOM, { kind: "unmuted", user: BEN });
  assert.equal(data.mutedPeople.size, 0);

  assert.deepEqual(applyEvent(state, ROOM, { kind: "person_removed", user: BEN }), [
    { view: "chat", what: "person_removed", user: BEN },
  ]);
});

test("joins: the room this person is live in stays wanted while they look around", () => {
  const state = joined();
  state.room = null;
  assert.deepEqual([...wantedRooms(state)], []);
  assert.deepEqual([...wantedRooms(state, ROOM)], [ROOM]);
  state.room = "workshop-1";
  assert.deepEqual([...wantedRooms(state, ROOM)].sort(), [ROOM, "workshop-1"]);
});

test("removals: a room this person was removed from is forgotten and never wanted again", () => {
  const state = joined();
  state.watching.add("workshop-1");
  state.data.set("workshop-1", newRoomData());
  applyRemoved(state, ROOM);
  assert.ok(!state.data.has(ROOM));
  assert.ok(state.removed.has(ROOM));
  assert.deepEqual([...wantedRooms(state)], ["workshop-1"], "the entered room is not wanted back");

  assert.equal(applyJoinRefused(state, "workshop-1"), true);
  assert.ok(!state.watching.has("workshop-1") && !state.data.has("workshop-1"));
  assert.equal(applyJoinRefused(state, "workshop-1"), false, "told once");
});

test("media: the room's tracks and who is on stage", () => {
  const state = joined();
  const data = state.data.get(ROOM);
  const tracks = [{ id: "a1", kind: "audio", source: "microphone", publisher: BEN }];
  assert.deepEqual(applyEvent(state, ROOM, { kind: "tracks", tracks }), [{ view: "stage", what: "tracks" }]);
  assert.deepEqual(data.tracks, tracks);
  applyEvent(state, ROOM, { kind: "tracks" });
  assert.deepEqual(data.tracks, []);

  const [onStage] = applyEvent(state, ROOM, { kind: "stage", user: ANA.id, allowed: true });
  assert.deepEqual(onStage, { view: "stage", what: "stage", user: ANA.id, allowed: true });
  assert.ok(data.onStage.has(ANA.id));
  applyEvent(state, ROOM, { kind: "stage", user: ANA.id, allowed: false });
  assert.ok(!data.onStage.has(ANA.id));
});

test("reconnection: events replayed after a resume change nothing, a resync starts over", () => {
  const state = joined();
  const data = state.data.get(ROOM);
  applySnapshot(state, ROOM, { chat: [{ id: 1, text: "one", author: BEN }] });
  applyEvent(state, ROOM, chat(2));
  // Resumed with `since`: the replay overlaps what was seen.
  for (const id of [2, 3]) applyEvent(state, ROOM, chat(id));
  assert.deepEqual([...data.chat.keys()], [1, 2, 3]);
  // A resync snapshot replaces it all.
  applySnapshot(state, ROOM, { chat: [{ id: 3, text: "three", author: BEN }] });
  assert.deepEqual([...data.chat.keys()], [3]);
});

test("presence and hands: whether this person's hand is up", () => {
  const state = joined("host");
  const data = state.data.get(ROOM);
  assert.deepEqual(applyPresence(state, ROOM, { count: "2", people: [ANA, BEN] }), [
    { view: "presence", what: "presence" },
  ]);
  assert.deepEqual(data.presence, { count: 2, people: [ANA, BEN] });
  applyPresence(state, ROOM, { count: 1, people: "nobody" });
  assert.equal(data.presence.people, null);

  applyHands(state, ROOM, [{ user: BEN, at: "2025-06-03T09:00:00Z" }, { user: ANA, at: "2025-06-03T09:01:00Z" }]);
  assert.equal(data.handRaised, true);
  applyHands(state, ROOM, null);
  assert.deepEqual(data.hands, []);
  assert.equal(data.handRaised, false);
});

test("who is staff where: by role, and within the rooms a token is limited to", () => {
  const state = createState();
  assert.deepEqual(applyWelcome(state, { user: { ...ANA, role: "attendee" } }), { firstTime: true, roleChanged: true });
  assert.equal(isStaff(state, null), false);
  assert.deepEqual(applyWelcome(state, { user: { ...ANA, role: "host" }, rooms: ["workshop-1"] }), { firstTime: false, roleChanged: true });
  assert.equal(isStaff(state, null), true);
  assert.equal(isStaff(state, "workshop-1"), true);
  assert.equal(isStaff(state, "workshop-2"), false);
  assert.deepEqual(applyWelcome(state, { user: { ...ANA, role: "host" } }), { firstTime: false, roleChanged: false });
  assert.equal(isStaff(state, "workshop-2"), true);
});

test("the programme: days, and each room's sessions live, ended, next and later", () => {
  const state = createState();
  applySchedule(state, {
    conference: { name: "Demo", timezone: "Europe/Berlin" },
    rooms: [{ id: ROOM, name: "Main stage", kind: "stage" }],
    days: [
      { date: "2025-06-03", start: "2025-06-03T06:00:00Z", end: "2025-06-03T20:00:00Z" },
      { date: "2025-06-04", start: "2025-06-04T06:00:00Z", end: "2025-06-04T20:00:00Z" },
    ],
    sessions: [
      { id: "late", room: ROOM, kind: "talk", title: "Late", start: "2025-06-04T09:00:00Z", end: "2025-06-04T10:00:00Z" },
      { id: "open", room: ROOM, kind: "keynote", title: "Open", start: "2025-06-03T09:00:00Z", end: "2025-06-03T10:00:00Z" },
      { id: "panel", room: ROOM, kind: "panel", title: "Panel", start: "2025-06-03T11:00:00Z", end: "2025-06-03T12:00:00Z" },
      { id: "lost", room: "nowhere", kind: "talk", title: "Lost", start: "2025-06-03T11:00:00Z", end: "2025-06-03T12:00:00Z" },
    ],
  }, "Asia/Kolkata");
  assert.equal(state.venueZone, "Europe/Berlin");
  assert.equal(state.sessions.get("late").day, "2025-06-04");
  assert.equal(state.sessions.get("open").day, "2025-06-03");
  const at = Date.parse("2025-06-03T09:30:00Z");
  const { entries, current } = timeline(state, ROOM, at);
  assert.deepEqual(entries.map(({ session, phase }) => [session.id, phase]), [
    ["open", "live"], ["panel", "next"], ["late", "later"],
  ]);
  assert.equal(current.session.id, "open");

  applySchedule(state, { conference: { timezone: "Asia/Kolkata" } }, "Asia/Kolkata");
  assert.equal(state.venueZone, null, "the browser's own zone is not a second one");
});

test("agenda: a workshop session offers its places left, or where on the waitlist one would be", () => {
  const state = createState();
  applyAgenda(state, {
    bookmarks: [], registrations: [],
    seats: [
      { session: "open", capacity: 40, registered: 28, waitlisted: 0 },
      { session: "full", capacity: 2, registered: 2, waitlisted: 2 },
    ],
  });
  assert.deepEqual(placeOnOffer(state, "open"), { left: 12 });
  assert.deepEqual(placeOnOffer(state, "full"), { position: 3 });
  assert.equal(placeOnOffer(state, "talk"), null);
});
