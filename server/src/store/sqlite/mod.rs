//! [`SqliteStore`], the embedded default store: one SQLite file in the data directory, in
//! WAL mode with full fsync, behind one connection. The only module that knows rusqlite: the
//! schema and its migrations (`schema`), the programme (`programme`), a room's record
//! (`rooms`), the people of sessions (`people`) and the writes (`apply`). A running server's
//! database is copied with SQLite's online backup ([`SqliteStore::backup`]).

mod apply;
mod people;
mod programme;
mod rooms;
mod schema;

use std::path::Path;
use std::sync::Mutex;

use plenary_protocol::{ChatId, ChatMessage, PollId, QuestionId};
use rusqlite::Connection;

use super::{Change, LoadLimits, RoomRecord, SessionPeople, Store, StoreError, StoredAgenda};
use crate::programme::Programme;

/// The embedded default: SQLite in WAL mode with full fsync.
pub struct SqliteStore {
    connection: Mutex<Connection>,
}

impl SqliteStore {
    /// Open (or create) `plenary.db` in `data_dir`, migrating a data directory of an older
    /// schema in place.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(data_dir, "FULL")
    }

    /// A new, empty store in `dir` (whatever was there is deleted) that is never fsynced:
    /// a cluster node's view of its log (`jetstream`), rebuilt from the log at each start.
    pub fn open_scratch(dir: &Path) -> Result<SqliteStore, StoreError> {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(StoreError::Backend(Box::new(error))),
        }
        std::fs::create_dir_all(dir).map_err(|error| StoreError::Backend(Box::new(error)))?;
        SqliteStore::open_with(dir, "OFF")
    }

    fn open_with(data_dir: &Path, synchronous: &str) -> Result<SqliteStore, StoreError> {
        let mut connection = Connection::open(data_dir.join("plenary.db"))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", synchronous)?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate(&mut connection, data_dir)?;
        Ok(SqliteStore {
            connection: Mutex::new(connection),
        })
    }

    /// Copy `data_dir`'s database to `out/plenary.db` with SQLite's online backup, even while
    /// a server writes to it: all pages in one step, under one read transaction (in WAL mode
    /// the server's writes go on meanwhile), so the copy is the database as of one commit.
    /// `out` is created, and must be empty if it exists; the copy is checked
    /// (`PRAGMA quick_check`). Nothing is migrated: the copy has the schema of the original.
    pub fn backup(data_dir: &Path, out: &Path) -> Result<(), StoreError> {
        let source_path = data_dir.join("plenary.db");
        if !source_path.is_file() {
            return Err(refused(format!("{} has no database", data_dir.display())));
        }
        std::fs::create_dir_all(out).map_err(|error| StoreError::Backend(Box::new(error)))?;
        let mut entries =
            std::fs::read_dir(out).map_err(|error| StoreError::Backend(Box::new(error)))?;
        if entries.next().is_some() {
            return Err(refused(format!(
                "{} is not empty: back up into a new directory",
                out.display()
            )));
        }
        let source = Connection::open_with_flags(
            &source_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        source.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut copy = Connection::open(out.join("plenary.db"))?;
        {
            let backup = rusqlite::backup::Backup::new(&source, &mut copy)?;
            let mut tries = 0;
            // Busy or locked: a writer holds the database for a moment; try again.
            while backup.step(-1)? != rusqlite::backup::StepResult::Done {
                tries += 1;
                if tries == BACKUP_TRIES {
                    return Err(refused("the database stayed busy: try again".into()));
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        let check: String = copy.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
        if check != "ok" {
            return Err(StoreError::Corrupt(format!("the backup: {check}")));
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (the transaction rolls back
        // when dropped), so a poisoned lock is still safe to use.
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Times a backup tries to copy a database that is busy, 50 ms apart.
const BACKUP_TRIES: u32 = 200;

/// A backup that cannot be made, and why.
fn refused(why: String) -> StoreError {
    StoreError::Backend(why.into())
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        StoreError::Backend(Box::new(error))
    }
}

impl Store for SqliteStore {
    fn load_programme(&self) -> Result<Option<Programme>, StoreError> {
        programme::load(&self.lock())
    }

    fn save_programme(&self, programme: &Programme) -> Result<(), StoreError> {
        programme::save(&mut self.lock(), programme)
    }

    fn load_room(&self, room: &str, limits: LoadLimits) -> Result<RoomRecord, StoreError> {
        rooms::load(&self.lock(), room, limits)
    }

    fn max_question_id(&self) -> Result<QuestionId, StoreError> {
        rooms::max_question_id(&self.lock())
    }

    fn max_poll_id(&self) -> Result<PollId, StoreError> {
        rooms::max_poll_id(&self.lock())
    }

    fn chat_before(
        &self,
        room: &str,
        before: ChatId,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        rooms::chat_before(&self.lock(), room, before, limit)
    }

    fn agenda_of(&self, user: &str) -> Result<StoredAgenda, StoreError> {
        people::agenda_of(&self.lock(), user)
    }

    fn session_people(&self, session: &str) -> Result<SessionPeople, StoreError> {
        people::people_of(&self.lock(), "t.session = ?1", session)
    }

    fn commit(&self, changes: &[&Change]) -> Result<(), StoreError> {
        apply::commit(&mut self.lock(), changes)
    }
}

fn enum_from_text<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|error| StoreError::Corrupt(format!("{text:?}: {error}")))
}

/// Values kept as JSON in a column. Rows that hold a protocol value (a chat message, a
/// question, a poll) keep its JSON: protocol types only gain fields, so old rows still read.
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(format!("{text:?}: {error}")))
}
