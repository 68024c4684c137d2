//! The WebSocket wire under a connection: the opening handshake, reading with tungstenite,
//! and writing frames of our own.
//!
//! Reading is tungstenite's (a `tokio_tungstenite::WebSocketStream` over the socket's read
//! half): it checks everything a client sends (masking, fragments, control frames, UTF-8,
//! sizes). Writing is ours, because it is the hot path of every fan-out: each frame the
//! server sends is a text frame whose payload was serialised once for all its recipients
//! (`hub::encode`, JSON, so UTF-8 already). The [`Writer`] takes a whole batch of them from
//! the room's feed ([`Frames`]), copies each behind its 2–10 byte header into one buffer, and
//! hands the socket one write ([`Writer::send`]). A generic WebSocket sink would check each
//! payload's UTF-8 again and go through one message and several polls per frame and
//! recipient.
//!
//! The [`Writer`] alone writes to the socket: what tungstenite would write itself while
//! reading (its answers to pings and to a close) is dropped, and the connection's writer
//! answers instead ([`Writer::pong`], [`Writer::close`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::hub::Frames;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header};
use axum::response::Response;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::{Role, WebSocketConfig};

/// A connection's read buffer (tungstenite reads in chunks of this size). Small: frames
/// here are small, and every idle attendee holds one; larger frames still work.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// The frames a client sends, as tungstenite reads them.
pub type Reader = WebSocketStream<ReadSide>;

/// The socket's read half, as tungstenite wants a whole stream: what it writes goes nowhere.
pub struct ReadSide(ReadHalf<TokioIo<Upgraded>>);

impl AsyncRead for ReadSide {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

/// Tungstenite answers pings and a close by writing them itself; the [`Writer`] sends those
/// answers instead, so that no frame of its own is ever cut in two.
impl AsyncWrite for ReadSide {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The socket's write half: every frame the server sends.
///
/// Its writes may be cancelled (the connection's writer gives way to a close even while a
/// peer is not reading): what a cancelled write had not sent yet stays in `pending` and goes
/// first next time, so a frame is never cut by the next one, the close frame included.
pub struct Writer<W = WriteHalf<TokioIo<Upgraded>>> {
    io: W,
    /// Frames framed but not all written yet; `written` bytes of them are.
    pending: Vec<u8>,
    written: usize,
    /// Text frames put since the last [`Writer::send`].
    batched: usize,
}

/// What `pending` may keep allocated between batches: an idle connection holds little.
const KEEP_BYTES: usize = 16 * 1024;

/// Frame opcodes the server sends (RFC 6455, 5.2).
const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

impl<W: AsyncWrite + Unpin> Writer<W> {
    fn new(io: W) -> Writer<W> {
        Writer {
            io,
            pending: Vec::new(),
            written: 0,
            batched: 0,
        }
    }

    /// Put a ping, to go with the next [`Writer::send`].
    pub fn ping(&mut self) {
        put_frame(&mut self.pending, PING, &[]);
    }

    /// Put the answer to a ping: its payload (at most 125 bytes, as tungstenite refuses
    /// longer pings).
    pub fn pong(&mut self, payload: &[u8]) {
        put_frame(&mut self.pending, PONG, payload);
    }

    /// Send a close frame (after whatever a cancelled write left) and end the write side.
    /// `reason` is short (a close frame's payload is at most 125 bytes), and cut at a
    /// character boundary if it is not.
    pub async fn close(&mut self, code: u16, reason: &str) -> io::Result<()> {
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let mut payload = Vec::with_capacity(2 + end);
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(&reason.as_bytes()[..end]);
        put_frame(&mut self.pending, CLOSE, &payload);
        self.send().await?;
        self.io.shutdown().await
    }

    /// Write out every frame put so far, in one write if the socket takes it. Cancel-safe:
    /// each `write` either happened (and is counted) or did not.
    pub async fn send(&mut self) -> io::Result<()> {
        self.batched = 0;
        while self.written < self.pending.len() {
            let wrote = self.io.write(&self.pending[self.written..]).await?;
            if wrote == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.written += wrote;
        }
        self.written = 0;
        self.pending.clear();
        if self.pending.capacity() > KEEP_BYTES {
            self.pending = Vec::new();
        }
        Ok(())
    }
}

/// The hub's frames go into the buffer as text frames, copied straight from the room's feed.
/// Each is UTF-8 JSON from `hub::encode` (or from the store, which checks it once).
impl<W> Frames for Writer<W> {
    fn put(&mut self, frame: &[u8]) {
        put_frame(&mut self.pending, TEXT, frame);
        self.batched += 1;
    }

