//! The tables: [`SCHEMA`] as a new data directory gets them, [`MIGRATIONS`] from each older
//! schema to the next, and [`migrate`], which brings a database to [`SCHEMA_VERSION`] when
//! the store opens.

use std::path::Path;

use rusqlite::Connection;

use crate::store::StoreError;

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
CREATE TABLE IF NOT EXISTS chat_flags (
    room TEXT NOT NULL,
    chat_id INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (room, chat_id, user_id)
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

/// Bring the database on `connection` to [`SCHEMA_VERSION`]: create the tables of a new one,
/// or run [`SCHEMA`] and the steps from an older one's version on, in one transaction; refuse
/// one of a newer version (or not Plenary's), naming `data_dir`, before writing anything.
pub(super) fn migrate(connection: &mut Connection, data_dir: &Path) -> Result<(), StoreError> {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::SCHEMA_VERSION;
    use crate::store::{SqliteStore, Store};

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
}
