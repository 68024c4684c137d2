//! The conference programme: conference, days, tracks, rooms and sessions, held in memory as
//! plain data, and the demo conference seeded on an empty data directory.
//!
//! Times are [`Timestamp`]s (UTC instants); the conference's IANA time zone is kept to show
//! and export local times. Conversion to the wire shape happens in [`Programme::to_schedule`];
//! the exchange formats (schedule XML and JSON in, iCalendar and JSON out) live in
//! `interchange`. Organisers' edits are checked by [`validate`] and applied by [`edit`].
//!
//! Sessions name their room, track and speakers by id; names are looked up where the
//! programme is shown or exported.

pub mod edit;
pub mod validate;

use std::collections::{HashMap, HashSet};

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use plenary_protocol::{self as protocol, RoomKind, SessionKind, UserId};

/// The whole programme.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Programme {
    pub name: String,
    /// A short slug naming the conference (`31c3`, `fosdem-2025`): the schedule formats key
    /// conferences by it, and exported calendar UIDs end with it.
    pub acronym: String,
    /// IANA time zone of the conference, e.g. `Europe/London`.
    pub timezone: String,
    /// First and last calendar day, in the conference's time zone.
    pub start: Date,
    pub end: Date,
    /// The conference days in order. Exports group sessions by them.
    pub days: Vec<ConferenceDay>,
    /// In display order (sessions name theirs in [`SessionDef::track`]).
    pub tracks: Vec<TrackDef>,
    /// Everyone who speaks, ordered by name, then id (the order
    /// [`Programme::sort_speakers`] gives).
    pub speakers: Vec<SpeakerDef>,
    /// In display order.
    pub rooms: Vec<RoomDef>,
    /// Ordered by start, then id (the order [`Programme::sort_sessions`] gives).
    pub sessions: Vec<SessionDef>,
}

/// One day of the conference. A day may run past midnight (`end` is then on the next
/// calendar date), as congresses do.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConferenceDay {
    /// The calendar date it is named by, in the conference's time zone.
    pub date: Date,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// A track of the programme.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrackDef {
    /// Stable while the name changes: sessions refer to the track by it.
    pub id: String,
    pub name: String,
}

/// A person who speaks in sessions. Speakers are names on a programme, not people with
/// tokens: hosts and moderators are those.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpeakerDef {
    /// Stable while the name changes: sessions refer to the speaker by it.
    pub id: String,
    pub name: String,
}

impl RoomDef {
    /// The room as the schedule and the organiser API show it.
    pub fn to_wire(&self) -> protocol::Room {
        protocol::Room {
            id: self.id.clone(),
            name: self.name.clone(),
            kind: self.kind,
            capacity: self.capacity,
        }
    }
}

impl SpeakerDef {
    /// The programme's order of speakers: by name, then id.
    fn order(a: &SpeakerDef, b: &SpeakerDef) -> std::cmp::Ordering {
        a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id))
    }
}

/// A room of the programme.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoomDef {
    pub id: String,
    pub name: String,
    pub kind: RoomKind,
    /// Attendee places; `None` for no limit.
    pub capacity: Option<u32>,
}

/// A session of the programme.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionDef {
    /// The stable key of the session: the event guid of the file it came from, or its event
    /// id when the file had no guid. Re-importing a programme updates sessions by this key,
    /// so questions asked in a session stay attached to it. Exports write it as the guid.
    pub id: String,
    /// The numeric event id of the source (frab and pretalx number their events), kept so
    /// that exports carry it; `None` for sessions that never had one.
    pub number: Option<u64>,
    pub title: String,
    pub subtitle: String,
    pub kind: SessionKind,
    /// The id of the room it takes place in.
    pub room: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// Ids of [`Programme::speakers`], in the order the programme prints them.
    pub speakers: Vec<String>,
    /// The people (user ids, as tokens carry them) who host the session: bring it on stage,
    /// start and end it.
    pub hosts: Vec<UserId>,
    /// The people who moderate its Q&A and chat.
    pub moderators: Vec<UserId>,
    /// A short summary (pretalx and frab call it the abstract).
    pub abstract_text: String,
    pub description: String,
    /// The id of its track, one of [`Programme::tracks`].
    pub track: Option<String>,
    /// Language codes the session is held in, usually one (`en`); some have two (`de`, `en`).
    pub languages: Vec<String>,
    /// A URL-friendly name, unique in the programme.
    pub slug: String,
    /// Questions wait for a moderator's approval before attendees see them.
    pub qa_moderated: bool,
}

