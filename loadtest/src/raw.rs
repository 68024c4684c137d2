//! A bare WebSocket client for `chat-fanout`'s attendees, so that the load generator costs
//! less than the server it measures.
//!
//! With tokio-tungstenite the loadtest spent about twice the server's CPU per delivery
//! (a message and a poll per frame, a second UTF-8 check, a zeroed read buffer per read), and
//! on two shared cores its latency figures measured itself. Here a connection reads whole
//! chunks of the socket and hands the fan-out only the complete frames in them, which it scans
//! in place. The handshake, `hello` and `join` are done by hand too, so that no bytes sit in
//! another library's buffer when the raw reading starts.
//!
//! It speaks only what servers send here: unfragmented, unmasked frames. A fragment, or a
//! frame of a kind RFC 6455 does not define, ends the connection as an error, which the
//! report counts. Frames it sends are masked with a random key, as a client's must be.

use std::ops::Range;

use anyhow::{Context, Result, anyhow, bail};
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, Stream};
use plenary_protocol::{ClientMessage, ServerMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::client;

/// Room made in a connection's buffer before each read.
const READ_CHUNK: usize = 8 * 1024;

pub const TEXT: u8 = 0x1;
pub const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// A connected, upgraded WebSocket.
pub struct RawSocket {
    stream: TcpStream,
    /// Bytes read and not yet taken as frames.
    buffer: BytesMut,
}

/// The WebSocket handshake of RFC 6455 4.1, by hand. Connects to `ws://HOST:PORT/PATH`.
pub async fn connect(url: &str) -> Result<RawSocket> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| anyhow!("{url} is not ws://HOST:PORT/PATH"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = TcpStream::connect(host).await.context("connect")?;
    stream.set_nodelay(true)?;
    let key = tokio_tungstenite::tungstenite::handshake::client::generate_key();
    let request = format!(
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buffer = BytesMut::with_capacity(READ_CHUNK);
    let head_end = loop {
        if let Some(end) = memchr::memmem::find(&buffer, b"\r\n\r\n") {
            break end + 4;
        }
        if stream.read_buf(&mut buffer).await? == 0 {
            bail!("the server closed the connection during the handshake");
        }
    };
    let head = buffer.split_to(head_end);
    let head = String::from_utf8_lossy(&head);
    if !head.starts_with("HTTP/1.1 101") {
        bail!(
            "upgrade refused: {}",
            head.lines().next().unwrap_or_default()
        );
    }
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let accepted = head.lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("sec-websocket-accept") && value.trim() == accept
        })
    });
    if !accepted {
        bail!("the server's Sec-WebSocket-Accept does not match the key");
    }
    Ok(RawSocket { stream, buffer })
}

/// Connect, say hello as a guest called `name`, and join `room`. Returns the socket and the
/// room's `seq` at joining.
pub async fn attend(url: &str, name: &str, room: &str) -> Result<(RawSocket, u64)> {
    let mut socket = connect(url).await?;
    let hello = ClientMessage::Hello {
        token: None,
        name: Some(name.to_owned()),
    };
    socket.send(&hello).await?;
    socket.expect("welcome").await.context("hello")?;
    let join = ClientMessage::Join {
        room: room.to_owned(),
        since: None,
    };
    socket.send(&join).await?;
    match socket.expect("joined").await.context("join")? {
        ServerMessage::Joined { seq, .. } => Ok((socket, seq)),
        _ => unreachable!("expect returns the kind asked for"),
    }
}

impl RawSocket {
    async fn send(&mut self, message: &ClientMessage) -> Result<()> {
        let mut frame = Vec::new();
        put_text(&mut frame, &serde_json::to_string(message)?);
        self.stream.write_all(&frame).await?;
        Ok(())
    }

    /// Read until a message answers `want` (by kind), as [`client::expect`] does.
    async fn expect(&mut self, want: &str) -> Result<ServerMessage> {
        loop {
            while let Some((opcode, payload, length)) = frame_at(&self.buffer)? {
                let frame = self.buffer.split_to(length).freeze();
                match opcode {
                    TEXT => {
                        let text = std::str::from_utf8(&frame[payload])?;
                        if let Some(message) = client::answers(text, want)? {
                            return Ok(message);
                        }
                    }
                    CLOSE => bail!("closed by the server"),
                    _ => {}
                }
            }
            self.buffer.reserve(READ_CHUNK);
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                bail!("the server closed the connection");
            }
        }
    }

    /// The socket's halves: a stream of chunks of whole frames (which answers pings through
    /// `pong`, if given), and the write half when the caller keeps it instead.
    pub fn split(self, answer_pings: bool) -> (Chunks, Option<OwnedWriteHalf>) {
        let (read, write) = self.stream.into_split();
        let (pong, write) = if answer_pings {
            (Some(write), None)
        } else {
            (None, Some(write))
        };
        let chunks = Chunks {
            read,
            buffer: self.buffer,
            pong,
        };
        (chunks, write)
    }
}

/// A connection's read side: whole frames, a chunk at a time.
pub struct Chunks {
    read: OwnedReadHalf,
    buffer: BytesMut,
    /// Where pings are answered, unless the connection's writer is elsewhere (a poster,
    /// whose chat frames tell the server it is alive).
    pong: Option<OwnedWriteHalf>,
}

