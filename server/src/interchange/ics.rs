//! The programme as an iCalendar file (RFC 5545) that calendar apps subscribe to: one
//! `VEVENT` per session with a stable `UID` (`<session key>@<conference acronym>`, so a
//! re-published programme updates events instead of duplicating them), times in UTC, the
//! room as `LOCATION` and the track as `CATEGORIES`. A person's agenda ([`agenda_to_ics`])
//! is the same calendar cut to the sessions they bookmarked, each with a `VALARM` reminder.
//!
//! Written here rather than with a calendar crate: the format is a few lines per event, and
//! what strict parsers insist on is exactly what this file does — CRLF line ends, content
//! lines folded at 75 octets without splitting a UTF-8 character, TEXT values with `\`, `;`,
//! `,` and newlines escaped, and a `DTSTAMP` on every event. The tests read the output back
//! with the `icalendar` crate's parser.

use jiff::{SignedDuration, Timestamp};

use crate::programme::{Programme, SessionDef};

/// The programme as iCalendar text. `now` is the `DTSTAMP` (when this copy was made).
pub fn to_ics(programme: &Programme, now: Timestamp) -> String {
    let calendar = Calendar {
        name: &programme.name,
        alarm: None,
    };
    calendar.write(programme, programme.sessions.iter(), now)
}

/// A person's agenda: the sessions among `bookmarked`, in programme order, each with a
/// display alarm `reminder` before it starts.
pub fn agenda_to_ics(
    programme: &Programme,
    bookmarked: &[String],
    reminder: SignedDuration,
    now: Timestamp,
) -> String {
    let name = format!("{}: my agenda", programme.name);
    let calendar = Calendar {
        name: &name,
        alarm: Some(reminder),
    };
    let sessions = programme
        .sessions
        .iter()
        .filter(|session| bookmarked.contains(&session.id));
    calendar.write(programme, sessions, now)
}

/// What a calendar is called, and whether its events carry an alarm.
struct Calendar<'a> {
    name: &'a str,
    /// How long before each event's start a display alarm goes off.
    alarm: Option<SignedDuration>,
}

impl Calendar<'_> {
    fn write<'s>(
        &self,
        programme: &Programme,
        sessions: impl Iterator<Item = &'s SessionDef>,
        now: Timestamp,
    ) -> String {
        let mut out = String::with_capacity(512 + programme.sessions.len() * 512);
        let mut line = |text: &str| fold_into(&mut out, text);
        line("BEGIN:VCALENDAR");
        line("VERSION:2.0");
        line("PRODID:-//Plenary//Plenary programme//EN");
        line("CALSCALE:GREGORIAN");
        line("METHOD:PUBLISH");
        line(&format!("X-WR-CALNAME:{}", escape(self.name)));
        line(&format!("X-WR-TIMEZONE:{}", escape(&programme.timezone)));
        let stamp = utc(now);
        for session in sessions {
            let room = programme
                .rooms
                .iter()
                .find(|room| room.id == session.room)
                .map_or(session.room.as_str(), |room| room.name.as_str());
            line("BEGIN:VEVENT");
            line(&format!(
                "UID:{}",
                escape(&format!("{}@{}", session.id, programme.acronym))
            ));
            line(&format!("DTSTAMP:{stamp}"));
            line(&format!("DTSTART:{}", utc(session.start)));
            line(&format!("DTEND:{}", utc(session.end)));
            line(&format!("SUMMARY:{}", escape(&session.title)));
            line(&format!("LOCATION:{}", escape(room)));
            let mut description: Vec<&str> = [
                session.subtitle.as_str(),
                session.abstract_text.as_str(),
                session.description.as_str(),
            ]
            .into_iter()
            .filter(|text| !text.trim().is_empty())
            .collect();
            let speakers = format!("Speakers: {}", programme.speaker_names(session).join(", "));
            if !session.speakers.is_empty() {
                description.push(&speakers);
            }
            if !description.is_empty() {
                line(&format!(
                    "DESCRIPTION:{}",
                    escape(&description.join("\n\n"))
                ));
            }
            if let Some(track) = &session.track {
                line(&format!("CATEGORIES:{}", escape(track)));
            }
            if let Some(before) = self.alarm {
                line("BEGIN:VALARM");
                line("ACTION:DISPLAY");
                line(&format!("DESCRIPTION:{}", escape(&session.title)));
                line(&format!("TRIGGER:-PT{}M", before.as_mins().max(0)));
                line("END:VALARM");
            }
            line("END:VEVENT");
        }
        line("END:VCALENDAR");
        out
    }
}

/// An instant as an RFC 5545 UTC date-time, `20250201T093500Z`.
fn utc(instant: Timestamp) -> String {
    instant.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value with `\`, `;`, `,` and line breaks escaped, and other control characters
/// (which TEXT may not hold) dropped.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            ';' => escaped.push_str("\\;"),
            ',' => escaped.push_str("\\,"),
            '\r' => {
                chars.next_if_eq(&'\n');
                escaped.push_str("\\n");
            }
            '\n' => escaped.push_str("\\n"),
            '\t' => escaped.push('\t'),
            c if c.is_control() => {}
            c => escaped.push(c),
        }
    }
    escaped
}

/// Append a content line, folded so that no physical line exceeds 75 octets (a continuation
/// line starts with a space, which counts), never inside a UTF-8 character, ending in CRLF.
fn fold_into(out: &mut String, line: &str) {
    let mut rest = line;
    let mut room = 75;
    while rest.len() > room {
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        room = 74;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_lines_within_75_octets_and_characters_whole() {
        let mut out = String::new();
        let line = format!("SUMMARY:{}", "Bibliothèque ünd 図書館 ".repeat(12));
        fold_into(&mut out, &line);
        assert!(out.ends_with("\r\n"));
        let physical: Vec<&str> = out.trim_end_matches("\r\n").split("\r\n").collect();
        assert!(physical.len() > 1);
        for (n, part) in physical.iter().enumerate() {
            assert!(part.len() <= 75, "line {n} has {} octets", part.len());
            assert_eq!(n > 0, part.starts_with(' '));
        }
        let unfolded: String = physical
            .iter()
            .enumerate()
            .map(|(n, part)| if n == 0 { *part } else { &part[1..] })
            .collect();
        assert_eq!(unfolded, line);
    }

    #[test]
    fn text_values_escape_separators_and_line_breaks() {
        assert_eq!(
            escape("a, b; c\\d\r\ne\nf\rg\u{7}"),
            "a\\, b\\; c\\\\d\\ne\\nf\\ng"
        );
    }
}
