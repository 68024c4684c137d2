//! Test support: start the real server on 127.0.0.1:0 with its own data directory, and talk
//! to it as a client would, over real WebSockets.
//!
//! `TEST_LOG=1` turns on the server's logs.
//!
//! Beside the server and its clients: [`demo`] names the demo conference's rooms and
//! sessions, [`eventually`] waits for a condition, [`browser`] shares one chromedriver
//! among the browser tests, and [`store`] makes a server's writes fail on demand.
//! [`nats`] runs NATS JetStream servers and `plenary` processes for the cluster tests.

pub mod browser;
pub mod nats;
pub mod store;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Once};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use plenary_protocol::Role;
use plenary_server::auth::{Claims, Keys, random_hex, unix_now};
use plenary_server::clock::Clock;
use plenary_server::store::Store;
use plenary_server::{Config, Server};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::store::FailingStore;

/// How long a test waits for a message it expects before failing (a bound on hanging, not a
/// speed requirement).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The demo conference's rooms and sessions that tests use (what a new data directory is
/// seeded with).
pub mod demo {
    /// The main stage.
    pub const STAGE: &str = "main-stage";
    /// The live keynote on the main stage: its Q&A is moderated.
    pub const KEYNOTE: &str = "keynote-open";
    /// Workshop room 1.
    pub const WORKSHOP_ROOM: &str = "workshop-1";
    /// Workshop room 2.
    pub const OTHER_WORKSHOP_ROOM: &str = "workshop-2";
    /// A workshop in workshop room 1: its Q&A is open, and it takes sign-ups.
    pub const WORKSHOP_SESSION: &str = "workshop-partnerships";
}

/// Check the answers to more `register`s of one workshop session than it has places, sent at
/// once: exactly `capacity` are `registered`, and everyone else is `waitlisted` in line,
/// positions 1, 2, … one each.
pub fn assert_places_taken_exactly(answers: &[serde_json::Value], capacity: usize) {
    let registered = answers
        .iter()
        .filter(|answer| answer["status"] == "registered")
        .count();
    assert_eq!(
        registered, capacity,
        "exactly as many places as the room has"
    );
    let mut positions: Vec<u64> = answers
        .iter()
        .filter(|answer| answer["status"] == "waitlisted")
        .filter_map(|answer| answer["position"].as_u64())
        .collect();
    positions.sort_unstable();
    let expected: Vec<u64> = (1..=(answers.len() - capacity) as u64).collect();
    assert_eq!(positions, expected, "everyone else in line, one place each");
}

/// Poll `probe` every 50 ms until it gives a value, for at most [`PATIENCE`]; `what` names
/// what was waited for when it never came.
pub async fn eventually<T>(
    what: &str,
    mut probe: impl AsyncFnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe().await? {
            return Ok(value);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("waited {PATIENCE:?} for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
                .with_test_writer()
                .init();
        }
    });
}

/// A running server with its own temporary data directory.
pub struct TestServer {
    pub server: Server,
    pub dir: tempfile::TempDir,
    clock: Clock,
}

/// The defaults, on 127.0.0.1:0, with a manual clock set to now.
fn test_config(dir: &tempfile::TempDir) -> Result<Config> {
    let mut config = Config::new("127.0.0.1:0".parse()?, dir.path().to_owned());
    config.clock = Clock::manual(jiff::Timestamp::now());
    Ok(config)
}

impl TestServer {
    /// A fresh server with the demo conference.
    pub async fn start() -> Result<TestServer> {
        TestServer::start_in(tempfile::tempdir()?).await
    }

    /// A fresh server with a configuration changed from the defaults.
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Result<TestServer> {
        let dir = tempfile::tempdir()?;
        let mut config = test_config(&dir)?;
        configure(&mut config);
        TestServer::start_configured(dir, config).await
    }

    /// A fresh server whose clock shows `instant` (RFC 3339): for programmes of other days.
    pub async fn start_at(instant: &str) -> Result<TestServer> {
        let start: jiff::Timestamp = instant.parse()?;
        TestServer::start_with(|config| config.clock = Clock::manual(start)).await
    }

    /// A server on an existing data directory (to test restarts).
    pub async fn start_in(dir: tempfile::TempDir) -> Result<TestServer> {
        let config = test_config(&dir)?;
        TestServer::start_configured(dir, config).await
    }

    /// A fresh server with the demo conference on a store whose commits fail while the test
    /// says so.
    pub async fn start_failing() -> Result<(TestServer, Arc<FailingStore>)> {
        let dir = tempfile::tempdir()?;
        let store = FailingStore::open(dir.path())?;
        let mut config = test_config(&dir)?;
        config.store = Some(Arc::clone(&store) as Arc<dyn Store>);
        Ok((TestServer::start_configured(dir, config).await?, store))
    }

