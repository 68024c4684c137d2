//! The people of sessions: who bookmarked them, whom their reminders reached and who signed
//! up for them, by room or by session, and one person's agenda.

use plenary_protocol::{SessionId, UserId};
use rusqlite::Connection;

use crate::store::{SessionPeople, StoreError, StoredAgenda};

/// The people of the sessions `filter` picks: an SQL condition on `t` (the bookmarks,
/// reminders or sign-ups row) and `s` (its session), with `?1` bound to `key`.
pub(super) fn people_of(
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

/// A person's bookmarks and sign-ups, each sign-up with its place in its session's order, and
/// how many signed up for each session.
pub(super) fn agenda_of(connection: &Connection, user: &str) -> Result<StoredAgenda, StoreError> {
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
    let mut statement = connection.prepare_cached(
        "SELECT session, COUNT(*) FROM sign_ups GROUP BY session ORDER BY session",
    )?;
    let sign_up_counts = statement
        .query_map([], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as usize)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StoredAgenda {
        bookmarks,
        sign_ups,
        sign_up_counts,
    })
}
