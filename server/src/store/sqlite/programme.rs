//! The programme's tables: the conference, its days, tracks, speakers, rooms and sessions,
//! loaded whole and saved whole.

use jiff::Timestamp;
use jiff::civil::Date;
use plenary_protocol::{RoomKind, SessionKind};
use rusqlite::{Connection, OptionalExtension, params};

use super::{enum_from_text, from_json, to_json};
use crate::programme::{ConferenceDay, Programme, RoomDef, SessionDef, SpeakerDef, TrackDef};
use crate::store::StoreError;

/// The stored programme, or `None` on an empty data directory.
pub(super) fn load(connection: &Connection) -> Result<Option<Programme>, StoreError> {
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

/// Replace the whole programme in one transaction, upserting rooms and sessions by id and
/// deleting the ones it drops.
pub(super) fn save(connection: &mut Connection, programme: &Programme) -> Result<(), StoreError> {
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

/// A day of the programme as the `conference.days` column holds it.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredDay {
    date: String,
    start_ms: i64,
    end_ms: i64,
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

#[cfg(test)]
mod tests {
    use crate::interchange::{self, tests::fixture};
    use crate::programme::Programme;
    use crate::store::{SqliteStore, Store};

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
