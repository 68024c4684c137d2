// The client's model: the programme, who this person is, and what it knows of each joined
// room; and the reducers that bring it up to date from the server's frames. No DOM, no
// globals, no imports: the page keeps one state (`context.js`) and `node --test web/` runs
// these alone.
//
// A reducer changes the state it is given and returns what changed, as a list of
// `{view, what, …}`: `view` names the part of the page to bring up to date (room | presence |
// hands | chat | qa | polls | stage), `what` and the rest say what happened, for views that
// update part by part (one chat message appended) or announce it. Views subscribe to those
// names; reducers never render. An empty list: nothing changed (an event seen before, a room
// not joined, a kind this client does not know yet).

/** Roles that moderate (somewhere). */
const STAFF_ROLES = new Set(["moderator", "host", "organiser"]);
/** Chat messages kept per room, unless older ones were asked for. */
export const CHAT_KEEP = 500;

/** A fresh state: nothing loaded, nobody signed in, the programme shown. */
export function createState() {
  return {
    /** The programme from /api/schedule, or null until it is loaded. */
    schedule: null,
    rooms: new Map(),
    sessions: new Map(),
    /** Sessions of each room, sorted by start. */
    sessionsByRoom: new Map(),
    /** The conference days: {date, start, end} with times in ms. */
    days: [],
    /** The conference's time zone when it is not the browser's, else null. */
    venueZone: null,
    /** The person, from `welcome`, with the rooms their token is limited to (or null). */
    user: null,
    /** What is shown: programme | room | console | overview. */
    view: "programme",
    /** The room entered, or null. */
    room: null,
    /** The session whose Q&A is shown in the entered room. */
    selectedSession: null,
    /** Room id -> its data (see `newRoomData`), for every room joined. */
    data: new Map(),
    /** Rooms kept joined besides the entered one (by the console and the overview). */
    watching: new Set(),
    /** Rooms a moderator removed this person from: never joined again. */
    removed: new Set(),
    /** Ids of questions this person asked from this page (for anonymous ones). */
    asked: new Set(),
    /** Sessions this person bookmarked ("my agenda"). */
    bookmarks: new Set(),
    /** Session id -> this person's registration {session, status, position?} (workshops). */
    registrations: new Map(),
    /** Session id -> how its places are taken {capacity, registered, waitlisted} (workshops). */
    seats: new Map(),
  };
}

/** What the client knows of one joined room. */
export function newRoomData() {
  return {
    /** Whether the snapshot has arrived. */
    ready: false,
    chat: new Map(),
    questions: new Map(),
    voted: new Set(),
    /** Sessions whose Q&A is closed. */
    qaClosed: new Set(),
    polls: new Map(),
    /** Poll id -> this person's choices. */
    pollVotes: new Map(),
    /** Until when this person is muted here (ms since the epoch), or null. */
    mutedUntil: null,
    /** For staff: who is muted here, user id -> {user, until (RFC 3339)}. */
    mutedPeople: new Map(),
    /** For staff: chat message id -> how many people flagged it for the moderators. */
    flagged: new Map(),
    /** Chat messages this person flagged from this page. */
    flaggedByMe: new Set(),
    /** People brought on stage here. */
    onStage: new Set(),
    /** The room's live tracks, from the snapshot and `tracks` events. */
    tracks: [],
    /** {count, people?} from the last `presence`. */
    presence: null,
    /** The raised hands, for staff. */
    hands: [],
    /** Whether this person's hand is up. */
    handRaised: false,
    /** Older chat was loaded: keep it rather than trimming to CHAT_KEEP. */
    expanded: false,
    /** The start of the chat has been reached. */
    olderDone: false,
  };
}

/** The data of a joined room (the entered one unless said), or null. */
export function roomData(state, room = state.room) {
  return room ? state.data.get(room) ?? null : null;
}

/**
 * Whether this person is staff in `room` (the entered one unless said; `null`: anywhere). A
 * token may limit its holder to some rooms (`welcome.rooms`); the server enforces it anyway.
 */
