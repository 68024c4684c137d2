//! Simulated people: connecting, `hello`, `join`, and reading frames cheaply.
//!
//! Frames the loadtest sees millions of times (room events) are scanned for the two numbers
//! it needs, `seq` and the send time embedded in the text, without a full JSON parse; rarer
//! frames (acks, errors, joined) go through the protocol crate's types.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use plenary_protocol::{ClientMessage, ErrorCode, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One monotonic clock base for the whole run: send times in messages and receive times are
/// both nanoseconds since this instant, in the same process.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn new() -> Clock {
        Clock(Instant::now())
    }

    pub fn nanos(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub fn at(&self, nanos: u64) -> Instant {
        self.0 + Duration::from_nanos(nanos)
    }
}

/// How much a connection reads from its socket at once. Tungstenite zeroes this much of its
/// buffer before every read (also one that finds nothing), so its 128 KiB default cost the
/// loadtest more than reading the frames did.
const READ_BUFFER_BYTES: usize = 16 * 1024;

fn config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
}

/// Open a WebSocket to `url`.
pub async fn connect(url: &str) -> Result<Socket> {
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config()), false)
        .await
        .context("connect")?;
    Ok(socket)
}

/// Send a protocol message.
pub async fn send(socket: &mut Socket, message: &ClientMessage) -> Result<()> {
    let text = serde_json::to_string(message)?;
    socket.send(Message::text(text)).await?;
    Ok(())
}

/// Read until a message answers `want` (by kind), failing on an error or a close.
pub async fn expect(socket: &mut Socket, want: &str) -> Result<ServerMessage> {
    while let Some(frame) = socket.next().await {
        match frame? {
            Message::Text(text) => {
                if let Some(message) = answers(text.as_str(), want)? {
                    return Ok(message);
                }
            }
            Message::Close(frame) => bail!("closed by the server: {frame:?}"),
            _ => {}
        }
    }
    bail!("the server closed the connection")
}

/// The message in `text` if it answers `want` (by kind); an error if the server refused.
pub fn answers(text: &str, want: &str) -> Result<Option<ServerMessage>> {
    if text.starts_with("{\"type\":\"event\"") {
        return Ok(None);
    }
    let message: ServerMessage =
        serde_json::from_str(text).with_context(|| format!("unreadable frame {text}"))?;
    match (&message, want) {
        (ServerMessage::Welcome { .. }, "welcome")
        | (ServerMessage::Joined { .. }, "joined")
        | (ServerMessage::Ack { .. }, "ack")
        | (ServerMessage::RtcAnswer { .. }, "rtc_answer") => Ok(Some(message)),
        (ServerMessage::Error { code, message, .. }, _) => {
            bail!("server refused ({}): {message}", code_name(*code))
        }
        _ => Ok(None),
    }
}

/// Connect, say hello (as a guest called `name`, or with `token`), and join `rooms`.
/// Returns the socket and the `seq` of each room at joining.
pub async fn attend(
    url: &str,
    name: &str,
    token: Option<&str>,
    rooms: &[&str],
) -> Result<(Socket, Vec<u64>)> {
    attend_on(connect(url).await?, name, token, rooms).await
}

/// Connect with a receive buffer of `bytes` (`SO_RCVBUF`, which also stops the kernel from
/// growing it), say hello and join `rooms`. A client that then reads nothing holds at most
/// about that much in its kernel buffer, as a phone on a bad network would, instead of the
/// tens of MiB Linux allows a loopback socket.
pub async fn attend_small_buffer(
    url: &str,
    bytes: u32,
    name: &str,
    rooms: &[&str],
) -> Result<(Socket, Vec<u64>)> {
    let address: std::net::SocketAddr = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default()
        .parse()
        .with_context(|| format!("{url} is not ws://IP:PORT/..."))?;
    let tcp = tokio::net::TcpSocket::new_v4()?;
    tcp.set_recv_buffer_size(bytes)?;
    let stream = tcp.connect(address).await.context("connect")?;
    let (socket, _) = tokio_tungstenite::client_async_with_config(
        url,
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
        Some(config()),
    )
    .await
    .context("upgrade")?;
    attend_on(socket, name, None, rooms).await
}

