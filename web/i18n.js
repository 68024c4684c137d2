// Every user-facing string of the client, and the formatting of dates and times.
//
// To add a language, add an object to `messages` under its BCP 47 base tag (e.g. `fr`) with
// the same keys; a key missing there falls back to English. A value is either a string with
// `{name}` placeholders, or an object of plural forms (`one`, `other`, … as Intl.PluralRules
// names them) chosen by the `count` parameter.

const messages = {
  en: {
    "app.title": "Plenary",
    "app.loading": "Loading the programme…",
    "app.skip": "Skip to content",

    "status.idle": "Not connected",
    "status.connecting": "Connecting…",
    "status.online": "Online",
    "status.offline": "Offline, reconnecting…",

    "user.label": "Signed in as",
    "user.summary": "{name} ({role})",

    "nav.staff": "Staff tools",
    "nav.console": "Moderator console",
    "nav.roomsOverview": "My rooms",

    "role.attendee": "Attendee",
    "role.moderator": "Moderator",
    "role.host": "Host",
    "role.organiser": "Organiser",

    "join.heading": "Join the conference",
    "join.introGuest": "Choose the name other attendees will see next to your messages and questions.",
    "join.introInvite": "You have been invited. Choose the name other attendees will see.",
    "join.name": "Your name",
    "join.submit": "Join",
    "join.nameEmpty": "Please enter a name.",
    "join.inviteOnlyHeading": "This conference is for invited people",
    "join.inviteOnly": "You need your own invite link to join. Open the link the organisers sent you (by email or message); if you have none, ask them for one. You can still read the programme below.",

    "programme.heading": "Programme",
    "programme.timezoneSame": "Times are shown in your time zone, {zone}.",
    "programme.timezoneVenue": "Times are shown in the conference's time zone, {zone}.",
    "programme.showTimesIn": "Show times in",
    "programme.zoneLocal": "My time zone ({zone})",
    "programme.zoneVenue": "The conference's ({zone})",
    "programme.days": "Conference days",
    "programme.filterTrack": "Track",
    "programme.allTracks": "All tracks",
    "programme.filterKind": "Kind",
    "programme.allKinds": "All kinds",
    "programme.now": "Now and next",
    "programme.nothingNow": "Nothing is on now, and nothing more is planned.",
    "programme.startsIn": { one: "Starts in {count} minute", other: "Starts in {count} minutes" },
    "programme.startsInHours": { one: "Starts in {hours} h {count} minute", other: "Starts in {hours} h {count} minutes" },
    "programme.noMatch": "No session matches these filters on this day.",
    "programme.enter": "Enter {room}",
    "programme.empty": "No sessions in this room.",
    "programme.unavailable": "The programme could not be loaded. Retrying…",
    "programme.speakers": "With {speakers}",
    "programme.capacity": { one: "{count} seat", other: "{count} seats" },

    "roomKind.stage": "Stage",
    "roomKind.workshop": "Workshop room",

    "kind.keynote": "Keynote",
    "kind.panel": "Panel",
    "kind.workshop": "Workshop",
    "kind.talk": "Talk",
    "kind.break": "Break",

    "badge.live": "Live now",
    "badge.ended": "Ended",
    "badge.next": "Up next",

    "time.range": "{start} to {end}",

    "room.back": "Back to programme",
    "room.now": "Live now",
    "room.next": "Up next",
    "room.last": "Last session",
    "room.noSessions": "There are no sessions in this room.",
    "room.session": "Q&A for session",
    "room.sessionOption": "{time}: {title}",
    "room.joining": "Joining the room…",
    "room.tabs": "Chat, questions and polls",
    "room.removed": "A moderator removed you from {room}. You cannot enter it again.",
    "room.removedBefore": "A moderator removed you from {room}, so you cannot enter it.",

    "presence.here": { one: "{count} here", other: "{count} here" },
    "presence.peopleHeading": "People in this room",

    "reactions.heading": "Reactions",
    "reactions.send": "React: {name}",
    "reaction.applause": "applause",
    "reaction.love": "love",
    "reaction.laughter": "laughter",
    "reaction.celebrate": "celebrate",
    "reaction.thinking": "thinking",
    "reaction.thumbsUp": "thumbs up",
    "reactionLabel.applause": "Applause",
    "reactionLabel.love": "Love",
    "reactionLabel.laughter": "Laughter",
    "reactionLabel.celebrate": "Celebrate",
    "reactionLabel.thinking": "Thinking",
    "reactionLabel.thumbsUp": "Thumbs up",

    "hand.heading": "Raise your hand",
    "hand.raise": "Raise hand",
    "hand.lower": "Lower hand",
    "hand.queueHeading": "Raised hands",
    "hand.queueEmpty": "No hands raised.",
    "hand.raisedAt": "since {time}",
    "hand.lowerOne": "Lower",
    "hand.lowerFor": "Lower the hand of {name}",
    "hand.clearAll": "Lower all hands",

    "stage.heading": "Stage",
    "stage.waiting": "Nobody is on stage yet.",
    "stage.live": "Live: {names}",
    "stage.audioOnly": "Audio only",
    "stage.slidesOnly": "Slides only",
    "stage.controls": "Watching",
    "stage.options": "What to receive",
    "stage.audioOnlyOn": "Audio only: you hear the stage and receive no video.",
    "stage.noSlides": "Slides only: nobody is sharing a screen right now.",
    "stage.soundOnly": "Sound only: nobody on stage is sending video.",
    "stage.connecting": "Connecting to the stage…",
    "stage.dueNow": "On the programme now",
    "stage.comingNext": "Coming up",
    "stage.endedLast": "The last session here has ended",
    "stage.goLive": "Go live with camera and microphone",
    "stage.stop": "Stop",
    "stage.mute": "Mute microphone",
    "stage.unmute": "Unmute microphone",
    "stage.cameraOff": "Turn camera off",
    "stage.cameraOn": "Turn camera on",
    "stage.shareScreen": "Share screen",
    "stage.stopScreen": "Stop sharing",
    "stage.moveTo": "Move my stream to",
    "stage.move": "Move",
    "stage.youAreLive": "You are live in {room}.",
    "stage.invited": "A host invites you on stage. Your camera and microphone start when you accept.",
    "stage.accept": "Go on stage",
    "stage.decline": "Decline",
    "stage.invite": "Invite on stage",
    "stage.inviteFor": "Invite {name} on stage",
    "stage.takeOff": "Take off stage",
    "stage.takeOffFor": "Take {name} off stage",
    "stage.liveIn": "You are live in {room}",
    "stage.returnTo": "Back to {room}",
    "stage.stopBroadcast": "Stop broadcasting",

    "chat.heading": "Chat",
    "chat.empty": "No messages yet. Say hello!",
    "chat.label": "Message",
    "chat.send": "Send",
    "chat.remove": "Remove",
    "chat.removeLabel": "Remove message by {name}",
    "chat.flag": "Flag",
    "chat.flagged": "Flagged",
    "chat.flagLabel": "Flag the message by {name} for the moderators",
    "chat.flagThanks": "Thank you: the moderators were told.",
    "chat.flaggedBy": { one: "Flagged by {count} person", other: "Flagged by {count} people" },
    "chat.removeConfirm": "Remove this message by {name} for everyone? This cannot be undone.",
    "chat.removeYes": "Yes, remove",
    "chat.you": "(you)",
    "chat.older": "Load older messages",
    "chat.olderLoaded": { one: "{count} older message loaded.", other: "{count} older messages loaded." },
    "chat.start": "This is the start of the chat.",
    "chat.reply": "Reply",
    "chat.offline": "You are offline. What you send now goes out when the connection is back.",
    "chat.offlineWaiting": {
      one: "You are offline. {count} message will be sent when the connection is back.",
      other: "You are offline. {count} messages will be sent when the connection is back.",
    },
    "chat.waiting": "(waiting to be sent)",
    "chat.replyLabel": "Reply to {name}",
    "chat.replying": "Replying to {name}",
    "chat.replyCancel": "Cancel reply",
    "chat.quoteAuthor": "{name} wrote:",
    "chat.mentionedYou": "{name} mentioned you: {text}",
    "chat.personMenu": "Moderate…",
    "chat.personMenuLabel": "Moderate {name}",
    "chat.muted": "A moderator muted you in this room until {time}. You can still read the chat.",
    "chat.mutedOther": "{name} is muted until {time}.",
    "chat.mutedPeople": "Muted in this room",
    "chat.mutedPerson": "{name}, until {time}",
    "chat.unmutePerson": "Unmute {name}",
    "chat.unmutedOther": "{name} may chat again.",
    "chat.removedOther": "{name} was removed from the room.",

    "sanction.mute-short": "Mute for {minutes} minutes",
    "sanction.mute-day": "Mute for the day",
    "sanction.unmute": "Unmute",
    "sanction.remove": "Remove from room",
    "sanction.mute-short.confirm": "Mute {name} for {minutes} minutes?",
    "sanction.mute-day.confirm": "Mute {name} for the rest of the day?",
    "sanction.unmute.confirm": "Let {name} chat again?",
    "sanction.remove.confirm": "Remove {name} from this room? They will not be able to come back.",
    "sanction.mute-short.yes": "Yes, mute",
    "sanction.mute-day.yes": "Yes, mute",
    "sanction.unmute.yes": "Yes, unmute",
    "sanction.remove.yes": "Yes, remove",
    "sanction.mute-short.done": "{name} is muted for {minutes} minutes.",
    "sanction.mute-day.done": "{name} is muted for the day.",
    "sanction.unmute.done": "{name} may chat again.",
    "sanction.remove.done": "{name} was removed from the room.",
    "sanction.cancel": "Cancel",

    "qa.heading": "Questions",
    "qa.ask": "Your question",
    "qa.anonymous": "Ask anonymously",
    "qa.submit": "Ask",
    "qa.moderated": "Questions are reviewed by a moderator before everyone sees them.",
    "qa.sentModerated": "Thank you! Your question will appear once a moderator approves it.",
    "qa.sent": "Thank you! Your question was posted.",
    "qa.empty": "No questions yet.",
    "qa.emptyFilter": "No questions here.",
    "qa.anonymousAuthor": "Anonymous",
    "qa.anonymousStaff": "Anonymous ({name})",
    "qa.vote": "Upvote",
    "qa.voted": "Voted",
    "qa.voteLabel": "Upvote: {text}",
    "qa.unvoteLabel": "Withdraw your vote: {text}",
    "qa.sort": "Order",
    "qa.sortVotes": "Most voted",
    "qa.sortNewest": "Newest",
    "qa.number": "#{id}",
    "qa.edited": "(edited)",
    "qa.mergedInto": "Merged into #{id}",
    "qa.mergedIntoText": "Merged into: “{text}”",
    "qa.mergedIntoHidden": "Merged into another question, not published yet.",
    "qa.followMerged": "Show it",
    "qa.editLabel": "Edit the question",
    "qa.editSave": "Save",
    "qa.editCancel": "Cancel",
    "qa.mergeLabel": "Merge into question",
    "qa.mergeOption": "#{id}: {text}",
    "qa.mergeSave": "Merge",
    "qa.mergeNone": "There is no other question in this session to merge into.",
    "qa.closed": "Questions for this session are closed.",
    "qa.close": "Close questions",
    "qa.reopen": "Open questions",
    "qa.closedAnnounce": "Questions for {title} are now closed.",
    "qa.openedAnnounce": "Questions for {title} are open.",
    "qa.votes": { one: "vote", other: "votes" },
    "qa.pinned": "Pinned",
    "qa.filter": "Show",
    "qa.filterAll": "All ({count})",
    "qa.filterPending": "Waiting for approval ({count})",
    "qa.filterPublished": "Published ({count})",
    "qa.filterRejected": "Rejected ({count})",
    "qa.queue": { one: "{count} question is waiting for approval.", other: "{count} questions are waiting for approval." },

    "question.pending": "Waiting for approval",
    "question.approved": "Approved",
    "question.rejected": "Rejected",
    "question.answered": "Answered",
    "question.merged": "Merged",

    "action.approve": "Approve",
    "action.reject": "Reject",
    "action.pin": "Pin",
    "action.unpin": "Unpin",
    "action.answered": "Mark answered",
    "action.restore": "Restore",
    "action.edit": "Edit",
    "action.merge": "Merge…",

    "log.open": "Moderation log",
    "log.heading": "Moderation log: {title}",
    "log.empty": "Nothing has been moderated in this session yet.",
    "log.at": "Time",
    "log.by": "By",
    "log.action": "Action",
    "log.question": "Question",
    "log.detail": "Detail",
    "log.export": "Export CSV",
    "log.refresh": "Refresh",
    "log.close": "Close log",

    "logAction.approve": "Approved",
    "logAction.reject": "Rejected",
    "logAction.restore": "Restored",
    "logAction.pin": "Pinned",
    "logAction.unpin": "Unpinned",
    "logAction.answered": "Marked answered",
    "logAction.edit": "Edited",
    "logAction.merge": "Merged",
    "logAction.qa_open": "Opened questions",
    "logAction.qa_close": "Closed questions",

    "polls.heading": "Polls",
    "polls.new": "New poll",
    "polls.question": "Question",
    "polls.options": "Options",
    "polls.optionLabel": "Option {number}",
    "polls.addOption": "Add option",
    "polls.removeOption": "Remove",
    "polls.removeOptionLabel": "Remove option {number}",
    "polls.multiple": "People may choose several options",
    "polls.create": "Create draft",
    "polls.cancel": "Cancel",
    "polls.created": "The poll was created as a draft. Open it when you are ready.",
    "polls.needQuestion": "Please write the question.",
    "polls.needOptions": "Please give at least {count} options.",
    "polls.empty": "No polls yet.",
    "polls.state.draft": "Draft",
    "polls.state.open": "Open",
    "polls.state.closed": "Closed",
    "polls.multipleNote": "Several choices allowed.",
    "polls.resultsShown": "Results are shown to everyone.",
    "polls.resultsHidden": "Results are shown to staff only.",
    "polls.action.open": "Open",
    "polls.action.close": "Close",
    "polls.action.reopen": "Reopen",
    "polls.action.show_results": "Show results",
    "polls.action.hide_results": "Hide results",
    "polls.draftNote": "Only staff can see this poll until it is opened.",
    "polls.closedNote": "Voting has closed.",
    "polls.vote": "Vote",
    "polls.changeVote": "Change vote",
    "polls.yourChoice": "Your choice: {choice}",
    "polls.chosen": "(your choice)",
    "polls.chooseFirst": "Choose an option first.",
    "polls.voteCounted": "Your vote was counted.",
    "polls.resultsHiddenNote": "The results are not shown yet.",
    "polls.resultsLabel": "Results",
    "polls.votes": { one: "vote ({percent}%)", other: "votes ({percent}%)" },
    "polls.voters": { one: "{count} person voted.", other: "{count} people voted." },
    "polls.openedAnnounce": "New poll: {question}",

    "console.heading": "Moderator console",
    "console.intro": "Questions waiting for approval and the latest chat in every room, live.",
    "console.chat": "Latest chat",
    "console.chatEmpty": "No chat here yet.",
    "console.chatRemoved": "The message by {name} was removed.",
    "console.enter": "Enter {room}",
    "console.waiting": { one: "{count} waiting", other: "{count} waiting" },
    "console.nothing": "Nothing is waiting here.",
    "console.summary": { one: "{count} question waiting for approval.", other: "{count} questions waiting for approval, in {rooms} rooms." },
    "console.summaryNone": "No questions are waiting for approval.",

    "overview.heading": "My rooms",
    "overview.intro": "Your workshop rooms side by side. They stay joined while you are in one of them.",
    "overview.go": "Go to {room}",
    "overview.none": "There are no workshop rooms.",
    "overview.people": "People",
    "overview.unknown": "Not known yet",
    "overview.hands": "Raised hands",
    "overview.handsCount": { one: "{count} hand", other: "{count} hands" },
    "overview.pending": "Questions waiting",
    "overview.chat": "Latest chat",

    "notice.dismiss": "Dismiss",

    "agenda.heading": "My agenda",
    "agenda.empty": "Nothing yet: add sessions with “Add to my agenda”.",
    "agenda.bookmark": "☆ Add to my agenda",
    "agenda.bookmarked": "★ In my agenda",
    "agenda.register": "Register",
    "agenda.unregister": "Give up my place",
    "agenda.leaveWaitlist": "Leave the waitlist",
    "agenda.registered": "You have a place.",
    "agenda.waitlisted": "On the waitlist: number {position}.",
    "agenda.promoted": "A place freed up: you are now registered for “{title}”.",
    "agenda.reminder": { one: "“{title}” starts in {count} minute.", other: "“{title}” starts in {count} minutes." },
    "agenda.calendar": "Add my agenda to my calendar (iCalendar)",
    "agenda.placesLeft": { one: "{count} place left.", other: "{count} places left." },
    "agenda.full": "Full — join the waitlist (you would be {position}).",
    "agenda.joinWaitlist": "Join the waitlist",

    "ordinal": { one: "{count}st", two: "{count}nd", few: "{count}rd", other: "{count}th" },

    "error.bad_request": "The server did not understand that request.",
    "error.unknown_type": "The server does not support that action.",
    "error.unauthorized": "You are not signed in, or your link has expired.",
    "error.forbidden": "You are not allowed to do that.",
    "error.not_found": "That no longer exists.",
    "error.not_joined": "Enter the room first.",
    "error.too_large": "That is too long.",
    "error.rate_limited": "You are sending messages too fast. Please wait a moment.",
    "error.too_many_connections": "You have this conference open in too many tabs or devices. Close one and try again.",
    "error.conflict": "That cannot be done right now.",
    "error.qa_closed": "Questions for this session are closed.",
    "error.muted": "A moderator muted you in this room.",
    "error.full": "This workshop is full. Register for it to get the next place that frees.",
    "error.internal": "Something went wrong on the server. Please try again.",
    "error.disconnected": "The connection dropped before the server answered. Please try again.",
    "error.offline": "You are offline. Please wait until the connection is back.",
    "error.inviteInvalid": "Your invite link is not valid any more. You can still join as a guest.",
    "error.tokenInvalid": "Your sign-in has expired. Please enter your name to join again.",
  },
};