    /// The server's clock: it stands still until a test moves it, so sessions change phase
    /// only when a test says so.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    async fn start_configured(dir: tempfile::TempDir, config: Config) -> Result<TestServer> {
        init_logs();
        let clock = config.clock.clone();
        let server = plenary_server::start(config).await?;
        Ok(TestServer { server, dir, clock })
    }

    /// Stop the server and hand back its data directory.
    pub async fn stop(self) -> tempfile::TempDir {
        self.server.shutdown().await;
        self.dir
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// `GET /api/schedule`: the programme as everyone sees it.
    pub async fn schedule(&self) -> Result<Value> {
        Ok(reqwest::get(self.url("/api/schedule"))
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// A personal token, as `plenary token` issues it.
    pub fn token(&self, role: Role, name: &str) -> String {
        personal_token(self.dir.path(), role, name)
    }

    /// A connected client that said hello with a personal token of `role`.
    pub async fn client(&self, role: Role, name: &str) -> Result<Client> {
        let mut client = Client::connect(self.addr()).await?;
        client.hello(&self.token(role, name)).await?;
        Ok(client)
    }
}

/// A personal token signed with the data directory's secret.
pub fn personal_token(data_dir: &Path, role: Role, name: &str) -> String {
    scoped_token(data_dir, role, name, None)
}

/// A personal token limited to `rooms` (`None`: every room), as `plenary token --room` issues.
pub fn scoped_token(data_dir: &Path, role: Role, name: &str, rooms: Option<Vec<String>>) -> String {
    let keys = Keys::load(data_dir, None).expect("the data directory's secret is readable");
    let mut claims = Claims::new(
        format!("u-{}", random_hex(8)),
        name.into(),
        role,
        unix_now(),
        1,
    );
    claims.rooms = rooms;
    keys.issue(&claims)
}

/// A WebSocket client speaking JSON.
pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_ref: i64,
    /// The person's id once welcomed.
    pub user_id: String,
    /// Whether [`Client::recv`] returns the messages outside the event log (presence,
    /// reactions, hands). They arrive on the room's own clock, so tests that check a sequence
    /// of answers and events leave them out; tests of those messages turn this on.
    pub ephemeral: bool,
}

/// Messages a room sends outside its event log, on its own clock.
const EPHEMERAL: [&str; 3] = ["presence", "reactions", "hands"];

impl Client {
    /// Connect to `/ws`.
    pub async fn connect(addr: SocketAddr) -> Result<Client> {
        let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await?;
        Ok(Client {
            socket,
            next_ref: 0,
            user_id: String::new(),
            ephemeral: false,
        })
    }

    /// Send a raw text frame.
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        self.socket.send(Message::text(text)).await?;
        Ok(())
    }

    /// Send a message, adding a fresh `ref`; returns the ref.
    pub async fn send(&mut self, mut message: Value) -> Result<i64> {
        self.next_ref += 1;
        message["ref"] = json!(self.next_ref);
        self.send_text(&message.to_string()).await?;
        Ok(self.next_ref)
    }

    /// The next JSON message from the server.
    pub async fn recv(&mut self) -> Result<Value> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .context("no message from the server in time")?
                .ok_or_else(|| anyhow!("the server closed the connection"))??;
            match frame {
                Message::Text(text) => {
                    let message: Value = serde_json::from_str(text.as_str())?;
                    let kind = message["type"].as_str().unwrap_or_default();
                    if self.ephemeral || !EPHEMERAL.contains(&kind) {
                        return Ok(message);
                    }
                }
                Message::Close(frame) => bail!("the server closed the connection: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Skip messages until one matches.
    pub async fn recv_until(&mut self, matches: impl Fn(&Value) -> bool) -> Result<Value> {
        loop {
            let message = self.recv().await?;
            if matches(&message) {
                return Ok(message);
            }
        }
    }

    /// Whether any message arrives within `wait` (for checking that something is *not* sent;
    /// the server answers each request in order, so tests bound this with a later answer
    /// where they can).
    pub async fn try_recv(&mut self, wait: Duration) -> Result<Option<Value>> {
        match tokio::time::timeout(wait, self.recv()).await {
            Ok(message) => message.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Send and wait for the `ack` or `error` carrying the same ref, collecting what came
    /// before it.
    pub async fn request(&mut self, message: Value) -> Result<(Value, Vec<Value>)> {
        let reference = self.send(message).await?;
        let mut before = Vec::new();
        loop {
            let message = self.recv().await?;
            if message["ref"] == json!(reference) {
                return Ok((message, before));
            }
            before.push(message);
        }
    }

    /// Send, expect an answer that is not an `error`, and return it with the events that
    /// arrived before it.
    pub async fn ok(&mut self, message: Value) -> Result<(Value, Vec<Value>)> {
        let (answer, before) = self.request(message.clone()).await?;
        if answer["type"] == "error" {
            bail!("{message} was answered with {answer}");
        }
        Ok((answer, before))
    }

    /// Say hello with a token and remember who we are.
    pub async fn hello(&mut self, token: &str) -> Result<Value> {
        let (welcome, _) = self.ok(json!({"type":"hello","token":token})).await?;
        self.user_id = welcome["user"]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("welcome without a user id: {welcome}"))?
            .to_owned();
        Ok(welcome)
    }

    /// Join a room; returns the `joined` answer.
    pub async fn join(&mut self, room: &str) -> Result<Value> {
        Ok(self.ok(json!({"type":"join","room":room})).await?.0)
    }

    /// Read until the server closes the connection; returns the close code it sent.
    pub async fn close_code(&mut self) -> Result<Option<u16>> {
        Ok(self.until_closed().await?.1)
    }

    /// Read until the server closes the connection: the text messages that came first (all
    /// of them, ephemeral or not, as they came) and the close code it sent.
    pub async fn until_closed(&mut self) -> Result<(Vec<String>, Option<u16>)> {
        let mut texts = Vec::new();
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .context("the server did not close the connection in time")?;
            match frame {
                Some(Ok(Message::Close(frame))) => {
                    return Ok((texts, frame.map(|frame| u16::from(frame.code))));
                }
                Some(Ok(Message::Text(text))) => texts.push(text.as_str().to_owned()),
                Some(Ok(_)) => continue,
                None | Some(Err(_)) => return Ok((texts, None)),
            }
        }
    }

    /// Close the connection, as a browser does: send a close frame and read on until the
    /// server's answers it. (Dropping the socket with frames still unread resets it, and the
    /// server's close then fails to go out: it counts the connection as dropped.)
    pub async fn close(mut self) -> Result<()> {
        self.socket.close(None).await?;
        self.until_closed().await?;
        Ok(())
    }
}

/// A WebSocket client that reads raw frames and never answers anything, not even pings: a
/// peer whose laptop went to sleep.
pub struct DeafClient {
    stream: TcpStream,
}

impl DeafClient {
    /// Connect and upgrade to a WebSocket by hand.
    pub async fn connect(addr: SocketAddr) -> Result<DeafClient> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        while !response.ends_with(b"\r\n\r\n") {
            response.push(stream.read_u8().await?);
        }
        if !response.starts_with(b"HTTP/1.1 101") {
            bail!("upgrade refused: {}", String::from_utf8_lossy(&response));
        }
        Ok(DeafClient { stream })
    }

    /// Send a text frame (masked, as clients must).
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        self.send_frame(0x1, text.as_bytes()).await
    }

    /// Send a final frame with this opcode and payload, whatever it holds (masked, as
    /// clients must).
    pub async fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        // FIN + opcode; the mask bit with a zero key, which leaves the payload as it is.
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            short @ 0..=125 => frame.push(0x80 | u8::try_from(short)?),
            medium @ 126..=0xffff => {
                frame.push(0x80 | 126);
                frame.extend(u16::try_from(medium)?.to_be_bytes());
            }
            long => {
                frame.push(0x80 | 127);
                frame.extend(u64::try_from(long)?.to_be_bytes());
            }
        }
        frame.extend([0, 0, 0, 0]);
        frame.extend(payload);
        self.stream.write_all(&frame).await?;
        Ok(())
    }

    /// The next frame's opcode and payload, or `None` when the connection has ended (also
    /// in the middle of a frame: a server that drops a stuck connection cuts its last frame).
    pub async fn next_frame(&mut self) -> Result<Option<(u8, Vec<u8>)>> {
        use tokio::io::AsyncReadExt;
        let read = tokio::time::timeout(PATIENCE, async {
            let head = self.stream.read_u16().await?;
            let opcode = u8::try_from((head >> 8) & 0x0f).expect("four bits");
            let length = match head & 0x7f {
                126 => u64::from(self.stream.read_u16().await?),
                127 => self.stream.read_u64().await?,
                short => u64::from(short),
            };
            let mut payload = vec![0; usize::try_from(length).expect("frames fit in memory")];
            self.stream.read_exact(&mut payload).await?;
            std::io::Result::Ok((opcode, payload))
        })
        .await
        .context("no frame in time")?;
        match read {
            Ok(frame) => Ok(Some(frame)),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Read frames (ignoring pings and messages) until a close frame; returns its code.
    pub async fn close_code(&mut self) -> Result<u16> {
        loop {
            match self.next_frame().await? {
                Some((0x8, payload)) => {
                    let code = payload
                        .get(..2)
                        .ok_or_else(|| anyhow!("close frame without a code"))?;
                    return Ok(u16::from_be_bytes([code[0], code[1]]));
                }
                Some(_) => continue,
                None => bail!("the connection ended without a close frame"),
            }
        }
    }
}