export function isStaff(state, room = state.room) {
  if (!state.user || !STAFF_ROLES.has(state.user.role)) return false;
  return !room || !state.user.rooms || state.user.rooms.includes(room);
}

export function isMe(state, author) {
  return Boolean(state.user && author?.id === state.user.id);
}

// ---------------------------------------------------------------------------------------------
// Who this is

/** A `welcome`: who this person is now. Says whether it is the first, and whether the role changed. */
export function applyWelcome(state, { user, rooms }) {
  const firstTime = state.user === null;
  const roleChanged = state.user?.role !== user.role;
  state.user = { ...user, rooms: Array.isArray(rooms) ? rooms : null };
  return { firstTime, roleChanged };
}

// ---------------------------------------------------------------------------------------------
// Programme

/** The programme from /api/schedule; `browserZone` is the browser's IANA time zone. */
export function applySchedule(state, schedule, browserZone) {
  state.schedule = schedule;
  state.rooms = new Map((schedule.rooms ?? []).map((room) => [room.id, room]));
  state.sessions = new Map();
  state.sessionsByRoom = new Map([...state.rooms.keys()].map((id) => [id, []]));
  for (const session of schedule.sessions ?? []) {
    const entry = { ...session, startDate: new Date(session.start), endDate: new Date(session.end) };
    state.sessions.set(session.id, entry);
    if (state.sessionsByRoom.has(session.room)) state.sessionsByRoom.get(session.room).push(entry);
  }
  for (const list of state.sessionsByRoom.values()) {
    list.sort((a, b) => a.startDate - b.startDate || a.endDate - b.endDate);
  }
  const venue = schedule.conference?.timezone;
  state.venueZone = venue && venue !== browserZone ? venue : null;
  state.days = (schedule.days ?? [])
    .map((day) => ({ date: day.date, start: Date.parse(day.start), end: Date.parse(day.end) }))
    .filter((day) => day.start < day.end);
  for (const session of state.sessions.values()) session.day = dayOf(state, session.startDate.getTime());
}

/** The date of the conference day a moment falls in (or the last one begun before it). */
function dayOf(state, time) {
  const within = state.days.find((day) => time >= day.start && time < day.end);
  if (within) return within.date;
  return state.days.findLast((day) => day.start <= time)?.date ?? state.days[0]?.date ?? null;
}

/** The day shown first: today if the conference is on, else the next day, else the last. */
export function defaultDay(state, now = Date.now()) {
  return (state.days.find((day) => now < day.end) ?? state.days.at(-1))?.date ?? null;
}

/** Each session of a room with its state now: live, ended, next (the first to come), later. */
export function timeline(state, roomId, now = Date.now()) {
  const sessions = state.sessionsByRoom.get(roomId) ?? [];
  let nextGiven = false;
  const entries = sessions.map((session) => {
    let phase;
    if (now >= session.endDate.getTime()) phase = "ended";
    else if (now >= session.startDate.getTime()) phase = "live";
    else if (!nextGiven) {
      phase = "next";
      nextGiven = true;
    } else phase = "later";
    return { session, phase };
  });
  const current = entries.find((e) => e.phase === "live")
    ?? entries.find((e) => e.phase === "next")
    ?? entries.at(-1)
    ?? null;
  return { entries, current };
}

// ---------------------------------------------------------------------------------------------
// Rooms: which are joined

/**
 * The rooms to be joined: the entered one, the watched ones and `live`, the one this person
 * publishes in (or null); never one removed from.
 */
export function wantedRooms(state, live = null) {
  const wanted = new Set(state.watching);
  if (state.room) wanted.add(state.room);
  if (live) wanted.add(live);
  for (const room of state.removed) wanted.delete(room);
  return wanted;
}

/** A join was refused: the room is forgotten. Says whether it was joined. */
export function applyJoinRefused(state, room) {
  if (!state.data.has(room)) return false;
  state.data.delete(room);
  state.watching.delete(room);
  return true;
}