/** The language in use: the first of the browser's preferred languages we have, else "en". */
export const lang = pickLanguage();

function pickLanguage() {
  const wanted = (typeof navigator !== "undefined" &&
    (navigator.languages?.length ? navigator.languages : [navigator.language])) || [];
  for (const tag of wanted) {
    if (!tag) continue;
    if (messages[tag]) return tag;
    const base = tag.toLowerCase().split("-")[0];
    if (messages[base]) return base;
  }
  return "en";
}

const plurals = new Intl.PluralRules(lang);
const ordinals = new Intl.PluralRules(lang, { type: "ordinal" });

/**
 * The translation of `key` with `{placeholders}` filled from `params`. An unknown key yields
 * the key itself, so a missing string is visible rather than blank.
 */
export function t(key, params = {}) {
  let value = messages[lang]?.[key] ?? messages.en[key];
  if (value === undefined) return key;
  if (typeof value === "object") {
    const count = Number(params.count ?? 0);
    value = value[plurals.select(count)] ?? value.other;
  }
  return value.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole);
}

/** "3rd": a position in a line, as the language writes it. */
export function ordinal(count) {
  const forms = messages[lang]?.ordinal ?? messages.en.ordinal;
  const form = forms[ordinals.select(count)] ?? forms.other;
  return form.replace("{count}", String(count));
}