/// Say hello on a connected socket and join `rooms`.
pub async fn attend_on(
    mut socket: Socket,
    name: &str,
    token: Option<&str>,
    rooms: &[&str],
) -> Result<(Socket, Vec<u64>)> {
    let hello = ClientMessage::Hello {
        token: token.map(str::to_owned),
        name: token.is_none().then(|| name.to_owned()),
    };
    send(&mut socket, &hello).await?;
    expect(&mut socket, "welcome").await.context("hello")?;
    let mut seqs = Vec::with_capacity(rooms.len());
    for room in rooms {
        let join = ClientMessage::Join {
            room: (*room).to_owned(),
            since: None,
        };
        send(&mut socket, &join).await?;
        match expect(&mut socket, "joined").await.context("join")? {
            ServerMessage::Joined { seq, .. } => seqs.push(seq),
            _ => unreachable!("expect returns the kind asked for"),
        }
    }
    Ok((socket, seqs))
}

/// The stable name of an error code, for counting.
pub fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{code:?}"))
}

/// The unsigned integer right after `key` in `text`. (`memmem`, not `str::find`: this runs
/// for every frame, and `str::find` sets up a searcher each time.)
pub fn number_after(text: &[u8], key: &[u8]) -> Option<u64> {
    let start = memchr::memmem::find(text, key)? + key.len();
    text[start..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .fold(None, |acc: Option<u64>, digit| {
            Some(acc.unwrap_or(0) * 10 + u64::from(digit - b'0'))
        })
}

/// A chat text carrying its send time and message number, padded to `size` bytes with
/// letters (nothing that JSON escapes).
pub fn chat_text(sent_nanos: u64, number: u64, size: usize) -> String {
    let mut text = format!("t={sent_nanos} k={number} ");
    while text.len() < size {
        text.push_str("lorem ipsum dolor sit amet ");
    }
    text.truncate(size.max(1));
    text
}

/// What a Plenary event frame tells the loadtest: its `seq`, and the send time embedded in
/// the text if it is one of the loadtest's chat messages (`None` for the room's other events,
/// such as a session starting, which take a `seq` too).
pub fn scan_event(text: &[u8]) -> Option<(u64, Option<u64>)> {
    if !text.starts_with(b"{\"type\":\"event\"") {
        return None;
    }
    let seq = number_after(text, b"\"seq\":")?;
    Some((seq, number_after(text, b"\"text\":\"t=")))
}

/// What a baseline frame (the chat text itself) tells: message number and send time.
pub fn scan_baseline(text: &[u8]) -> Option<(u64, Option<u64>)> {
    let sent = number_after(text, b"t=")?;
    let number = number_after(text, b" k=")?;
    Some((number, Some(sent)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_yields_its_seq_and_a_chat_event_its_send_time() {
        let frame = r#"{"type":"event","room":"main-stage","seq":42,"event":{"kind":"chat","id":42,"text":"t=123456 k=7 lorem","author":{"id":"u","name":"n"},"at":"x"}}"#;
        assert_eq!(scan_event(frame.as_bytes()), Some((42, Some(123_456))));
        let session = r#"{"type":"event","room":"main-stage","seq":43,"event":{"kind":"session"}}"#;
        assert_eq!(scan_event(session.as_bytes()), Some((43, None)));
        assert_eq!(scan_event(br#"{"type":"ack","id":3}"#), None);
    }

    #[test]
    fn chat_texts_have_the_asked_size_and_round_trip() {
        let text = chat_text(987, 5, 200);
        assert_eq!(text.len(), 200);
        assert_eq!(scan_baseline(text.as_bytes()), Some((5, Some(987))));
    }
}
