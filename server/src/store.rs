//! Durable state: the programme, each room's event log, chat and questions, and each
//! person's bookmarks and workshop sign-ups.
//!
//! [`Store`] is the small trait the rest of the server sees; [`SqliteStore`] is the embedded
//! default (one file in the data directory). [`Persister`] runs every write on one dedicated
//! thread and commits whatever has queued up in one transaction (group commit), so a busy
//! conference pays one fsync per batch, not one per message. Rooms acknowledge an action only
//! after its batch has committed.

use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use jiff::Timestamp;
use jiff::civil::Date;
use plenary_protocol::{
    Author, ChatId, ChatMessage, ModerationEntry, Poll, PollId, Question, QuestionId, RoomId,
    RoomKind, SessionId, SessionKind, SessionPhase, UserId,
};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use crate::programme::{ConferenceDay, Programme, RoomDef, SessionDef, SpeakerDef, TrackDef};

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the store's writer thread has stopped")]
    WriterGone,
}

/// One stored event of a room's log: the frames each audience receives.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub room: RoomId,
    pub seq: u64,
    /// The frame everyone may see; `None` for a staff-only event.
    pub public: Option<Bytes>,
    /// The frame staff see.
    pub staff: Bytes,
    /// A person who is not staff but sees the staff frame (the asker of a pending question).
    pub owner: Option<UserId>,
}

/// A stored question with what the wire type does not carry.
#[derive(Debug, Clone)]
pub struct StoredQuestion {
    /// The question with its author always filled in.
    pub question: Question,
    /// Attendees have seen it (approved at some point), so they must hear when it is rejected.
    pub ever_public: bool,
    /// Who voted for it.
    pub voters: Vec<UserId>,
}

/// A stored poll with everyone's choices.
#[derive(Debug, Clone)]
pub struct StoredPoll {
    /// The poll with its counts always filled in.
    pub poll: Poll,
    pub votes: Vec<(UserId, Vec<u32>)>,
}

/// A sanction on a person in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sanction {
    /// May not chat until then (Unix milliseconds).
    Muted { until_ms: i64 },
    /// Removed from the room.
    Removed,
}

/// A write, applied together with the others of its batch in one transaction.
#[derive(Debug, Clone)]
pub enum Change {
    Event(StoredEvent),
    Chat {
        room: RoomId,
        message: ChatMessage,
    },
    ChatRemoved {
        room: RoomId,
        id: ChatId,
    },
    /// Insert or replace a question's state (votes, status, pin, text).
    Question {
        room: RoomId,
        question: Question,
        ever_public: bool,
    },
    Vote {
        question: QuestionId,
        user: UserId,
    },
    Unvote {
        question: QuestionId,
        user: UserId,
    },
    /// A client's own id for a message it sent, and what it created, so a retry is answered
    /// the same way.
    ClientId {
        room: RoomId,
        user: UserId,
        client_id: String,
        created: u64,
    },
    /// Open (`closed: false`) or close a session's Q&A.
    QaClosed {
        session: SessionId,
        closed: bool,
    },
    ModerationEntry {
        room: RoomId,
        session: SessionId,
        entry: ModerationEntry,
    },
    /// Insert or replace a poll (with its counts).
    Poll(Poll),
    /// Replace a person's choices in a poll.
    PollVote {
        poll: PollId,
        user: UserId,
        choices: Vec<u32>,
    },
    /// The phase a session was last announced in.
    SessionPhase {
        session: SessionId,
        phase: SessionPhase,
    },
    /// A host's start or end time for a session (Unix milliseconds), replacing the planned one.
    SessionOverride {
        session: SessionId,
        started_ms: Option<i64>,
        ended_ms: Option<i64>,
    },
    /// Set (`Some`) or lift (`None`) a person's sanction in a room.
    Sanction {
        room: RoomId,
        user: Author,
        sanction: Option<Sanction>,
    },
    /// A host or moderator brought a person on stage in a room (or took them off it).
    StageGrant {
        room: RoomId,
        user: UserId,
        allowed: bool,
    },
    /// Add a session to a person's agenda (`on`) or take it off.
    Bookmark {
        user: UserId,
        session: SessionId,
        on: bool,
    },
    /// A person was reminded of a bookmarked session: never again.
    Reminded {
        session: SessionId,
        user: UserId,
    },
    /// A person asked for a place in a workshop session; `number` ranks the session's
    /// sign-ups in the order they came.
    SignUp {
        session: SessionId,
        user: UserId,
        number: u64,
    },
    /// A person gave up their place or waitlist position.
    SignUpWithdrawn {
        session: SessionId,
        user: UserId,
    },
}

/// What a room needs to come back after a restart.
#[derive(Debug, Default)]
pub struct RoomRecord {
    /// The room's last event sequence number (0 for a new room).
    pub last_seq: u64,
    /// The newest events, oldest first, at most the number asked for.
    pub events: Vec<StoredEvent>,
    /// The newest chat messages not removed, oldest first.
    pub chat: Vec<ChatMessage>,
    pub questions: Vec<StoredQuestion>,
    /// The newest client ids sent to this room: (person, client id, what it created).
    pub client_ids: Vec<(UserId, String, u64)>,
    /// Sessions whose Q&A is closed (of every room: the room keeps its own).
    pub qa_closed: Vec<SessionId>,
    /// The moderation log of the room's sessions, oldest first.
    pub moderation_log: Vec<(SessionId, ModerationEntry)>,
    pub polls: Vec<StoredPoll>,
    pub sanctions: Vec<(Author, Sanction)>,
    /// The phase each session was last announced in (of every room: the room keeps its own).
    pub phases: Vec<(SessionId, SessionPhase)>,
    /// Hosts' changes to sessions' times: (session, started, ended), Unix milliseconds.
    pub overrides: Vec<(SessionId, Option<i64>, Option<i64>)>,
    /// People brought on stage in the room: they may publish media there.
    pub on_stage: Vec<UserId>,
    /// Bookmarks, reminders and sign-ups of the room's sessions.
    pub people: SessionPeople,
}

