//! The server under test: either one the loadtest starts itself (a `plenary` or
//! `plenary-baseline` child process on 127.0.0.1:0 with a temporary data directory), or one
//! already running at `--url`. For a local server it reads CPU time and memory from /proc.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

/// Which server to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plenary,
    Baseline,
}

impl Kind {
    fn binary_name(self) -> &'static str {
        match self {
            Kind::Plenary => "plenary",
            Kind::Baseline => "plenary-baseline",
        }
    }
}

/// A server the loadtest started; stopped (and its data directory removed) on drop.
pub struct LocalServer {
    child: Child,
    pub url: String,
    pub data_dir: Option<PathBuf>,
    binary: PathBuf,
    /// The Plenary command line after `serve --listen ADDR --data-dir DIR`, kept for a
    /// restart on the same data directory.
    serve_args: Vec<String>,
}

/// Find a sibling binary of this executable (cargo puts every binary of a workspace in one
/// directory), unless a path was given.
pub fn find_binary(kind: Kind, given: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path.to_owned());
    }
    let me = std::env::current_exe().context("cannot find the loadtest's own executable")?;
    let path = me.with_file_name(kind.binary_name());
    if !path.exists() {
        bail!(
            "{} not found next to the loadtest ({}): build it with `cargo build --release -p {}` or pass its path",
            kind.binary_name(),
            path.display(),
            match kind {
                Kind::Plenary => "plenary-server",
                Kind::Baseline => "plenary-loadtest",
            }
        );
    }
    Ok(path)
}

impl LocalServer {
    /// Start a server on 127.0.0.1:0 and wait for it to print its address. `extra_args` go
    /// to a Plenary server's command line (e.g. `--no-group-commit`). With `rate_limits_off`
    /// a Plenary server runs with `--no-rate-limits`: the throughput scenarios measure the
    /// server, not the limiter, and their posters post faster than a person may.
    pub fn start(
        kind: Kind,
        binary: &Path,
        extra_args: &[String],
        rate_limits_off: bool,
    ) -> Result<LocalServer> {
        match kind {
            Kind::Plenary => {
                let nanos = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos();
                let dir = std::env::temp_dir()
                    .join(format!("plenary-loadtest-{}-{nanos}", std::process::id()));
                let mut serve_args = Vec::new();
                if rate_limits_off {
                    serve_args.push("--no-rate-limits".to_owned());
                }
                serve_args.extend(extra_args.iter().cloned());
                let (child, url) = spawn_plenary(binary, "127.0.0.1:0", &dir, &serve_args)?;
                Ok(LocalServer {
                    child,
                    url,
                    data_dir: Some(dir),
                    binary: binary.to_owned(),
                    serve_args,
                })
            }
            Kind::Baseline => {
                let mut command = Command::new(binary);
                command.arg("--listen").arg("127.0.0.1:0");
                let (child, url) = spawn_and_read_address(command, binary)?;
                Ok(LocalServer {
                    child,
                    url,
                    data_dir: None,
                    binary: binary.to_owned(),
                    serve_args: Vec::new(),
                })
            }
        }
    }

    /// Kill the server with SIGKILL (`kill -9 PID`, this child's pid only): no shutdown, no
    /// close frames, whatever SQLite had not committed is gone.
    pub fn kill9(&mut self) -> Result<()> {
        let status = Command::new("kill")
            .arg("-9")
            .arg(self.pid().to_string())
            .status()
            .context("cannot run kill")?;
        if !status.success() {
            bail!("kill -9 {} failed: {status}", self.pid());
        }
        self.child.wait().context("waiting for the killed server")?;
        Ok(())
    }

    /// Start the server again on the same data directory and the same address (the port is
    /// free again once the killed process is gone). Returns the time it took to print its
    /// address, which includes opening the database.
    pub fn restart(&mut self) -> Result<Duration> {
        let dir = self
            .data_dir
            .clone()
            .context("only a Plenary server can be restarted")?;
        let address = self
            .url
            .trim_start_matches("ws://")
            .trim_end_matches("/ws")
            .to_owned();
        let started = std::time::Instant::now();
        let (child, url) = spawn_plenary(&self.binary, &address, &dir, &self.serve_args)?;
        self.child = child;
        self.url = url;
        Ok(started.elapsed())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A moderator's personal token, from `plenary token` on the same data directory.
    pub fn moderator_token(&self, name: &str) -> Result<String> {
        let dir = self
            .data_dir
            .as_ref()
            .context("only a Plenary server has tokens")?;
        let output = Command::new(&self.binary)
            .args(["token", "--role", "moderator", "--name", name, "--data-dir"])
            .arg(dir)
            .output()
            .context("cannot run plenary token")?;
        if !output.status.success() {
            bail!(
                "plenary token failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8(output.stdout)?.trim().to_owned())
    }
}

/// Start `plenary serve` on `listen` with its data in `dir`.
fn spawn_plenary(
    binary: &Path,
    listen: &str,
    dir: &Path,
    args: &[String],
) -> Result<(Child, String)> {
    let mut command = Command::new(binary);
    command
        .arg("serve")
        .arg("--listen")
        .arg(listen)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("PLENARY_LOG", "warn");
    spawn_and_read_address(command, binary)
}

/// Spawn a server and wait for the first line of its output, which names its address.
fn spawn_and_read_address(mut command: Command, binary: &Path) -> Result<(Child, String)> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = lines
        .next()
        .context("the server exited before printing its address")??;
    // Keep draining stdout (invite links) so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    let Some(addr) = first.split("http://").nth(1) else {
        bail!("unexpected first line from the server: {first:?}");
    };
    Ok((child, format!("ws://{}/ws", addr.trim())))
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// CPU time and memory of a process, from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    /// User + system CPU time.
    pub cpu: Duration,
    /// Resident memory now, bytes.
    pub rss: u64,
    /// Peak resident memory, bytes.
    pub peak_rss: u64,
}

/// Clock ticks per second for /proc/PID/stat (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// Read a process's CPU time and memory; `None` for "self".
pub fn sample(pid: Option<u32>) -> Result<ProcSample> {
    let dir = match pid {
        Some(pid) => format!("/proc/{pid}"),
        None => "/proc/self".to_owned(),
    };
    let stat = std::fs::read_to_string(format!("{dir}/stat"))?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let after = stat.rsplit_once(')').context("bad /proc stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks =
        |index: usize| -> u64 { fields.get(index).and_then(|f| f.parse().ok()).unwrap_or(0) };
    // utime is field 14 and stime field 15 of the whole line: indexes 11 and 12 here.
    let total = ticks(11) + ticks(12);
    let cpu = Duration::from_secs_f64(total as f64 / clock_ticks() as f64);
    let status = std::fs::read_to_string(format!("{dir}/status"))?;
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find(|line| line.starts_with(key))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Ok(ProcSample {
        cpu,
        rss: kib("VmRSS:") * 1024,
        peak_rss: kib("VmHWM:") * 1024,
    })
}

/// Memory held by all TCP sockets of the machine (`/proc/net/sockstat`, `TCP: ... mem`
/// pages), bytes: what queued socket data costs the kernel, which no process's RSS shows.
/// Machine-wide, so other programs' sockets count too.
pub fn tcp_socket_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let line = text.lines().find(|line| line.starts_with("TCP:"))?;
    let mut words = line.split_whitespace();
    words.find(|word| *word == "mem")?;
    let pages: u64 = words.next()?.parse().ok()?;
    Some(pages * 4096)
}

/// Raise this process's file-descriptor soft limit to the hard limit; returns the new limit.
pub fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024)
}

/// Wait a moment for a server's memory to settle after a burst.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}
