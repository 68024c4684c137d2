//! The writes: each [`Change`] as the rows it inserts, replaces or deletes, and a batch of
//! them committed in one transaction.

use rusqlite::{Connection, params};

use super::to_json;
use crate::store::{Change, Sanction, StoreError};

/// Apply every change in one transaction: all or nothing.
pub(super) fn commit(connection: &mut Connection, changes: &[&Change]) -> Result<(), StoreError> {
    let transaction = connection.transaction()?;
    for change in changes {
        apply(&transaction, change)?;
    }
    transaction.commit()?;
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
        Change::ChatFlag { room, id, user } => {
            transaction
                .prepare_cached(
                    "INSERT OR IGNORE INTO chat_flags (room, chat_id, user_id) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![room, *id as i64, user])?;
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