/** A moderator removed this person from a room: forgotten, and never joined again. */
export function applyRemoved(state, room) {
  state.removed.add(room);
  state.watching.delete(room);
  state.data.delete(room);
}

// ---------------------------------------------------------------------------------------------
// Rooms: the snapshot, the events, and the frames outside the event log

/** A room's join snapshot (also after a resync): replaces what was known of it. */
export function applySnapshot(state, room, snapshot) {
  const data = state.data.get(room);
  if (!data) return [];
  data.ready = true;
  data.chat = new Map((snapshot.chat ?? []).map((message) => [message.id, message]));
  data.questions = new Map((snapshot.questions ?? []).map((question) => [question.id, question]));
  data.voted = new Set(snapshot.voted ?? []);
  data.qaClosed = new Set(snapshot.qa_closed ?? []);
  data.polls = new Map((snapshot.polls ?? []).map((poll) => [poll.id, poll]));
  data.pollVotes = new Map((snapshot.poll_votes ?? []).map((vote) => [vote.poll, vote.choices ?? []]));
  data.mutedUntil = snapshot.muted_until ? Date.parse(snapshot.muted_until) : null;
  data.mutedPeople = new Map((snapshot.muted ?? []).map((entry) => [entry.user.id, entry]));
  data.flagged = new Map(Object.entries(snapshot.flagged ?? {}).map(([id, flags]) => [Number(id), Number(flags)]));
  data.onStage = new Set(snapshot.on_stage ?? []);
  data.tracks = snapshot.tracks ?? [];
  data.expanded = false;
  data.olderDone = false;
  return ["room", "chat", "qa", "polls", "stage"].map((view) => ({ view, what: "snapshot" }));
}

/** One event of a room's log, in order (the connection drops the ones seen already). */
export function applyEvent(state, room, event) {
  const data = state.data.get(room);
  if (!data) return [];
  switch (event.kind) {
    case "chat": {
      const message = withoutKind(event);
      if (data.chat.has(message.id)) return [];
      data.chat.set(message.id, message);
      const trimmed = [];
      while (!data.expanded && data.chat.size > CHAT_KEEP) {
        const oldest = data.chat.keys().next().value;
        data.chat.delete(oldest);
        trimmed.push(oldest);
      }
      return [{ view: "chat", what: "added", message, trimmed }];
    }
    case "chat_removed":
      data.chat.delete(event.id);
      data.flagged.delete(event.id);
      return [{ view: "chat", what: "removed", id: event.id }];
    case "chat_flagged":
      data.flagged.set(event.id, Number(event.flags) || 0);
      return [{ view: "chat", what: "flagged", id: event.id }];
    case "question": {
      const question = withoutKind(event);
      data.questions.set(question.id, question);
      return [{ view: "qa", what: "question", question }];
    }
    case "qa_state":
      if (event.open) data.qaClosed.delete(event.session);
      else data.qaClosed.add(event.session);
      return [{ view: "qa", what: "qa_state", session: event.session, open: Boolean(event.open) }];
    case "poll": {
      const poll = withoutKind(event);
      const before = data.polls.get(poll.id);
      data.polls.set(poll.id, poll);
      return [{ view: "polls", what: "poll", poll, opened: poll.state === "open" && before?.state !== "open" }];
    }
    case "muted": {
      if (event.user?.id) data.mutedPeople.set(event.user.id, { user: event.user, until: event.until });
      const me = isMe(state, event.user);
      if (me) data.mutedUntil = Date.parse(event.until);
      return [{ view: "chat", what: "muted", user: event.user, until: event.until, me }];
    }
    case "unmuted": {
      data.mutedPeople.delete(event.user?.id);
      const me = isMe(state, event.user);
      if (me) data.mutedUntil = null;
      return [{ view: "chat", what: "unmuted", user: event.user, me }];
    }
    case "person_removed":
      return [{ view: "chat", what: "person_removed", user: event.user }];
    case "tracks":
      data.tracks = event.tracks ?? [];
      return [{ view: "stage", what: "tracks" }];
    case "stage":
      if (event.allowed) data.onStage.add(event.user);
      else data.onStage.delete(event.user);
      return [{ view: "stage", what: "stage", user: event.user, allowed: Boolean(event.allowed) }];
    default:
      return []; // a kind this client does not know yet
  }
}

