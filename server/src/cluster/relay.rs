//! What the nodes of a cluster tell each other about connections and rooms, on plain NATS
//! subjects (not the log): the shapes of the messages and their encoding.
//!
//! - [`up`]`(epoch)`: a node's connections, to the node that runs the conference in that
//!   epoch ([`Up`], JSON): hello said (with the person), each client frame as it came, the
//!   end.
//! - [`down`]`(node)`: one ordered stream from the node that runs the conference to each
//!   other node ([`Message`]): each turn of each room's feed ([`Kind::Turn`], binary: frames
//!   are JSON already and go as they are) and what the rooms and the SFU send that node's
//!   connections ([`Kind::Items`], JSON), in the order the rooms produced them, so a reply
//!   keeps its place among the events there as here. Each message carries the epoch of the
//!   running node, the epoch of the node it is for, and its number in the stream: a message
//!   lost between nodes (a NATS server failing over) shows as a gap, and that node's
//!   connections resume rather than go on without it.
//! - [`OWNER`] and [`NODES`]: heartbeats ([`Beat`]) of the node that runs the conference and of
//!   the others, so each side knows when the other is gone. The running node's epoch is the
//!   revision of its lease, which grows with each takeover: a node follows only the newest.
//! - [`http`]`(epoch)`: `/api/…` requests of the other nodes, answered by the one that runs
//!   it in that epoch.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use plenary_protocol::{RoomId, UserId};
use serde::{Deserialize, Serialize};

use crate::hub::{Entry, Person};

/// Connections' messages to the node that runs the conference in `epoch` (a node paused
/// past its lease that wakes hears nothing meant for its successor).
pub fn up(epoch: u64) -> String {
    format!("plenary.relay.up.{epoch}")
}
/// The heartbeat of the node that runs the conference.
pub const OWNER: &str = "plenary.relay.owner";
/// The heartbeats of the other nodes.
pub const NODES: &str = "plenary.relay.nodes";
/// `/api/…` requests for the node that runs the conference in `epoch`.
pub fn http(epoch: u64) -> String {
    format!("plenary.relay.http.{epoch}")
}

/// The stream from the node that runs the conference to `node`.
pub fn down(node: &str) -> String {
    format!("plenary.relay.down.{node}")
}

/// A node's heartbeat: its name, and the epoch of this run of it (a process that restarts, or
/// becomes the one running the conference, has a new one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beat {
    pub node: String,
    pub epoch: u64,
}

/// A message of one connection of `node` (in its run `epoch`) to the node that runs the
/// conference.
#[derive(Debug, Serialize, Deserialize)]
pub struct Up {
    pub node: String,
    pub epoch: u64,
    pub conn: u64,
    /// 0 for [`UpKind::Open`], then one more for each message.
    pub seq: u64,
    pub what: UpKind,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum UpKind {
    /// The connection said hello as this person.
    Open { person: Person },
    /// A client frame, as the client sent it.
    Frame { text: String },
    /// The connection ended.
    Close,
}

/// What a message of the stream to a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A feed turn ([`encode_turn`]).
    Turn,
    /// Items for connections: a JSON array of (connection, [`Item`]).
    Items,
    /// Something was lost on the way (the stream's queue overflowed): every connection of the
    /// node resumes.
    Reset,
}

/// One message of the stream to a node, as decoded.
#[derive(Debug)]
pub struct Message {
    pub kind: Kind,
    /// The epoch of the node that runs the conference.
    pub owner: u64,
    /// The epoch of the node it is for.
    pub to: u64,
    /// Its number in the stream.
    pub seq: u64,
    pub body: Bytes,
}

/// Encode a message of the stream to a node: its kind, the two epochs, its number, its body.
pub fn encode_message(kind: Kind, owner: u64, to: u64, seq: u64, body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(25 + body.len());
    out.put_u8(match kind {
        Kind::Turn => b'T',
        Kind::Items => b'I',
        Kind::Reset => b'R',
    });
    out.put_u64(owner);
    out.put_u64(to);
    out.put_u64(seq);
    out.put_slice(body);
    out.freeze()
}

/// Decode what [`encode_message`] wrote; anything else is [`Malformed`].
pub fn decode_message(mut input: Bytes) -> Result<Message, Malformed> {
    if input.remaining() < 25 {
        return Err(Malformed("a message is cut short"));
    }
    let kind = match input.get_u8() {
        b'T' => Kind::Turn,
        b'I' => Kind::Items,
        b'R' => Kind::Reset,
        _ => return Err(Malformed("a message of no known kind")),
    };
    let owner = input.get_u64();
    let to = input.get_u64();
    let seq = input.get_u64();
    Ok(Message {
        kind,
        owner,
        to,
        seq,
        body: input,
    })
}

/// A room's feed position: an item comes after the entries before it.
pub type After = (RoomId, u64);

/// One thing for a connection, in the order it was sent.
#[derive(Debug, Serialize, Deserialize)]
pub enum Item {
    Frame {
        after: Option<After>,
        frame: String,
    },
    Replay {
        after: Option<After>,
        frames: Vec<String>,
    },
    /// The room admitted the connection: it reads the room's feed from `after`.
    Admitted {
        after: After,
        staff: bool,
        user: UserId,
    },
    /// The connection left the room at `after`.
    Left {
        after: After,
    },
    /// The connection is closed with this code, after these frames.
    Closed {
        code: u16,
        last_words: Vec<String>,
    },
}