/** Whether a translation exists for `key` (used to fall back to a server's message). */
export function has(key) {
  return key in (messages[lang] ?? {}) || key in messages.en;
}

/** The browser's own IANA time zone, e.g. "Europe/Berlin". */
export const timeZone = new Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/**
 * The locale dates and times are written in: the browser's own first choice when it is a
 * variant of the language in use ("en-GB" writes 14:30 where "en" writes 2:30 PM), else that
 * language.
 */
const dateLocale = (() => {
  const first = typeof navigator !== "undefined" ? navigator.languages?.[0] ?? navigator.language : null;
  return first && first.toLowerCase().split("-")[0] === lang ? first : lang;
})();

/** The formatters of one time zone (Intl formatters are costly to make, so they are kept). */
function formattersFor(zone) {
  const make = (options) => new Intl.DateTimeFormat(dateLocale, { ...options, timeZone: zone });
  return {
    zone,
    dayAndTime: make({ weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" }),
    timeWithZone: make({ hour: "numeric", minute: "2-digit", timeZoneName: "short" }),
    dayTimeWithZone: make({
      weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit",
      timeZoneName: "short",
    }),
    timeOnly: make({ hour: "numeric", minute: "2-digit" }),
    dayKey: new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit", timeZone: zone }),
  };
}

let shown = formattersFor(timeZone);

/**
 * Show times in `zone` (an IANA name) from now on; an unknown zone leaves the browser's.
 * Returns the zone in use.
 */
export function setDisplayZone(zone) {
  try {
    shown = formattersFor(zone || timeZone);
  } catch {
    shown = formattersFor(timeZone);
  }
  return shown.zone;
}

/** "Mon, 3 Jun, 09:00" in the zone times are shown in. */
export function formatStart(date) {
  return shown.dayAndTime.format(date);
}

/** "10:30 CEST", or with the day too when it is not the day of `start`. */
export function formatEnd(date, start) {
  return start && shown.dayKey.format(date) === shown.dayKey.format(start)
    ? shown.timeWithZone.format(date)
    : shown.dayTimeWithZone.format(date);
}

/** "09:00" in the zone times are shown in. */
export function formatClock(date) {
  return shown.timeOnly.format(date);
}

/** "Sat, 28 Nov" for a conference day named by its `YYYY-MM-DD` date. */
export function formatDay(isoDate) {
  const [year, month, day] = String(isoDate).split("-").map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  if (Number.isNaN(date.getTime())) return String(isoDate);
  return new Intl.DateTimeFormat(dateLocale, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" })
    .format(date);
}

/** Fill every element marked `data-i18n="key"` under `root` with its translation. */
export function translatePage(root = document) {
  document.documentElement.lang = lang;
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll("[data-i18n-aria-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nAriaLabel));
  }
}