function withoutKind(event) {
  const { kind, ...rest } = event;
  return rest;
}

/** Who is in a room (`presence`, outside the event log). */
export function applyPresence(state, room, { count, people }) {
  const data = state.data.get(room);
  if (!data) return [];
  data.presence = { count: Number(count) || 0, people: Array.isArray(people) ? people : null };
  return [{ view: "presence", what: "presence" }];
}

/** A workshop room's raised hands (`hands`, outside the event log). */
export function applyHands(state, room, queue) {
  const data = state.data.get(room);
  if (!data) return [];
  data.hands = Array.isArray(queue) ? queue : [];
  data.handRaised = data.hands.some((hand) => isMe(state, hand.user));
  return [{ view: "hands", what: "hands" }];
}

/**
 * A page of older chat (`chat_history`, asked for `page` at most): put before what is kept,
 * which is no longer trimmed. Returns the messages that were new.
 */
export function applyOlderChat(data, messages, page) {
  const older = messages.filter((message) => !data.chat.has(message.id));
  if (messages.length < page) data.olderDone = true;
  data.expanded = true;
  data.chat = new Map([...older.map((message) => [message.id, message]), ...data.chat]);
  return older;
}

/** This person's vote on a question, as they gave it (before the server answers). */
export function applyVote(data, question, voted) {
  if (voted) data.voted.add(question);
  else data.voted.delete(question);
}

/** This person's choices in a poll, once the server counted them. */
export function applyPollVote(data, poll, choices) {
  data.pollVotes.set(poll, [...choices].sort((a, b) => a - b));
}

// ---------------------------------------------------------------------------------------------
// Q&A

/** Whether a question was asked by this person (from this page, or under their name). */
export function isOwnQuestion(state, question) {
  return state.asked.has(question.id) || isMe(state, question.author);
}

/**
 * The questions of a session in a room that this person sees: staff see every one; others
 * neither merged ones nor rejected ones, except their own (which say what became of them).
 */
export function sessionQuestions(state, room, session) {
  const data = state.data.get(room);
  if (!data) return [];
  const staff = isStaff(state, room);
  return [...data.questions.values()].filter((question) => question.session === session
    && (staff || isOwnQuestion(state, question)
      || (question.status !== "merged" && question.status !== "rejected")));
}

// ---------------------------------------------------------------------------------------------
// My agenda

/** The answer to `agenda`: this person's bookmarks and registrations, and everyone's places. */
export function applyAgenda(state, agenda) {
  state.bookmarks = new Set(agenda.bookmarks ?? []);
  state.registrations = new Map((agenda.registrations ?? []).map((entry) => [entry.session, entry]));
  state.seats = new Map((agenda.seats ?? []).map(({ session, ...count }) => [session, count]));
}

/**
 * What registering for a workshop session would give this person now: `{left}` places, or
 * `{position}` on the waitlist; null when the session has no places counted.
 */
export function placeOnOffer(state, session) {
  const seats = state.seats.get(session);
  if (!seats) return null;
  const left = Math.max(0, seats.capacity - seats.registered);
  return left > 0 ? { left } : { position: seats.waitlisted + 1 };
}

export function applyBookmark(state, session, on) {
  if (on) state.bookmarks.add(session);
  else state.bookmarks.delete(session);
}

/** A `registration`: a place taken, a waitlist position, or a place given up. */
export function applyRegistration(state, { session, status, position }) {
  if (status === "unregistered") state.registrations.delete(session);
  else state.registrations.set(session, { session, status, position });
}