/// A feed turn that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("a feed turn is malformed: {0}")]
pub struct Malformed(&'static str);

/// One turn of a room's feed, as decoded.
#[derive(Debug)]
pub struct Turn {
    pub room: RoomId,
    /// The position of the first entry.
    pub first: u64,
    pub entries: Vec<Entry>,
}

const PUBLIC: u8 = 1;
/// The public frame is the staff one.
const SAME: u8 = 2;
const OWNED: u8 = 4;

/// Encode a turn: room, first position, then each entry's flags, owner, staff frame and (when
/// it differs) public frame, each length-prefixed.
pub fn encode_turn(room: &str, first: u64, entries: &[Entry]) -> Bytes {
    let size: usize = entries
        .iter()
        .map(|entry| 16 + entry.staff.len() + entry.public.as_ref().map_or(0, Bytes::len))
        .sum();
    let mut out = BytesMut::with_capacity(16 + room.len() + size);
    put_bytes(&mut out, room.as_bytes());
    out.put_u64(first);
    out.put_u32(u32::try_from(entries.len()).unwrap_or(u32::MAX));
    for entry in entries {
        let same = entry.public.as_ref() == Some(&entry.staff);
        let mut flags = 0;
        if entry.public.is_some() {
            flags |= PUBLIC;
        }
        if same {
            flags |= SAME;
        }
        if entry.owner.is_some() {
            flags |= OWNED;
        }
        out.put_u8(flags);
        if let Some(owner) = &entry.owner {
            put_bytes(&mut out, owner.as_bytes());
        }
        put_bytes(&mut out, &entry.staff);
        if let (Some(public), false) = (&entry.public, same) {
            put_bytes(&mut out, public);
        }
    }
    out.freeze()
}

fn put_bytes(out: &mut BytesMut, bytes: &[u8]) {
    out.put_u32(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    out.put_slice(bytes);
}

/// Decode a turn [`encode_turn`] wrote; anything else is [`Malformed`], never a panic.
pub fn decode_turn(mut input: Bytes) -> Result<Turn, Malformed> {
    let room = take_text(&mut input)?;
    let first = take_u64(&mut input)?;
    // A position the copy could not count on from (it must fit what follows it).
    if first > u64::MAX / 2 {
        return Err(Malformed("a position out of range"));
    }
    let count = take_u32(&mut input)?;
    let mut entries = Vec::with_capacity(count.min(4_096) as usize);
    for _ in 0..count {
        if input.remaining() < 1 {
            return Err(Malformed("an entry is cut short"));
        }
        let flags = input.get_u8();
        let owner = if flags & OWNED != 0 {
            Some(take_text(&mut input)?)
        } else {
            None
        };
        let staff = take_bytes(&mut input)?;
        let public = match (flags & PUBLIC != 0, flags & SAME != 0) {
            (false, _) => None,
            (true, true) => Some(staff.clone()),
            (true, false) => Some(take_bytes(&mut input)?),
        };
        entries.push(Entry {
            public,
            staff,
            owner,
        });
    }
    if input.has_remaining() {
        return Err(Malformed("bytes after the last entry"));
    }
    Ok(Turn {
        room,
        first,
        entries,
    })
}

fn take_u64(input: &mut Bytes) -> Result<u64, Malformed> {
    if input.remaining() < 8 {
        return Err(Malformed("a number is cut short"));
    }
    Ok(input.get_u64())
}

fn take_u32(input: &mut Bytes) -> Result<u32, Malformed> {
    if input.remaining() < 4 {
        return Err(Malformed("a length is cut short"));
    }
    Ok(input.get_u32())
}

fn take_bytes(input: &mut Bytes) -> Result<Bytes, Malformed> {
    let length = take_u32(input)? as usize;
    if input.remaining() < length {
        return Err(Malformed("a frame is cut short"));
    }
    Ok(input.split_to(length))
}

fn take_text(input: &mut Bytes) -> Result<String, Malformed> {
    let bytes = take_bytes(input)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| Malformed("a name is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_comes_back_as_it_went_and_a_cut_one_is_refused() {
        let shared = Bytes::from_static(br#"{"type":"event","seq":7}"#);
        let entries = vec![
            Entry {
                public: Some(shared.clone()),
                staff: shared,
                owner: None,
            },
            Entry {
                public: None,
                staff: Bytes::from_static(b"staff only"),
                owner: Some("u-asker".into()),
            },
            Entry {
                public: Some(Bytes::from_static(b"anonymous")),
                staff: Bytes::from_static(b"with the author"),
                owner: None,
            },
        ];
        let encoded = encode_turn("main-stage", 41, &entries);
        let turn = decode_turn(encoded.clone()).expect("it decodes");
        assert_eq!((turn.room.as_str(), turn.first), ("main-stage", 41));
        let seen: Vec<(Option<Bytes>, Bytes, Option<String>)> = turn
            .entries
            .into_iter()
            .map(|entry| (entry.public, entry.staff, entry.owner))
            .collect();
        let sent: Vec<(Option<Bytes>, Bytes, Option<String>)> = entries
            .into_iter()
            .map(|entry| (entry.public, entry.staff, entry.owner))
            .collect();
        assert_eq!(seen, sent);
        for cut in 0..encoded.len() {
            assert!(decode_turn(encoded.slice(..cut)).is_err(), "cut at {cut}");
        }
        let mut longer = BytesMut::from(&encoded[..]);
        longer.put_u8(0);
        assert!(decode_turn(longer.freeze()).is_err());

        let message = encode_message(Kind::Turn, 7, 8, 9, &encoded);
        let decoded = decode_message(message.clone()).expect("it decodes");
        assert_eq!(
            (decoded.kind, decoded.owner, decoded.to, decoded.seq),
            (Kind::Turn, 7, 8, 9)
        );
        assert_eq!(decoded.body, encoded);
        for cut in 0..25 {
            assert!(
                decode_message(message.slice(..cut)).is_err(),
                "cut at {cut}"
            );
        }
    }
}