impl Chunks {
    /// Every whole frame read, a chunk of one or more at a time (see [`frames`]); ends when
    /// the server closes the connection, after an error if it broke off.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes>> {
        stream::unfold(Some(self), |state| async move {
            let mut chunks = state?;
            match chunks.next().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(chunks))),
                Ok(None) => None,
                Err(error) => Some((Err(error), None)),
            }
        })
    }

    async fn next(&mut self) -> Result<Option<Bytes>> {
        loop {
            let mut whole = 0;
            let mut pings = Vec::new();
            while let Some((opcode, payload, length)) = frame_at(&self.buffer[whole..])? {
                if opcode == PING {
                    let start = whole + payload.start;
                    pings.push(self.buffer[start..whole + payload.end].to_vec());
                }
                whole += length;
            }
            for ping in pings {
                if let Some(pong) = &mut self.pong {
                    let mut frame = Vec::new();
                    put_frame(&mut frame, PONG, &ping);
                    pong.write_all(&frame).await?;
                }
            }
            if whole > 0 {
                return Ok(Some(self.buffer.split_to(whole).freeze()));
            }
            self.buffer.reserve(READ_CHUNK);
            if self.read.read_buf(&mut self.buffer).await? == 0 {
                return Ok(None);
            }
        }
    }
}

/// The frames in a chunk from [`Chunks`]: (opcode, payload) of each.
pub fn frames(chunk: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let (opcode, payload, length) = frame_at(&chunk[at..]).ok()??;
        let frame = &chunk[at..at + length];
        at += length;
        Some((opcode, &frame[payload]))
    })
}

/// The frame at the start of `buffer`, if it is all there: its opcode, where its payload
/// is, and its length. Errors on what servers here never send.
fn frame_at(buffer: &[u8]) -> Result<Option<(u8, Range<usize>, usize)>> {
    let [first, second, ..] = *buffer else {
        return Ok(None);
    };
    if first & 0x80 == 0 || first & 0x70 != 0 {
        bail!("a fragmented frame, or one with extension bits");
    }
    let opcode = first & 0x0F;
    if !matches!(opcode, TEXT | 0x2 | CLOSE | PING | PONG) {
        bail!("a frame with opcode {opcode:#x}");
    }
    if second & 0x80 != 0 {
        bail!("a masked frame from the server");
    }
    let (length, header) = match second & 0x7F {
        126 => match buffer.get(2..4) {
            Some(bytes) => (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 4),
            None => return Ok(None),
        },
        127 => match buffer.get(2..10) {
            Some(bytes) => (u64::from_be_bytes(bytes.try_into()?), 10),
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    let end = usize::try_from(length)
        .ok()
        .and_then(|length| length.checked_add(header))
        .ok_or_else(|| anyhow!("a frame of {length} bytes"))?;
    Ok((buffer.len() >= end).then_some((opcode, header..end, end)))
}

/// Append a masked text frame.
pub fn put_text(out: &mut Vec<u8>, text: &str) {
    put_frame(out, TEXT, text.as_bytes());
}

/// Append a final, masked frame with a random key.
fn put_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    match payload.len() {
        short @ 0..=125 => out.push(0x80 | short as u8),
        medium @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(medium as u16).to_be_bytes());
        }
        long => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(long as u64).to_be_bytes());
        }
    }
    let mask: [u8; 4] = rand::random();
    out.extend_from_slice(&mask);
    out.extend(
        payload
            .iter()
            .zip(mask.iter().cycle())
            .map(|(byte, key)| byte ^ key),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server's frame: unmasked.
    fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            short @ 0..=125 => frame.push(short as u8),
            medium => {
                frame.push(126);
                frame.extend_from_slice(&(medium as u16).to_be_bytes());
            }
        }
        frame.extend_from_slice(payload);
        frame
    }

    #[test]
    fn whole_frames_are_found_and_a_cut_one_waits_for_the_rest() {
        let long = "y".repeat(300);
        let mut wire = server_frame(TEXT, b"short");
        wire.extend(server_frame(TEXT, long.as_bytes()));
        wire.extend(server_frame(CLOSE, &[0x0F, 0xA8]));
        let found: Vec<(u8, Vec<u8>)> = frames(&wire).map(|(op, p)| (op, p.to_vec())).collect();
        assert_eq!(
            found,
            vec![
                (TEXT, b"short".to_vec()),
                (TEXT, long.into_bytes()),
                (CLOSE, vec![0x0F, 0xA8]),
            ]
        );
        // Cut anywhere in the second frame (its 16-bit length included): the first is
        // whole, the second waits for the rest.
        let (_, _, first) = frame_at(&wire).expect("valid").expect("whole");
        let second = first + 4 + 300;
        for cut in first + 1..second {
            let found: Vec<u8> = frames(&wire[..cut]).map(|(op, _)| op).collect();
            assert_eq!(found, vec![TEXT], "cut at {cut}");
            assert_eq!(
                frame_at(&wire[first..cut]).expect("valid"),
                None,
                "cut at {cut}"
            );
        }
        assert!(frame_at(&[0x01, 0x00]).is_err(), "a fragment is refused");
        assert!(
            frame_at(&[0x83, 0x00]).is_err(),
            "an undefined opcode is refused"
        );
        let huge = [0x81, 127, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert!(
            frame_at(&huge).is_err(),
            "a length past the address space is refused"
        );
    }

    #[test]
    fn what_we_send_is_masked_and_tungstenite_reads_it_as_a_server() {
        use std::io::{Cursor, Read, Write};
        struct Loopback(Cursor<Vec<u8>>, Vec<u8>);
        impl Read for Loopback {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                Read::read(&mut self.0, buf)
            }
        }
        impl Write for Loopback {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                Write::write(&mut self.1, buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let text = "é".repeat(100);
        let mut wire = Vec::new();
        put_text(&mut wire, &text);
        assert_ne!(wire[1] & 0x80, 0, "the mask bit");
        use tokio_tungstenite::tungstenite::{Message, WebSocket, protocol::Role};
        let mut server =
            WebSocket::from_raw_socket(Loopback(Cursor::new(wire), Vec::new()), Role::Server, None);
        assert_eq!(server.read().expect("a frame"), Message::text(text));
    }
}