/// Whether a new session of this kind moderates its Q&A: the big one-to-many formats do
/// (keynotes and panels draw the most questions), the others are open.
pub fn moderated_by_default(kind: SessionKind) -> bool {
    matches!(kind, SessionKind::Keynote | SessionKind::Panel)
}

impl Programme {
    /// The session with this id.
    pub fn session(&self, id: &str) -> Option<&SessionDef> {
        self.sessions.iter().find(|session| session.id == id)
    }

    /// The room a session takes place in.
    pub fn room_of(&self, session: &str) -> Option<&RoomDef> {
        let room = &self.session(session)?.room;
        self.rooms.iter().find(|def| &def.id == room)
    }

    /// The sessions that take place in a room.
    pub fn sessions_in<'a>(&'a self, room: &'a str) -> impl Iterator<Item = &'a SessionDef> {
        self.sessions
            .iter()
            .filter(move |session| session.room == room)
    }

    /// Put the sessions in the programme's order: by start, then by id.
    pub fn sort_sessions(&mut self) {
        self.sessions
            .sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
    }

    /// Put the speakers in the programme's order: by name, then id.
    pub fn sort_speakers(&mut self) {
        self.speakers.sort_by(SpeakerDef::order);
    }

    /// The room with this id.
    pub fn room(&self, id: &str) -> Option<&RoomDef> {
        self.rooms.iter().find(|room| room.id == id)
    }

    /// The track with this id.
    pub fn track(&self, id: &str) -> Option<&TrackDef> {
        self.tracks.iter().find(|track| track.id == id)
    }

    /// The speaker with this id.
    pub fn speaker(&self, id: &str) -> Option<&SpeakerDef> {
        self.speakers.iter().find(|speaker| speaker.id == id)
    }

    /// The name of a session's track, if it has one.
    pub fn track_name<'a>(&'a self, session: &'a SessionDef) -> Option<&'a str> {
        let id = session.track.as_deref()?;
        Some(self.track(id).map_or(id, |track| track.name.as_str()))
    }

    /// The names of a session's speakers, in order.
    pub fn speaker_names<'a>(&'a self, session: &'a SessionDef) -> Vec<&'a str> {
        session
            .speakers
            .iter()
            .map(|id| {
                self.speaker(id)
                    .map_or(id.as_str(), |speaker| &speaker.name)
            })
            .collect()
    }

    /// Carry over from the programme this one replaces what a schedule file cannot say:
    /// speakers and tracks keep their ids when their names stay the same, and sessions that
    /// keep their ids keep their hosts and moderators.
    pub fn inherit(&mut self, previous: &Programme) {
        let renamed = adopt_ids(
            self.speakers
                .iter_mut()
                .map(|s| (s.name.as_str(), &mut s.id)),
            previous
                .speakers
                .iter()
                .map(|s| (s.name.as_str(), s.id.as_str())),
        );
        for speaker in self.sessions.iter_mut().flat_map(|s| &mut s.speakers) {
            if let Some(id) = renamed.get(speaker) {
                speaker.clone_from(id);
            }
        }
        self.sort_speakers();
        let renamed = adopt_ids(
            self.tracks.iter_mut().map(|t| (t.name.as_str(), &mut t.id)),
            previous
                .tracks
                .iter()
                .map(|t| (t.name.as_str(), t.id.as_str())),
        );
        for session in &mut self.sessions {
            if let Some(id) = session.track.as_ref().and_then(|track| renamed.get(track)) {
                session.track = Some(id.clone());
            }
            if let Some(before) = previous.session(&session.id) {
                session.hosts.clone_from(&before.hosts);
                session.moderators.clone_from(&before.moderators);
            }
        }
    }