/// Who bookmarked some sessions, whom their reminders reached, and who signed up for them.
#[derive(Debug, Default)]
pub struct SessionPeople {
    /// (session, person).
    pub bookmarks: Vec<(SessionId, UserId)>,
    /// Reminders already sent: (session, person).
    pub reminded: Vec<(SessionId, UserId)>,
    /// (session, person, number), in each session's order.
    pub sign_ups: Vec<(SessionId, UserId, u64)>,
}

/// One person's agenda as stored: what they bookmarked and signed up for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StoredAgenda {
    pub bookmarks: Vec<SessionId>,
    /// (session, index among the session's sign-ups: 0 for the first to ask).
    pub sign_ups: Vec<(SessionId, usize)>,
}

/// How much of a room's past [`Store::load_room`] brings back.
#[derive(Debug, Clone, Copy)]
pub struct LoadLimits {
    pub events: usize,
    pub chat: usize,
    pub client_ids: usize,
}

/// The storage the server runs on. Implementations block; callers run them off the async
/// runtime (the [`Persister`] thread, or start-up).
pub trait Store: Send + Sync + 'static {
    /// The stored programme, or `None` on an empty data directory.
    fn load_programme(&self) -> Result<Option<Programme>, StoreError>;
    /// Replace the whole programme, all or nothing. Rooms and sessions are keyed by their
    /// ids: saving a programme again changes rows in place and never duplicates them.
    fn save_programme(&self, programme: &Programme) -> Result<(), StoreError>;
    /// A room's recent history and state: at most `limits.events` events, `limits.chat`
    /// chat messages and `limits.client_ids` client ids.
    fn load_room(&self, room: &str, limits: LoadLimits) -> Result<RoomRecord, StoreError>;
    /// The largest question id handed out so far (0 if none).
    fn max_question_id(&self) -> Result<QuestionId, StoreError>;
    /// The largest poll id handed out so far (0 if none).
    fn max_poll_id(&self) -> Result<PollId, StoreError>;
    /// Up to `limit` chat messages of a room older than `before`, oldest first, removed ones
    /// left out.
    fn chat_before(
        &self,
        room: &str,
        before: ChatId,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, StoreError>;
    /// A person's bookmarks and sign-ups.
    fn agenda_of(&self, user: &str) -> Result<StoredAgenda, StoreError>;
    /// The people of one session (for a room the session moved into).
    fn session_people(&self, session: &str) -> Result<SessionPeople, StoreError>;
    /// Apply every change, all or nothing, durably.
    fn commit(&self, changes: &[&Change]) -> Result<(), StoreError>;
}

/// The embedded default: SQLite in WAL mode with full fsync.
pub struct SqliteStore {
    connection: Mutex<Connection>,
}

/// The shape of the tables below: one more than the migrations that lead to it. A data
/// directory of an older version is migrated in place; one of a newer version (or not
/// Plenary's) is refused with a clear message rather than misread.
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64 + 1;