    fn count(&self) -> usize {
        self.batched
    }
}

/// Append one unmasked, final frame (a server's frames are never masked).
fn put_frame(buffer: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    const FIN: u8 = 0x80;
    buffer.push(FIN | opcode);
    match payload.len() {
        short @ 0..=125 => buffer.push(short as u8),
        medium @ 126..=0xFFFF => {
            buffer.push(126);
            buffer.extend_from_slice(&(medium as u16).to_be_bytes());
        }
        long => {
            buffer.push(127);
            buffer.extend_from_slice(&(long as u64).to_be_bytes());
        }
    }
    buffer.extend_from_slice(payload);
}

/// Why an upgrade was refused: the status (400, or 426 with `Sec-WebSocket-Version: 13` for
/// another version, RFC 6455 4.2.2) and what is wrong.
pub type Refused = (StatusCode, &'static str);

/// Check a request is a WebSocket opening handshake (RFC 6455, 4.2.1, over HTTP/1.1) and
/// answer it: `101 Switching Protocols`, and the upgrade to await. Refusals say what is wrong.
pub fn accept(request: &mut Request) -> Result<(Response, OnUpgrade), Refused> {
    let bad = |problem| Err((StatusCode::BAD_REQUEST, problem));
    if request.version() != Version::HTTP_11 || request.method() != Method::GET {
        return bad("a WebSocket opens with an HTTP/1.1 GET");
    }
    let headers = request.headers();
    if !has_token(headers, header::CONNECTION, "upgrade")
        || !has_token(headers, header::UPGRADE, "websocket")
    {
        return bad("expected `Connection: upgrade` and `Upgrade: websocket`");
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13")) {
        return Err((
            StatusCode::UPGRADE_REQUIRED,
            "only WebSocket version 13 is spoken here",
        ));
    }
    let Some(key) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|key| is_key(key.as_bytes()))
    else {
        return bad("Sec-WebSocket-Key must be 16 bytes in base64");
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        return bad("this connection cannot be upgraded");
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).expect("base64 is a valid header value"),
    );
    Ok((response, on_upgrade))
}

/// Whether `key` is 16 bytes in base64: 22 characters of the alphabet and `==`.
fn is_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/'))
}

/// Whether a comma-separated header lists `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// The two halves of an upgraded connection. Client frames (and messages) larger than
/// `max_frame_bytes` are refused by the reader.
pub async fn open(upgraded: Upgraded, max_frame_bytes: usize) -> (Reader, Writer) {
    let (read, write) = tokio::io::split(TokioIo::new(upgraded));
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(Some(max_frame_bytes))
        .max_frame_size(Some(max_frame_bytes));
    let reader = WebSocketStream::from_raw_socket(ReadSide(read), Role::Server, Some(config)).await;
    (reader, Writer::new(write))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn frame_lengths_use_the_shortest_of_the_three_encodings() {
        for (len, header) in [
            (0, vec![0x81, 0]),
            (125, vec![0x81, 125]),
            (126, vec![0x81, 126, 0, 126]),
            (65_535, vec![0x81, 126, 0xFF, 0xFF]),
            (65_536, vec![0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] {
            let payload = vec![b'x'; len];
            let mut buffer = Vec::new();
            put_frame(&mut buffer, TEXT, &payload);
            assert_eq!(&buffer[..header.len()], &header[..], "length {len}");
            assert_eq!(&buffer[header.len()..], &payload[..], "length {len}");
        }
    }

    /// A socket that reads `input` and keeps what is written apart from it.
    struct Loopback {
        input: io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl io::Read for Loopback {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            io::Read::read(&mut self.input, buf)
        }
    }

    impl io::Write for Loopback {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            io::Write::write(&mut self.output, buf)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// What tungstenite, reading as a client, makes of `wire`.
    fn read_as_a_client(wire: Vec<u8>) -> Vec<tungstenite::Message> {
        let loopback = Loopback {
            input: io::Cursor::new(wire),
            output: Vec::new(),
        };
        let mut socket = tungstenite::WebSocket::from_raw_socket(loopback, Role::Client, None);
        let mut messages = Vec::new();
        loop {
            match socket.read() {
                Ok(message) => messages.push(message),
                Err(tungstenite::Error::ConnectionClosed) => return messages,
                Err(error) => panic!("after {} messages: {error}", messages.len()),
            }
        }
    }

    #[tokio::test]
    async fn a_close_after_a_cancelled_write_comes_after_whole_frames() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut writer = Writer::new(server);
        let text = "x".repeat(1_000);
        for _ in 0..10 {
            writer.put(text.as_bytes());
        }
        // Nobody reads: the write blocks after 64 bytes, and is given up.
        let blocked = tokio::time::timeout(std::time::Duration::from_millis(50), writer.send());
        assert!(blocked.await.is_err(), "the peer reads nothing");
        let reading = tokio::spawn(async move {
            let mut wire = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut client, &mut wire)
                .await
                .map(|_| wire)
        });
        writer
            .close(4008, "lagged")
            .await
            .expect("the close is written");
        drop(writer);
        let wire = reading
            .await
            .expect("the reader ran")
            .expect("the wire is read");
        let messages = read_as_a_client(wire);
        assert_eq!(messages.len(), 11, "ten whole frames and the close");
        assert!(
            messages[..10]
                .iter()
                .all(|m| *m == tungstenite::Message::text(&text))
        );
        match &messages[10] {
            tungstenite::Message::Close(Some(close)) => {
                assert_eq!(u16::from(close.code), 4008);
                assert_eq!(close.reason.as_str(), "lagged");
            }
            other => panic!("expected the close frame, got {other:?}"),
        }
    }

    /// What tungstenite, reading as a client, makes of the frames we write.
    #[test]
    fn tungstenite_reads_our_frames_back() {
        let mut wire = Vec::new();
        put_frame(&mut wire, TEXT, "héllo".as_bytes());
        put_frame(&mut wire, TEXT, "x".repeat(70_000).as_bytes());
        put_frame(&mut wire, PING, b"p");
        put_frame(&mut wire, CLOSE, &[0x0F, 0xA8, b'b', b'y', b'e']);
        let messages = read_as_a_client(wire);
        assert_eq!(messages[0], tungstenite::Message::text("héllo"));
        assert_eq!(messages[1], tungstenite::Message::text("x".repeat(70_000)));
        assert_eq!(
            messages[2],
            tungstenite::Message::Ping(Bytes::from_static(b"p"))
        );
        match &messages[3] {
            tungstenite::Message::Close(Some(close)) => {
                assert_eq!(u16::from(close.code), 4008);
                assert_eq!(close.reason.as_str(), "bye");
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}