    /// The programme as `GET /api/schedule` shows it.
    pub fn to_schedule(&self) -> protocol::Schedule {
        protocol::Schedule {
            conference: protocol::Conference {
                name: self.name.clone(),
                timezone: self.timezone.clone(),
            },
            rooms: self.rooms.iter().map(RoomDef::to_wire).collect(),
            sessions: self
                .sessions
                .iter()
                .map(|session| protocol::Session {
                    id: session.id.clone(),
                    title: session.title.clone(),
                    kind: session.kind,
                    room: session.room.clone(),
                    start: rfc3339(session.start),
                    end: rfc3339(session.end),
                    speakers: self
                        .speaker_names(session)
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                    description: session.description.clone(),
                    qa_moderated: session.qa_moderated,
                    subtitle: session.subtitle.clone(),
                    abstract_text: session.abstract_text.clone(),
                    track: self.track_name(session).map(str::to_owned),
                    languages: session.languages.clone(),
                })
                .collect(),
            days: self
                .days
                .iter()
                .map(|day| protocol::Day {
                    date: day.date.to_string(),
                    start: rfc3339(day.start),
                    end: rfc3339(day.end),
                })
                .collect(),
            tracks: self.tracks.iter().map(|track| track.name.clone()).collect(),
        }
    }

    /// The demo conference: a one-day international public-library conference in
    /// Europe/London, laid around `now` so that one session is live, one has ended and several
    /// are upcoming.
    pub fn demo(now: Timestamp) -> Programme {
        // Align to the half hour so the programme looks like a real one.
        let half_hour = 30 * 60;
        let base = Timestamp::from_second(now.as_second() - now.as_second().rem_euclid(half_hour))
            .expect("a half-hour boundary of a valid instant is valid");
        let at = |minutes: i64| base + SignedDuration::from_mins(minutes);
        let room = |id: &str, name: &str, kind, capacity| RoomDef {
            id: id.into(),
            name: name.into(),
            kind,
            capacity,
        };
        let mut sessions = Vec::new();
        let mut add = |id: &str,
                       title: &str,
                       kind: SessionKind,
                       room: &str,
                       (from, to): (i64, i64),
                       speakers: &[&str],
                       description: &str| {
            sessions.push(SessionDef {
                id: id.into(),
                number: None,
                title: title.into(),
                subtitle: String::new(),
                kind,
                room: room.into(),
                start: at(from),
                end: at(to),
                speakers: speakers.iter().map(|name| (*name).to_owned()).collect(),
                hosts: Vec::new(),
                moderators: Vec::new(),
                abstract_text: String::new(),
                description: description.into(),
                track: None,
                languages: vec!["en".into()],
                slug: id.into(),
                qa_moderated: moderated_by_default(kind),
            });
        };
        add(
            "welcome",
            "Welcome: libraries sharing practice across borders",
            SessionKind::Talk,
            "main-stage",
            (-60, -30),
            &["Amelia Hartley", "Ingrid Solberg"],
            "The hosts open the day and introduce the libraries taking part.",
        );
        add(
            "keynote-open",
            "Keynote: The library as everyone's public square",
            SessionKind::Keynote,
            "main-stage",
            (-30, 30),
            &["Priya Raman"],
            "How public libraries in five countries became the place where communities meet.",
        );
        add(
            "break-morning",
            "Break",
            SessionKind::Break,
            "main-stage",
            (30, 45),
            &[],
            "",
        );
        add(
            "panel-partnerships",
            "Panel: International library partnerships that last",
            SessionKind::Panel,
            "main-stage",
            (45, 105),
            &[
                "Ingrid Solberg",
                "Jonas Becker",
                "Fatima Al-Mansouri",
                "Rahul Desai",
            ],
            "Librarians from Norway, Germany, the Gulf and India on partnerships that outlive their first grant.",
        );
        add(
            "workshop-partnerships",
            "How to initiate successful international partnerships",
            SessionKind::Workshop,
            "workshop-1",
            (105, 195),
            &["Jonas Becker"],
            "A hands-on workshop: finding a partner library, a first joint project, and the agreement that holds it.",
        );
        add(
            "workshop-fundraising",
            "Fundraising for international projects",
            SessionKind::Workshop,
            "workshop-2",
            (105, 195),
            &["Fatima Al-Mansouri"],
            "Where the money for cross-border library projects comes from, and how to write the application.",
        );
        add(
            "workshop-storytelling",
            "Digital storytelling with your community",
            SessionKind::Workshop,
            "workshop-3",
            (105, 195),
            &["Rahul Desai"],
            "Collect and share local stories with simple tools every library has.",
        );
        add(
            "showcases",
            "Project showcases: five libraries, five projects",
            SessionKind::Talk,
            "main-stage",
            (105, 165),
            &["Amelia Hartley", "Sofie Lund", "Karim Haddad"],
            "Short talks on projects that libraries ran together, and what they learned.",
        );
        add(
            "keynote-close",
            "Keynote: Reading the world together",
            SessionKind::Keynote,
            "main-stage",
            (165, 225),
            &["Helena Vogt"],
            "A closing keynote on shared collections, translation and the reading cultures of the world.",
        );
        add(
            "closing",
            "Closing remarks",
            SessionKind::Talk,
            "main-stage",
            (225, 240),
            &["Amelia Hartley", "Ingrid Solberg"],
            "",
        );
        let timezone = "Europe/London";
        let date = jiff::tz::TimeZone::get(timezone)
            .map(|zone| base.to_zoned(zone).date())
            .expect("the bundled time zone database has Europe/London");
        let mut demo = Programme {
            name: "Libraries Without Borders: International Practice Day".into(),
            acronym: "libraries-without-borders".into(),
            timezone: timezone.into(),
            start: date,
            end: date,
            days: vec![ConferenceDay {
                date,
                start: at(-60),
                end: at(240),
            }],
            tracks: Vec::new(),
            speakers: speakers_from_names(&mut sessions),
            rooms: vec![
                room("main-stage", "Main stage", RoomKind::Stage, None),
                room(
                    "workshop-1",
                    "Workshop room 1",
                    RoomKind::Workshop,
                    Some(40),
                ),
                room(
                    "workshop-2",
                    "Workshop room 2",
                    RoomKind::Workshop,
                    Some(40),
                ),
                room(
                    "workshop-3",
                    "Workshop room 3",
                    RoomKind::Workshop,
                    Some(40),
                ),
            ],
            sessions,
        };
        demo.sort_sessions();
        demo
    }
}

