//! A room's record: its events, chat (and the flags on it), questions, client ids, moderation
//! log, polls, sanctions, stage grants and its sessions' phases, overrides and people; older chat on
//! demand; and the largest question and poll ids handed out.

use bytes::Bytes;
use plenary_protocol::{
    Author, ChatId, ChatMessage, Poll, PollId, Question, QuestionId, SessionPhase,
};
use rusqlite::{Connection, params};

use super::people::people_of;
use super::{enum_from_text, from_json};
use crate::store::{
    LoadLimits, RoomRecord, Sanction, StoreError, StoredEvent, StoredPoll, StoredQuestion,
};

/// A room's recent history and state, as [`Store::load_room`](crate::store::Store::load_room)
/// describes it.
pub(super) fn load(
    connection: &Connection,
    room: &str,
    limits: LoadLimits,
) -> Result<RoomRecord, StoreError> {
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

    let mut statement = connection.prepare("SELECT body FROM polls WHERE room = ?1 ORDER BY id")?;
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

    let mut statement =
        connection.prepare("SELECT chat_id, user_id FROM chat_flags WHERE room = ?1")?;
    record.chat_flags = statement
        .query_map([room], |row| {
            Ok((row.get::<_, i64>(0)? as ChatId, row.get(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;

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
    let mut statement = connection.prepare("SELECT user_id FROM stage_grants WHERE room = ?1")?;
    record.on_stage = statement
        .query_map([room], |row| row.get(0))?
        .collect::<Result<Vec<_>, _>>()?;

    record.people = people_of(connection, "s.room = ?1", room)?;
    Ok(record)
}

pub(super) fn max_question_id(connection: &Connection) -> Result<QuestionId, StoreError> {
    let max: i64 =
        connection.query_row("SELECT COALESCE(MAX(id), 0) FROM questions", [], |row| {
            row.get(0)
        })?;
    Ok(max as u64)
}

pub(super) fn max_poll_id(connection: &Connection) -> Result<PollId, StoreError> {
    let max: i64 = connection.query_row("SELECT COALESCE(MAX(id), 0) FROM polls", [], |row| {
        row.get(0)
    })?;
    Ok(max as u64)
}

pub(super) fn chat_before(
    connection: &Connection,
    room: &str,
    before: ChatId,
    limit: usize,
) -> Result<Vec<ChatMessage>, StoreError> {
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

/// A stored event's frame. It goes out as a WebSocket text frame without another look
/// (`ws::wire`), so it must be UTF-8: the store checks that once, as it loads.
fn frame(bytes: Vec<u8>) -> Result<Bytes, StoreError> {
    String::from_utf8(bytes)
        .map(Bytes::from)
        .map_err(|error| StoreError::Corrupt(format!("an event's frame: {error}")))
}