/// Every table and index, as a new data directory gets them. `CREATE … IF NOT EXISTS` also
/// adds the tables an older data directory lacks; what it cannot do (a column added to a
/// table that exists, data to move) is a step in [`MIGRATIONS`]. An index on a column that a
/// migration adds belongs in that migration.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS conference (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    acronym TEXT NOT NULL,
    timezone TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    -- JSON: [{date (YYYY-MM-DD), start_ms, end_ms}, …]
    days TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tracks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS speakers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rooms (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    capacity INTEGER,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    number INTEGER,
    title TEXT NOT NULL,
    subtitle TEXT NOT NULL,
    kind TEXT NOT NULL,
    room TEXT NOT NULL REFERENCES rooms(id),
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    -- JSON: [speaker id, …]
    speakers TEXT NOT NULL,
    abstract TEXT NOT NULL,
    description TEXT NOT NULL,
    -- A track id.
    track TEXT,
    -- JSON: [language code, …]
    languages TEXT NOT NULL,
    slug TEXT NOT NULL,
    qa_moderated INTEGER NOT NULL,
    -- JSON: [user id, …]
    hosts TEXT NOT NULL DEFAULT '[]',
    moderators TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS events (
    room TEXT NOT NULL,
    seq INTEGER NOT NULL,
    public BLOB,
    staff BLOB NOT NULL,
    owner TEXT,
    PRIMARY KEY (room, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chat (
    room TEXT NOT NULL,
    id INTEGER NOT NULL,
    body TEXT NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY,
    room TEXT NOT NULL,
    body TEXT NOT NULL,
    ever_public INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS questions_by_room ON questions (room);
CREATE TABLE IF NOT EXISTS client_ids (
    room TEXT NOT NULL,
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (room, user_id, client_id)
);
CREATE TABLE IF NOT EXISTS votes (
    question INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (question, user_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS qa_closed (
    session TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS moderation_log (
    room TEXT NOT NULL,
    session TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS moderation_log_by_room ON moderation_log (room);
CREATE TABLE IF NOT EXISTS polls (
    id INTEGER PRIMARY KEY,
    room TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS poll_votes (
    poll INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    choices TEXT NOT NULL,
    PRIMARY KEY (poll, user_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS session_phases (
    session TEXT PRIMARY KEY,
    phase TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session_overrides (
    session TEXT PRIMARY KEY,
    started_ms INTEGER,
    ended_ms INTEGER
);
CREATE TABLE IF NOT EXISTS sanctions (
    room TEXT NOT NULL,
    user_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    until_ms INTEGER,
    PRIMARY KEY (room, user_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stage_grants (
    room TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (room, user_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bookmarks (
    user_id TEXT NOT NULL,
    session TEXT NOT NULL,
    PRIMARY KEY (user_id, session)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bookmarks_by_session ON bookmarks (session);
CREATE TABLE IF NOT EXISTS reminders_sent (
    session TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (session, user_id)
) WITHOUT ROWID;
-- Requests for a place in a workshop session. The first `capacity` by number are
-- registered, the rest wait in that order.
CREATE TABLE IF NOT EXISTS sign_ups (
    session TEXT NOT NULL,
    user_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    PRIMARY KEY (session, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sign_ups_by_user ON sign_ups (user_id);
";

/// The steps from each older schema to the next: `MIGRATIONS[0]` takes schema 1 to 2, and
/// so on. A data directory runs the steps from its version on, in order, in the same
/// transaction as [`SCHEMA`] (which runs first, so a step may fill the tables it added).
const MIGRATIONS: &[&str] = &[
    // 1 → 2: sessions gain hosts and moderators; tracks and speakers, which were names,
    // become rows with ids (each keeps its name as its id, so sessions' references hold).
    "
    ALTER TABLE sessions ADD COLUMN hosts TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE sessions ADD COLUMN moderators TEXT NOT NULL DEFAULT '[]';
    INSERT OR IGNORE INTO tracks (id, name, position)
        SELECT track.value, track.value, track.key FROM conference, json_each(conference.tracks) AS track;
    INSERT OR IGNORE INTO speakers (id, name)
        SELECT DISTINCT speaker.value, speaker.value FROM sessions, json_each(sessions.speakers) AS speaker;
    ALTER TABLE conference DROP COLUMN tracks;
    ",
];

impl SqliteStore {
    /// Open (or create) `plenary.db` in `data_dir`, migrating a data directory of an older
    /// schema in place.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        let mut connection = Connection::open(data_dir.join("plenary.db"))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let tables: i64 = connection.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |row| row.get(0),
        )?;
        let new = version == 0 && tables == 0;
        if !new && !(1..=SCHEMA_VERSION).contains(&version) {
            return Err(StoreError::Corrupt(format!(
                "{} was written by another version of Plenary (schema {version}, this one \
                 reads {SCHEMA_VERSION} and older): move it aside and start again, or import \
                 the programme into a new data directory",
                data_dir.display()
            )));
        }
        let transaction = connection.transaction()?;
        transaction.execute_batch(SCHEMA)?;
        if !new {
            // `version` is between 1 and SCHEMA_VERSION, so this is a tail of MIGRATIONS.
            for step in MIGRATIONS.iter().skip(version as usize - 1) {
                transaction.execute_batch(step)?;
            }
        }
        transaction.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        transaction.commit()?;
        Ok(SqliteStore {
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (the transaction rolls back
        // when dropped), so a poisoned lock is still safe to use.
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn enum_from_text<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|error| StoreError::Corrupt(format!("{text:?}: {error}")))
}

/// A day of the programme as the `conference.days` column holds it.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredDay {
    date: String,
    start_ms: i64,
    end_ms: i64,
}

/// Values kept as JSON in a column. Rows that hold a protocol value (a chat message, a
/// question, a poll) keep its JSON: protocol types only gain fields, so old rows still read.
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// A stored event's frame. It goes out as a WebSocket text frame without another look
/// (`ws::wire`), so it must be UTF-8: the store checks that once, as it loads.
fn frame(bytes: Vec<u8>) -> Result<Bytes, StoreError> {
    String::from_utf8(bytes)
        .map(Bytes::from)
        .map_err(|error| StoreError::Corrupt(format!("an event's frame: {error}")))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(format!("{text:?}: {error}")))
}

fn from_date(text: &str) -> Result<Date, StoreError> {
    text.parse()
        .map_err(|error| StoreError::Corrupt(format!("date {text:?}: {error}")))
}

fn millis(timestamp: Timestamp) -> i64 {
    timestamp.as_millisecond()
}

fn from_millis(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// The people of the sessions `filter` picks: an SQL condition on `t` (the bookmarks,
/// reminders or sign-ups row) and `s` (its session), with `?1` bound to `key`.
fn people_of(
    connection: &Connection,
    filter: &str,
    key: &str,
) -> Result<SessionPeople, StoreError> {
    let pairs = |table: &str| -> Result<Vec<(SessionId, UserId)>, StoreError> {
        let mut statement = connection.prepare(&format!(
            "SELECT t.session, t.user_id FROM {table} t JOIN sessions s ON s.id = t.session
             WHERE {filter}"
        ))?;
        let rows = statement.query_map([key], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    };
    let mut statement = connection.prepare(&format!(
        "SELECT t.session, t.user_id, t.number FROM sign_ups t
         JOIN sessions s ON s.id = t.session WHERE {filter} ORDER BY t.session, t.number"
    ))?;
    let sign_ups = statement
        .query_map([key], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)? as u64))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SessionPeople {
        bookmarks: pairs("bookmarks")?,
        reminded: pairs("reminders_sent")?,
        sign_ups,
    })
}

impl Store for SqliteStore {
    fn load_programme(&self) -> Result<Option<Programme>, StoreError> {
        let connection = self.lock();
        let conference = connection
            .query_row(
                "SELECT name, acronym, timezone, start_date, end_date, days
                 FROM conference WHERE id = 1",
                [],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((name, acronym, timezone, start, end, days)) = conference else {
            return Ok(None);
        };
        let days = from_json::<Vec<StoredDay>>(&days)?
            .into_iter()
            .map(|day| {
                Ok(ConferenceDay {
                    date: from_date(&day.date)?,
                    start: from_millis(day.start_ms)?,
                    end: from_millis(day.end_ms)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let tracks = connection
            .prepare("SELECT id, name FROM tracks ORDER BY position")?
            .query_map([], |row| {
                Ok(TrackDef {
                    id: row.get(0)?,
                    name: row.get(1)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        // BINARY collation orders UTF-8 as Rust orders strings: the programme's order.
        let speakers = connection
            .prepare("SELECT id, name FROM speakers ORDER BY name, id")?
            .query_map([], |row| {
                Ok(SpeakerDef {
                    id: row.get(0)?,
                    name: row.get(1)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut rooms = Vec::new();
        let mut statement =
            connection.prepare("SELECT id, name, kind, capacity FROM rooms ORDER BY position")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            rooms.push(RoomDef {
                id: row.get(0)?,
                name: row.get(1)?,
                kind: enum_from_text::<RoomKind>(&row.get::<_, String>(2)?)?,
                capacity: row.get(3)?,
            });
        }
        let mut sessions = Vec::new();
        let mut statement = connection.prepare(
            "SELECT id, number, title, subtitle, kind, room, start_ms, end_ms, speakers, abstract,
                    description, track, languages, slug, qa_moderated, hosts, moderators
             FROM sessions ORDER BY start_ms, id",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            sessions.push(SessionDef {
                id: row.get(0)?,
                number: row
                    .get::<_, Option<i64>>(1)?
                    .map(|number| {
                        u64::try_from(number).map_err(|_| StoreError::Corrupt("number".into()))
                    })
                    .transpose()?,
                title: row.get(2)?,
                subtitle: row.get(3)?,
                kind: enum_from_text::<SessionKind>(&row.get::<_, String>(4)?)?,
                room: row.get(5)?,
                start: from_millis(row.get(6)?)?,
                end: from_millis(row.get(7)?)?,
                speakers: from_json(&row.get::<_, String>(8)?)?,
                hosts: from_json(&row.get::<_, String>(15)?)?,
                moderators: from_json(&row.get::<_, String>(16)?)?,
                abstract_text: row.get(9)?,
                description: row.get(10)?,
                track: row.get(11)?,
                languages: from_json(&row.get::<_, String>(12)?)?,
                slug: row.get(13)?,
                qa_moderated: row.get(14)?,
            });
        }
        Ok(Some(Programme {
            name,
            acronym,
            timezone,
            start: from_date(&start)?,
            end: from_date(&end)?,
            days,
            tracks,
            speakers,
            rooms,
            sessions,
        }))
    }

    fn save_programme(&self, programme: &Programme) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let days: Vec<StoredDay> = programme
            .days
            .iter()
            .map(|day| StoredDay {
                date: day.date.to_string(),
                start_ms: millis(day.start),
                end_ms: millis(day.end),
            })
            .collect();
        transaction.execute(
            "INSERT OR REPLACE INTO conference
             (id, name, acronym, timezone, start_date, end_date, days)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                programme.name,
                programme.acronym,
                programme.timezone,
                programme.start.to_string(),
                programme.end.to_string(),
                to_json(&days)?,
            ],
        )?;
        // Sessions the new programme drops go first, rooms it drops last, so that no
        // session ever points at a missing room.
        keep_only(
            &transaction,
            "sessions",
            programme.sessions.iter().map(|s| &s.id),
        )?;
        {
            let mut upsert = transaction.prepare(
                "INSERT INTO tracks (id, name, position) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, position = excluded.position",
            )?;
            for (position, track) in programme.tracks.iter().enumerate() {
                upsert.execute(params![track.id, track.name, position as i64])?;
            }
            let mut upsert = transaction.prepare(
                "INSERT INTO speakers (id, name) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            )?;
            for speaker in &programme.speakers {
                upsert.execute(params![speaker.id, speaker.name])?;
            }
        }
        keep_only(
            &transaction,
            "tracks",
            programme.tracks.iter().map(|t| &t.id),
        )?;
        keep_only(
            &transaction,
            "speakers",
            programme.speakers.iter().map(|s| &s.id),
        )?;
        {
            let mut upsert = transaction.prepare(
                "INSERT INTO rooms (id, name, kind, capacity, position) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                     capacity = excluded.capacity, position = excluded.position",
            )?;
            for (position, room) in programme.rooms.iter().enumerate() {
                upsert.execute(params![
                    room.id,
                    room.name,
                    room.kind.as_str(),
                    room.capacity,
                    position as i64
                ])?;
            }
        }
        {
            let mut upsert = transaction.prepare(
                "INSERT INTO sessions (id, number, title, subtitle, kind, room, start_ms, end_ms,
                     speakers, abstract, description, track, languages, slug, qa_moderated,
                     hosts, moderators)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                     ?17)
                 ON CONFLICT (id) DO UPDATE SET number = excluded.number, title = excluded.title,
                     subtitle = excluded.subtitle, kind = excluded.kind, room = excluded.room,
                     start_ms = excluded.start_ms, end_ms = excluded.end_ms,
                     speakers = excluded.speakers, abstract = excluded.abstract,
                     description = excluded.description, track = excluded.track,
                     languages = excluded.languages, slug = excluded.slug,
                     qa_moderated = excluded.qa_moderated, hosts = excluded.hosts,
                     moderators = excluded.moderators",
            )?;
            for session in &programme.sessions {
                let number = session
                    .number
                    .map(|number| {
                        i64::try_from(number)
                            .map_err(|_| StoreError::Corrupt(format!("event number {number}")))
                    })
                    .transpose()?;
                upsert.execute(params![
                    session.id,
                    number,
                    session.title,
                    session.subtitle,
                    session.kind.as_str(),
                    session.room,
                    millis(session.start),
                    millis(session.end),
                    to_json(&session.speakers)?,
                    session.abstract_text,
                    session.description,
                    session.track,
                    to_json(&session.languages)?,
                    session.slug,
                    session.qa_moderated,
                    to_json(&session.hosts)?,
                    to_json(&session.moderators)?
                ])?;
            }
        }
        keep_only(&transaction, "rooms", programme.rooms.iter().map(|r| &r.id))?;
        transaction.commit()?;
        Ok(())
    }

    fn load_room(&self, room: &str, limits: LoadLimits) -> Result<RoomRecord, StoreError> {
        let connection = self.lock();
        let last_seq: i64 = connection.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE room = ?1",
            [room],
            |row| row.get(0),
        )?;
        let mut record = RoomRecord {
            last_seq: u64::try_from(last_seq).map_err(|_| StoreError::Corrupt("seq".into()))?,
            ..RoomRecord::default()
        };

        let mut statement = connection.prepare(
            "SELECT seq, public, staff, owner FROM events WHERE room = ?1 ORDER BY seq DESC LIMIT ?2",
        )?;
        let mut rows = statement.query(params![room, limits.events as i64])?;
        while let Some(row) = rows.next()? {
            record.events.push(StoredEvent {
                room: room.to_owned(),
                seq: row.get::<_, i64>(0)? as u64,
                public: row.get::<_, Option<Vec<u8>>>(1)?.map(frame).transpose()?,
                staff: frame(row.get(2)?)?,
                owner: row.get(3)?,
            });
        }
        record.events.reverse();

        let mut statement = connection.prepare(
            "SELECT body FROM chat WHERE room = ?1 AND removed = 0 ORDER BY id DESC LIMIT ?2",
        )?;
        let mut rows = statement.query(params![room, limits.chat as i64])?;
        while let Some(row) = rows.next()? {
            record.chat.push(from_json(&row.get::<_, String>(0)?)?);
        }
        record.chat.reverse();

        let mut statement = connection
            .prepare("SELECT body, ever_public FROM questions WHERE room = ?1 ORDER BY id")?;
        let mut voters_of = connection.prepare("SELECT user_id FROM votes WHERE question = ?1")?;
        let mut rows = statement.query([room])?;
        while let Some(row) = rows.next()? {
            let question: Question = from_json(&row.get::<_, String>(0)?)?;
            let voters = voters_of
                .query_map([question.id as i64], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            record.questions.push(StoredQuestion {
                question,
                ever_public: row.get(1)?,
                voters,
            });
        }

        let mut statement = connection.prepare(
            "SELECT user_id, client_id, created FROM client_ids WHERE room = ?1
             ORDER BY rowid DESC LIMIT ?2",
        )?;
        let mut rows = statement.query(params![room, limits.client_ids as i64])?;
        while let Some(row) = rows.next()? {
            record
                .client_ids
                .push((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)? as u64));
        }
        record.client_ids.reverse();

        let mut statement = connection.prepare("SELECT session FROM qa_closed")?;
        record.qa_closed = statement
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;

        let mut statement = connection
            .prepare("SELECT session, body FROM moderation_log WHERE room = ?1 ORDER BY rowid")?;
        let mut rows = statement.query([room])?;
        while let Some(row) = rows.next()? {
            let entry = from_json(&row.get::<_, String>(1)?)?;
            record.moderation_log.push((row.get(0)?, entry));
        }

        let mut statement =
            connection.prepare("SELECT body FROM polls WHERE room = ?1 ORDER BY id")?;
        let mut votes_of =
            connection.prepare("SELECT user_id, choices FROM poll_votes WHERE poll = ?1")?;
        let mut rows = statement.query([room])?;
        while let Some(row) = rows.next()? {
            let poll: Poll = from_json(&row.get::<_, String>(0)?)?;
            let mut votes = Vec::new();
            let mut vote_rows = votes_of.query([poll.id as i64])?;
            while let Some(vote) = vote_rows.next()? {
                votes.push((vote.get(0)?, from_json(&vote.get::<_, String>(1)?)?));
            }
            record.polls.push(StoredPoll { poll, votes });
        }

        let mut statement = connection
            .prepare("SELECT user_id, user_name, kind, until_ms FROM sanctions WHERE room = ?1")?;
        let mut rows = statement.query([room])?;
        while let Some(row) = rows.next()? {
            let user = Author {
                id: row.get(0)?,
                name: row.get(1)?,
            };
            let sanction = match (row.get::<_, String>(2)?.as_str(), row.get(3)?) {
                ("muted", Some(until_ms)) => Sanction::Muted { until_ms },
                ("removed", _) => Sanction::Removed,
                (kind, _) => return Err(StoreError::Corrupt(format!("sanction {kind:?}"))),
            };
            record.sanctions.push((user, sanction));
        }

        let mut statement = connection.prepare("SELECT session, phase FROM session_phases")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let phase = enum_from_text::<SessionPhase>(&row.get::<_, String>(1)?)?;
            record.phases.push((row.get(0)?, phase));
        }
        let mut statement =
            connection.prepare("SELECT session, started_ms, ended_ms FROM session_overrides")?;
        record.overrides = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut statement =
            connection.prepare("SELECT user_id FROM stage_grants WHERE room = ?1")?;
        record.on_stage = statement
            .query_map([room], |row| row.get(0))?
            .collect::<Result<Vec<_>, _>>()?;

        record.people = people_of(&connection, "s.room = ?1", room)?;
        Ok(record)
    }

    fn max_question_id(&self) -> Result<QuestionId, StoreError> {
        let max: i64 =
            self.lock()
                .query_row("SELECT COALESCE(MAX(id), 0) FROM questions", [], |row| {
                    row.get(0)
                })?;
        Ok(max as u64)
    }

    fn max_poll_id(&self) -> Result<PollId, StoreError> {
        let max: i64 =
            self.lock()
                .query_row("SELECT COALESCE(MAX(id), 0) FROM polls", [], |row| {
                    row.get(0)
                })?;
        Ok(max as u64)
    }

    fn chat_before(
        &self,
        room: &str,
        before: ChatId,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT body FROM chat WHERE room = ?1 AND id < ?2 AND removed = 0
             ORDER BY id DESC LIMIT ?3",
        )?;
        let mut rows = statement.query(params![room, before as i64, limit as i64])?;
        let mut messages = Vec::new();
        while let Some(row) = rows.next()? {
            messages.push(from_json(&row.get::<_, String>(0)?)?);
        }
        messages.reverse();
        Ok(messages)
    }

    fn session_people(&self, session: &str) -> Result<SessionPeople, StoreError> {
        people_of(&self.lock(), "t.session = ?1", session)
    }

    fn agenda_of(&self, user: &str) -> Result<StoredAgenda, StoreError> {
        let connection = self.lock();
        let mut statement =
            connection.prepare_cached("SELECT session FROM bookmarks WHERE user_id = ?1")?;
        let bookmarks = statement
            .query_map([user], |row| row.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut statement = connection.prepare_cached(
            "SELECT mine.session,
                    (SELECT COUNT(*) FROM sign_ups ahead
                     WHERE ahead.session = mine.session AND ahead.number < mine.number)
             FROM sign_ups mine WHERE mine.user_id = ?1 ORDER BY mine.session",
        )?;
        let sign_ups = statement
            .query_map([user], |row| {
                Ok((row.get(0)?, row.get::<_, i64>(1)? as usize))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StoredAgenda {
            bookmarks,
            sign_ups,
        })
    }

    fn commit(&self, changes: &[&Change]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        for change in changes {
            apply(&transaction, change)?;
        }
        transaction.commit()?;
        Ok(())
    }
}

/// Delete the rows of a programme table (keyed by `id`) whose ids are not in `ids`.
fn keep_only<'a>(
    transaction: &rusqlite::Transaction<'_>,
    table: &'static str,
    ids: impl Iterator<Item = &'a String>,
) -> Result<(), StoreError> {
    let ids: Vec<&String> = ids.collect();
    transaction.execute(
        &format!("DELETE FROM {table} WHERE id NOT IN (SELECT value FROM json_each(?1))"),
        [to_json(&ids)?],
    )?;
    Ok(())
}

/// One change inside a transaction.
fn apply(transaction: &rusqlite::Transaction<'_>, change: &Change) -> Result<(), StoreError> {
    match change {
        Change::Event(event) => {
            transaction
                .prepare_cached(
                    "INSERT INTO events (room, seq, public, staff, owner) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    event.room,
                    event.seq as i64,
                    event.public.as_deref(),
                    &event.staff[..],
                    event.owner
                ])?;
        }
        Change::Chat { room, message } => {
            transaction
                .prepare_cached("INSERT INTO chat (room, id, body) VALUES (?1, ?2, ?3)")?
                .execute(params![room, message.id as i64, to_json(message)?])?;
        }
        Change::ChatRemoved { room, id } => {
            transaction
                .prepare_cached("UPDATE chat SET removed = 1 WHERE room = ?1 AND id = ?2")?
                .execute(params![room, *id as i64])?;
        }
        Change::Question {
            room,
            question,
            ever_public,
        } => {
            transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO questions (id, room, body, ever_public) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![question.id as i64, room, to_json(question)?, ever_public])?;
        }
        Change::Vote { question, user } => {
            transaction
                .prepare_cached("INSERT OR IGNORE INTO votes (question, user_id) VALUES (?1, ?2)")?
                .execute(params![*question as i64, user])?;
        }
        Change::Unvote { question, user } => {
            transaction
                .prepare_cached("DELETE FROM votes WHERE question = ?1 AND user_id = ?2")?
                .execute(params![*question as i64, user])?;
        }
        Change::ClientId {
            room,
            user,
            client_id,
            created,
        } => {
            transaction
                .prepare_cached(
                    "INSERT INTO client_ids (room, user_id, client_id, created) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![room, user, client_id, *created as i64])?;
        }
        Change::QaClosed { session, closed } => {
            let sql = if *closed {
                "INSERT OR IGNORE INTO qa_closed (session) VALUES (?1)"
            } else {
                "DELETE FROM qa_closed WHERE session = ?1"
            };
            transaction.prepare_cached(sql)?.execute([session])?;
        }
        Change::ModerationEntry {
            room,
            session,
            entry,
        } => {
            transaction
                .prepare_cached(
                    "INSERT INTO moderation_log (room, session, body) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![room, session, to_json(entry)?])?;
        }
        Change::Poll(poll) => {
            transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO polls (id, room, body) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![poll.id as i64, poll.room, to_json(poll)?])?;
        }
        Change::PollVote {
            poll,
            user,
            choices,
        } => {
            transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO poll_votes (poll, user_id, choices) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![*poll as i64, user, to_json(choices)?])?;
        }
        Change::SessionPhase { session, phase } => {
            transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO session_phases (session, phase) VALUES (?1, ?2)",
                )?
                .execute(params![session, phase.as_str()])?;
        }
        Change::SessionOverride {
            session,
            started_ms,
            ended_ms,
        } => {
            transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO session_overrides (session, started_ms, ended_ms)
                     VALUES (?1, ?2, ?3)",
                )?
                .execute(params![session, started_ms, ended_ms])?;
        }
        Change::Sanction {
            room,
            user,
            sanction,
        } => match sanction {
            None => {
                transaction
                    .prepare_cached("DELETE FROM sanctions WHERE room = ?1 AND user_id = ?2")?
                    .execute(params![room, user.id])?;
            }
            Some(sanction) => {
                let (kind, until_ms) = match sanction {
                    Sanction::Muted { until_ms } => ("muted", Some(*until_ms)),
                    Sanction::Removed => ("removed", None),
                };
                transaction
                    .prepare_cached(
                        "INSERT OR REPLACE INTO sanctions (room, user_id, user_name, kind, until_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![room, user.id, user.name, kind, until_ms])?;
            }
        },
        Change::StageGrant {
            room,
            user,
            allowed,
        } => {
            let sql = if *allowed {
                "INSERT OR IGNORE INTO stage_grants (room, user_id) VALUES (?1, ?2)"
            } else {
                "DELETE FROM stage_grants WHERE room = ?1 AND user_id = ?2"
            };
            transaction
                .prepare_cached(sql)?
                .execute(params![room, user])?;
        }
        Change::Bookmark { user, session, on } => {
            let sql = if *on {
                "INSERT OR IGNORE INTO bookmarks (user_id, session) VALUES (?1, ?2)"
            } else {
                "DELETE FROM bookmarks WHERE user_id = ?1 AND session = ?2"
            };
            transaction
                .prepare_cached(sql)?
                .execute(params![user, session])?;
        }
        Change::Reminded { session, user } => {
            transaction
                .prepare_cached(
                    "INSERT OR IGNORE INTO reminders_sent (session, user_id) VALUES (?1, ?2)",
                )?
                .execute(params![session, user])?;
        }
        Change::SignUp {
            session,
            user,
            number,
        } => {
            transaction
                .prepare_cached(
                    "INSERT INTO sign_ups (session, user_id, number) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![session, user, *number as i64])?;
        }
        Change::SignUpWithdrawn { session, user } => {
            transaction
                .prepare_cached("DELETE FROM sign_ups WHERE session = ?1 AND user_id = ?2")?
                .execute(params![session, user])?;
        }
    }
    Ok(())
}

/// One room's writes, committed together; `done` hears the outcome.
struct Batch {
    changes: Vec<Change>,
    done: oneshot::Sender<Result<(), Arc<StoreError>>>,
}

/// The write path: a thread that owns the store's writes and commits queued batches together.
#[derive(Clone)]
pub struct Persister {
    batches: mpsc::Sender<Batch>,
}

/// How many batches one group commit may take at most.
pub const GROUP_COMMIT_BATCHES: usize = 256;

impl Persister {
    /// Start the writer thread, committing up to `group` queued batches in one transaction
    /// (1: a transaction per batch, for measuring what group commit saves). It ends when
    /// every `Persister` clone is dropped.
    pub fn start(store: Arc<dyn Store>, group: usize) -> (Persister, std::thread::JoinHandle<()>) {
        let (batches, mut queue) = mpsc::channel::<Batch>(1024);
        let group_size = group.max(1);
        let thread = std::thread::Builder::new()
            .name("plenary-persister".into())
            .spawn(move || {
                let mut group = Vec::with_capacity(group_size);
                while queue.blocking_recv_many(&mut group, group_size) > 0 {
                    commit_group(store.as_ref(), &mut group);
                }
            })
            .expect("spawning a thread only fails when the OS is out of resources");
        (Persister { batches }, thread)
    }

    /// Commit `changes` durably (with whatever else is queued). Returns once they are on disk.
    pub async fn commit(&self, changes: Vec<Change>) -> Result<(), Arc<StoreError>> {
        let (done, outcome) = oneshot::channel();
        self.batches
            .send(Batch { changes, done })
            .await
            .map_err(|_| Arc::new(StoreError::WriterGone))?;
        outcome
            .await
            .unwrap_or_else(|_| Err(Arc::new(StoreError::WriterGone)))
    }
}

/// Commit a group in one transaction; if it fails, commit each batch alone so that one bad
/// batch fails only its own room.
fn commit_group(store: &dyn Store, group: &mut Vec<Batch>) {
    let all: Vec<&Change> = group.iter().flat_map(|batch| &batch.changes).collect();
    let outcome = store.commit(&all);
    drop(all);
    match outcome {
        Ok(()) => {
            for batch in group.drain(..) {
                let _ = batch.done.send(Ok(()));
            }
        }
        Err(error) if group.len() == 1 => {
            tracing::error!(%error, "commit failed");
            let error = Arc::new(error);
            for batch in group.drain(..) {
                let _ = batch.done.send(Err(Arc::clone(&error)));
            }
        }
        Err(_) => {
            for batch in group.drain(..) {
                let changes: Vec<&Change> = batch.changes.iter().collect();
                let outcome = store.commit(&changes).map_err(|error| {
                    tracing::error!(%error, "commit failed");
                    Arc::new(error)
                });
                let _ = batch.done.send(outcome);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interchange::{self, tests::fixture};

    #[test]
    fn a_data_directory_of_another_schema_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().expect("temporary directory");
        drop(SqliteStore::open(dir.path()).expect("a new store opens"));
        drop(SqliteStore::open(dir.path()).expect("and opens again"));
        let connection = Connection::open(dir.path().join("plenary.db")).expect("opens");
        connection
            .pragma_update(None, "user_version", 99)
            .expect("sets");
        drop(connection);
        let refused = SqliteStore::open(dir.path()).err().expect("refused");
        assert!(
            refused.to_string().contains("another version of Plenary"),
            "{refused}"
        );
    }

    /// A data directory as Plenary wrote it at schema 1 (the tables that changed since, and
    /// one that did not), holding a programme with tracks and speakers, and a chat message.
    const SCHEMA_1: &str = r#"
        CREATE TABLE conference (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, acronym TEXT NOT NULL, timezone TEXT NOT NULL, start_date TEXT NOT NULL, end_date TEXT NOT NULL, days TEXT NOT NULL, tracks TEXT NOT NULL);
        CREATE TABLE rooms (id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, capacity INTEGER, position INTEGER NOT NULL);
        CREATE TABLE sessions (id TEXT PRIMARY KEY, number INTEGER, title TEXT NOT NULL, subtitle TEXT NOT NULL, kind TEXT NOT NULL, room TEXT NOT NULL REFERENCES rooms(id), start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, speakers TEXT NOT NULL, abstract TEXT NOT NULL, description TEXT NOT NULL, track TEXT, languages TEXT NOT NULL, slug TEXT NOT NULL, qa_moderated INTEGER NOT NULL);
        CREATE TABLE chat (room TEXT NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL, removed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (room, id)) WITHOUT ROWID;
        INSERT INTO conference VALUES (1, 'Library Day', 'libday', 'Europe/London', '2026-11-28', '2026-11-28',
            '[{"date":"2026-11-28","start_ms":1795852800000,"end_ms":1795881600000}]', '["Outreach","Digital skills"]');
        INSERT INTO rooms VALUES ('main-stage', 'Main stage', 'stage', NULL, 0), ('workshop-1', 'Workshop room 1', 'workshop', 40, 1);
        INSERT INTO sessions VALUES
            ('keynote', 7, 'Keynote', '', 'keynote', 'main-stage', 1795852800000, 1795856400000, '["Priya Raman","Jonas Becker"]', '', 'Opening.', 'Outreach', '["en"]', 'keynote', 1),
            ('zines', NULL, 'Zines', '', 'workshop', 'workshop-1', 1795856400000, 1795863600000, '["Jonas Becker"]', '', '', 'Digital skills', '["de","en"]', 'zines', 0);
        INSERT INTO chat VALUES ('main-stage', 1, '{"id":1,"text":"Hello from Oslo","author":{"id":"u-1","name":"Ingrid"},"at":"2026-11-28T09:00:00Z"}', 0);
        PRAGMA user_version = 1;
    "#;

    #[test]
    fn a_schema_1_data_directory_is_migrated_in_place_and_keeps_its_data() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let connection = Connection::open(dir.path().join("plenary.db")).expect("opens");
        connection
            .execute_batch(SCHEMA_1)
            .expect("a schema 1 database");
        drop(connection);

        let store = SqliteStore::open(dir.path()).expect("a schema 1 data directory opens");
        let programme = store
            .load_programme()
            .expect("loads")
            .expect("the programme is there");
        assert_eq!(programme.name, "Library Day");
        assert_eq!(programme.rooms.len(), 2);
        // Tracks and speakers were names: each keeps its name as its id, so the sessions'
        // references still hold.
        let tracks: Vec<(&str, &str)> = programme
            .tracks
            .iter()
            .map(|track| (track.id.as_str(), track.name.as_str()))
            .collect();
        assert_eq!(
            tracks,
            [
                ("Outreach", "Outreach"),
                ("Digital skills", "Digital skills")
            ]
        );
        let speakers: Vec<(&str, &str)> = programme
            .speakers
            .iter()
            .map(|speaker| (speaker.id.as_str(), speaker.name.as_str()))
            .collect();
        assert_eq!(
            speakers,
            [
                ("Jonas Becker", "Jonas Becker"),
                ("Priya Raman", "Priya Raman")
            ]
        );
        let keynote = programme.session("keynote").expect("the keynote");
        assert_eq!(
            programme.speaker_names(keynote),
            ["Priya Raman", "Jonas Becker"]
        );
        assert_eq!(programme.track_name(keynote), Some("Outreach"));
        assert_eq!(keynote.number, Some(7));
        assert!(keynote.qa_moderated);
        assert!(keynote.hosts.is_empty() && keynote.moderators.is_empty());
        let zines = programme.session("zines").expect("the workshop");
        assert_eq!(zines.languages, ["de", "en"]);
        assert_eq!(
            programme.to_schedule().sessions[1].track.as_deref(),
            Some("Digital skills")
        );

        let chat = store.chat_before("main-stage", 10, 10).expect("reads chat");
        assert_eq!(chat.len(), 1);
        assert_eq!(chat[0].text, "Hello from Oslo");

        // Migrated, it is a schema 2 data directory: it saves what schema 2 adds, and opens
        // again without migrating twice.
        let mut edited = programme.clone();
        edited.sessions[0].hosts = vec!["u-host".into()];
        store.save_programme(&edited).expect("saves");
        drop(store);
        let store = SqliteStore::open(dir.path()).expect("opens again");
        assert_eq!(store.load_programme().expect("loads"), Some(edited));
        let version: i64 = store
            .lock()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .expect("reads");
        assert_eq!(version, SCHEMA_VERSION);
    }

    fn rowid_of(store: &SqliteStore, session: &str) -> i64 {
        store
            .lock()
            .query_row(
                "SELECT rowid FROM sessions WHERE id = ?1",
                [session],
                |row| row.get(0),
            )
            .expect("the session has a row")
    }

    #[test]
    fn a_programme_loads_back_as_saved_and_saving_it_again_updates_rows_in_place() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqliteStore::open(dir.path()).expect("opens");
        let fosdem = interchange::import(&fixture("fosdem-2025-schedule.xml"))
            .expect("imports")
            .programme;
        store.save_programme(&fosdem).expect("saves");
        assert_eq!(store.load_programme().expect("loads"), Some(fosdem.clone()));
        let key = "852280ac-61d3-588c-b74c-8d87f9d9d2c6";
        let row = rowid_of(&store, key);

        store.save_programme(&fosdem).expect("saves again");
        assert_eq!(store.load_programme().expect("loads"), Some(fosdem.clone()));
        assert_eq!(rowid_of(&store, key), row, "the same row, updated in place");
        let sessions: i64 = store
            .lock()
            .query_row("SELECT COUNT(*) FROM sessions", [], |row| row.get(0))
            .expect("counts");
        assert_eq!(sessions, 943);

        // Another programme replaces it whole: nothing of the first is left.
        let demo = Programme::demo("2026-11-28T12:47:00Z".parse().expect("instant"));
        store.save_programme(&demo).expect("saves the demo");
        assert_eq!(store.load_programme().expect("loads"), Some(demo));
    }
}