/// An instant as RFC 3339 UTC, to the second or millisecond as it has them.
pub fn rfc3339(timestamp: Timestamp) -> String {
    timestamp.to_string()
}

/// A lowercase slug of letters, digits and single dashes (`K.1.105 (La Fontaine)` →
/// `k-1-105-la-fontaine`).
pub fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_alphanumeric() {
            slug.extend(c.to_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

/// A new id made from a name: its slug (`fallback` when the slug is empty), with a number
/// added while `taken` says the id is in use (`room`, `room-2`, `room-3`…).
pub fn unique_id(name: &str, fallback: &str, taken: impl Fn(&str) -> bool) -> String {
    let base = match slugify(name) {
        slug if slug.is_empty() => fallback.to_owned(),
        slug => slug,
    };
    let mut id = base.clone();
    let mut n = 2;
    while taken(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

/// One id per different name, in the order the names first came.
#[derive(Default)]
struct IdsByName {
    ids: HashMap<String, String>,
    taken: HashSet<String>,
    in_order: Vec<(String, String)>,
}

impl IdsByName {
    fn id_of(&mut self, name: &str) -> String {
        if let Some(id) = self.ids.get(name) {
            return id.clone();
        }
        let id = unique_id(name, "unnamed", |id| self.taken.contains(id));
        self.taken.insert(id.clone());
        self.ids.insert(name.to_owned(), id.clone());
        self.in_order.push((id.clone(), name.to_owned()));
        id
    }
}

/// For sessions whose `speakers` hold names (as schedule files give them): one speaker per
/// different name, with a slug of it as id, and the sessions changed to refer to them.
pub(crate) fn speakers_from_names(sessions: &mut [SessionDef]) -> Vec<SpeakerDef> {
    let mut ids = IdsByName::default();
    for session in sessions {
        for speaker in &mut session.speakers {
            *speaker = ids.id_of(speaker);
        }
    }
    let mut speakers: Vec<SpeakerDef> = ids
        .in_order
        .into_iter()
        .map(|(id, name)| SpeakerDef { id, name })
        .collect();
    speakers.sort_by(SpeakerDef::order);
    speakers
}

/// Tracks from names (those declared, in order, then those sessions name), and the sessions'
/// `track` changed from a name to the track's id.
pub(crate) fn tracks_from_names(
    declared: impl IntoIterator<Item = String>,
    sessions: &mut [SessionDef],
) -> Vec<TrackDef> {
    let mut ids = IdsByName::default();
    for name in declared {
        ids.id_of(&name);
    }
    for session in sessions {
        if let Some(track) = &mut session.track {
            *track = ids.id_of(track);
        }
    }
    ids.in_order
        .into_iter()
        .map(|(id, name)| TrackDef { id, name })
        .collect()
}

/// Give each item (name, id) the id a `previous` item (name, id) of the same name had,
/// unless another item holds that id already. Returns the ids that changed (old → new), to
/// follow in the sessions.
fn adopt_ids<'a, 'b>(
    items: impl Iterator<Item = (&'a str, &'a mut String)>,
    previous: impl Iterator<Item = (&'b str, &'b str)>,
) -> HashMap<String, String> {
    let previous: HashMap<&str, &str> = previous.collect();
    let items: Vec<(&str, &mut String)> = items.collect();
    let mut taken: HashSet<String> = items.iter().map(|(_, id)| (**id).clone()).collect();
    let mut changed = HashMap::new();
    for (name, id) in items {
        let Some(&wanted) = previous.get(name) else {
            continue;
        };
        if id.as_str() == wanted || taken.contains(wanted) {
            continue;
        }
        taken.remove(id.as_str());
        taken.insert(wanted.to_owned());
        changed.insert(std::mem::replace(id, wanted.to_owned()), wanted.to_owned());
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_has_one_live_one_ended_and_several_upcoming_sessions() {
        let now: Timestamp = "2026-11-28T12:47:00Z".parse().expect("valid instant");
        let demo = Programme::demo(now);
        let live = demo
            .sessions
            .iter()
            .filter(|session| session.start <= now && now < session.end)
            .count();
        let ended = demo.sessions.iter().filter(|s| s.end <= now).count();
        let upcoming = demo.sessions.iter().filter(|s| s.start > now).count();
        assert_eq!(live, 1);
        assert!(ended >= 1);
        assert!(upcoming >= 3);
        assert!(
            demo.rooms
                .iter()
                .filter(|r| r.kind == RoomKind::Workshop)
                .count()
                >= 3
        );
        for session in &demo.sessions {
            assert!(demo.rooms.iter().any(|room| room.id == session.room));
            assert!(session.end > session.start);
        }
    }
}
