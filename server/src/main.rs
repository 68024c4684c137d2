//! `plenary`: run the server (`serve`, the default), issue a token (`token`), import a
//! programme file into a data directory (`import`), or back a data directory up (`backup`).
//!
//! `serve` takes its settings from flags, then the environment, then a TOML file
//! (`--config`, keys named like the flags), then the defaults, in that order.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use plenary_protocol::Role;
use plenary_server::auth::{Claims, Keys, random_hex, unix_now};
use plenary_server::store::{LogConfig, SqliteStore, Store};
use plenary_server::{Config, cluster, interchange, start};

/// Plenary: the open-source hub for virtual conferences.
#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default). An empty data directory gets the demo conference.
    Serve(ServeArgs),
    /// Print a signed personal token that a server on the same data directory accepts.
    Token(TokenArgs),
    /// Replace the data directory's programme with a schedule.xml or schedule.json file
    /// (pretalx, frab). A server already running on the directory serves it after a restart;
    /// a running server takes imports at `POST /api/schedule/import`. With `--nats`, the
    /// cluster's programme: the node that runs the conference installs it at once.
    Import(ImportArgs),
    /// Copy the data directory's database and secret into a new directory OUT, consistently,
    /// even while a server runs on it (SQLite's online backup). To restore, stop the server
    /// and start it on OUT (or copy OUT's files into its data directory).
    Backup(BackupArgs),
}

/// How logs are written (to stderr).
#[derive(Clone, Copy, Default, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum LogFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object a line, with the fields (`room`, `user`, …) as keys.
    Json,
}

/// Whether people without an invite may join (`--guests`).
#[derive(Clone, Copy, Default, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Guests {
    /// Anyone with the address joins as a guest attendee, under a name they choose.
    #[default]
    Allow,
    /// Only people with an invite link (or a personal token) join.
    Deny,
}

/// Every setting of `serve` without a default: a flag or an environment variable (clap
/// reads both, the flag first), else the `--config` file, else the default.
#[derive(Args)]
struct ServeArgs {
    /// A TOML file of settings: any flag of `serve` by its long name without the dashes
    /// (`listen = "0.0.0.0:8080"`, `rtc-ports = "50000-50100"`, `no-rate-limits = true`,
    /// `ice-server = ["stun:stun.example.org:3478"]`). Flags and environment variables
    /// override it; a key it does not know is an error.
    #[arg(long, env = "PLENARY_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port (the real address is printed).
    /// [default: 127.0.0.1:8080]
    #[arg(long, env = "PLENARY_LISTEN")]
    listen: Option<SocketAddr>,
    /// Another origin (scheme://host[:port]) whose pages may open WebSockets here; the
    /// server's own origin always may. Repeat for several.
    #[arg(
        long = "allowed-origin",
        env = "PLENARY_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,
    /// Switch off per-person and per-connection rate limits (for load tests only).
    #[arg(long)]
    no_rate_limits: bool,
    /// Commit every command in a transaction of its own (for measuring group commit only).
    #[arg(long)]
    no_group_commit: bool,
    /// Minutes before a session starts that those who bookmarked it are reminded (over the
    /// WebSocket, and by the alarm of their agenda.ics). 0 turns the WebSocket reminders off.
    /// [default: 10]
    #[arg(long, env = "PLENARY_REMINDER_MINUTES")]
    reminder_minutes: Option<u64>,
    /// A bearer token that `GET /metrics` asks for; without it, whoever reaches the port
    /// may read the metrics.
    #[arg(long, env = "PLENARY_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// How logs are written to stderr: `text`, or `json` (one object a line). PLENARY_LOG
    /// filters them (`info` by default, `debug`, `plenary_server=debug`, …). [default: text]
    #[arg(long, env = "PLENARY_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// Whether someone with the bare address (no invite link) may join as a guest attendee:
    /// `allow`, or `deny` for conferences open to invited people only. [default: allow]
    #[arg(long, env = "PLENARY_GUESTS", value_enum)]
    guests: Option<Guests>,
    #[command(flatten)]
    rtc: RtcArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    data: DataArgs,
}

/// The `--config` file: the flags of `serve`, named as on the command line.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileSettings {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    secret: Option<String>,
    allowed_origin: Option<Vec<String>>,
    no_rate_limits: Option<bool>,
    no_group_commit: Option<bool>,
    reminder_minutes: Option<u64>,
    metrics_token: Option<String>,
    log_format: Option<LogFormat>,
    guests: Option<Guests>,
    ice_server: Option<Vec<String>>,
    /// `MIN-MAX`, as on the command line.
    rtc_ports: Option<String>,
    rtc_announce_ip: Option<Vec<IpAddr>>,
    nats: Option<String>,
    node_id: Option<String>,
    nats_replicas: Option<usize>,
}

impl FileSettings {
    fn read(path: &Path) -> Result<FileSettings, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        toml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
    }
}

/// A list from the command line or the environment, else from the file.
fn listed<T>(given: Vec<T>, file: Option<Vec<T>>) -> Vec<T> {
    if given.is_empty() {
        file.unwrap_or_default()
    } else {
        given
    }
}

/// What `serve` runs with, once flags, environment, file and defaults are resolved.
struct Serve {
    config: Config,
    cluster: Option<LogConfig>,
    log_format: LogFormat,
}

impl ServeArgs {
    fn resolve(self) -> Result<Serve, String> {
        let file = match &self.config {
            Some(path) => FileSettings::read(path)?,
            None => FileSettings::default(),
        };
        let listen = self
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let data_dir = self
            .data
            .dir
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(default_data_dir);
        let mut config = Config::new(listen, data_dir);
        config.secret = self.data.secret.or(file.secret);
        config.allowed_origins = listed(self.allowed_origins, file.allowed_origin);
        if self.no_rate_limits || file.no_rate_limits == Some(true) {
            config = config.without_rate_limits();
        }
        config.group_commit = !(self.no_group_commit || file.no_group_commit == Some(true));
        let reminder_minutes = self
            .reminder_minutes
            .or(file.reminder_minutes)
            .unwrap_or(10);
        config.reminder = std::time::Duration::from_secs(reminder_minutes.saturating_mul(60));
        config.metrics_token = self.metrics_token.or(file.metrics_token);
        config.guests = matches!(
            self.guests.or(file.guests).unwrap_or_default(),
            Guests::Allow
        );
        config.rtc.ice_servers = listed(self.rtc.ice_servers, file.ice_server)
            .iter()
            .map(|s| parse_ice_server(s))
            .collect();
        config.rtc.udp_ports = match (self.rtc.rtc_ports, file.rtc_ports) {
            (Some(ports), _) => Some(ports),
            (None, Some(text)) => {
                Some(parse_port_range(&text).map_err(|error| format!("rtc-ports: {error}"))?)
            }
            (None, None) => None,
        };
        config.rtc.nat_ips = listed(self.rtc.announce_ips, file.rtc_announce_ip)
            .iter()
            .map(ToString::to_string)
            .collect();
        let cluster = ClusterArgs {
            nats: self.cluster.nats.or(file.nats),
            node_id: self.cluster.node_id.or(file.node_id),
            nats_replicas: self.cluster.nats_replicas.or(file.nats_replicas),
        };
        Ok(Serve {
            config,
            cluster: cluster.log_config().transpose()?,
            log_format: self.log_format.or(file.log_format).unwrap_or_default(),
        })
    }
}

#[derive(Args)]
struct ClusterArgs {
    /// Run as a node of a cluster on these NATS servers (with JetStream), comma-separated:
    /// `nats://10.0.0.1:4222,nats://10.0.0.2:4222`. Every node needs the same
    /// PLENARY_SECRET. Without it, Plenary runs on its own with SQLite.
    #[arg(long = "nats", env = "PLENARY_NATS_URLS")]
    nats: Option<String>,
    /// This node's name, unique in the cluster (with `--nats`).
    #[arg(long, env = "PLENARY_NODE_ID")]
    node_id: Option<String>,
    /// Replicas of the cluster's stream: 3 (the default with several NATS URLs) keeps every
    /// acknowledged write on a quorum of three servers; 1 for a single NATS server.
    #[arg(long, env = "PLENARY_NATS_REPLICAS")]
    nats_replicas: Option<usize>,
}

impl ClusterArgs {
    fn log_config(&self) -> Option<Result<LogConfig, String>> {
        let Some(urls) = self.nats.clone() else {
            return (self.node_id.is_some() || self.nats_replicas.is_some())
                .then(|| Err("--node-id and --nats-replicas need --nats".into()));
        };
        let Some(node) = self.node_id.clone() else {
            return Some(Err("--nats needs --node-id (or PLENARY_NODE_ID)".into()));
        };
        let replicas = self
            .nats_replicas
            .unwrap_or(if urls.contains(',') { 3 } else { 1 });
        Some(Ok(LogConfig {
            urls,
            node,
            replicas,
        }))
    }
}

#[derive(Args)]
struct RtcArgs {
    /// A STUN or TURN server for browsers: `stun:host:port`, or
    /// `turn:host:port?transport=udp|user:password`. Repeat for several.
    #[arg(
        long = "ice-server",
        env = "PLENARY_ICE_SERVERS",
        value_delimiter = ','
    )]
    ice_servers: Vec<String>,
    /// UDP ports for media, as `MIN-MAX` (open them in the firewall); any free port by
    /// default.
    #[arg(long, env = "PLENARY_RTC_PORTS", value_parser = parse_port_range)]
    rtc_ports: Option<(u16, u16)>,
    /// The public address to announce for media when behind a 1:1 NAT (a cloud VM's public
    /// IP). Repeat for several.
    #[arg(
        long = "rtc-announce-ip",
        env = "PLENARY_RTC_ANNOUNCE_IPS",
        value_delimiter = ','
    )]
    announce_ips: Vec<std::net::IpAddr>,
}

fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let (min, max) = text
        .split_once('-')
        .ok_or_else(|| format!("expected MIN-MAX, got {text:?}"))?;
    let min: u16 = min
        .trim()
        .parse()
        .map_err(|error| format!("{min:?}: {error}"))?;
    let max: u16 = max
        .trim()
        .parse()
        .map_err(|error| format!("{max:?}: {error}"))?;
    if min == 0 || min > max {
        return Err(format!("{text:?} is not a range of ports"));
    }
    Ok((min, max))
}

/// `url` or `url|username:credential`.
fn parse_ice_server(text: &str) -> plenary_protocol::IceServer {
    let (url, secret) = match text.split_once('|') {
        Some((url, secret)) => (url, Some(secret)),
        None => (text, None),
    };
    let (username, credential) = match secret.and_then(|secret| secret.split_once(':')) {
        Some((username, credential)) => (Some(username.to_owned()), Some(credential.to_owned())),
        None => (None, None),
    };
    plenary_protocol::IceServer {
        urls: vec![url.trim().to_owned()],
        username,
        credential,
    }
}

#[derive(Args)]
struct DataArgs {
    #[command(flatten)]
    dir: DataDir,
    /// Token secret (at least 32 bytes); by default kept in DATA_DIR/secret.
    #[arg(long, env = "PLENARY_SECRET", hide_env_values = true)]
    secret: Option<String>,
}

#[derive(Args)]
struct DataDir {
    /// Where the database and the token secret live. [default: ./data]
    #[arg(long, env = "PLENARY_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

impl DataDir {
    /// The directory given, or the default.
    fn path(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(default_data_dir)
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}

#[derive(Args)]
struct BackupArgs {
    /// A directory that does not exist yet, or is empty: it gets `plenary.db` and `secret`.
    out: PathBuf,
    #[command(flatten)]
    data: DataDir,
}

#[derive(Args)]
struct ImportArgs {
    /// The schedule.xml or schedule.json file.
    file: PathBuf,
    /// Import into the cluster on these NATS servers instead of a data directory.
    #[arg(long = "nats", env = "PLENARY_NATS_URLS")]
    nats: Option<String>,
    #[command(flatten)]
    data: DataDir,
}

#[derive(Args)]
struct TokenArgs {
    #[arg(long, value_enum)]
    role: RoleArg,
    /// The person's display name.
    #[arg(long)]
    name: String,
    /// Limit the token to these rooms (repeat for several); all rooms by default.
    #[arg(long = "room")]
    rooms: Vec<String>,
    /// Days until the token expires.
    #[arg(long, default_value_t = 30)]
    days: u64,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Attendee,
    Moderator,
    Host,
    Organiser,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Attendee => Role::Attendee,
            RoleArg::Moderator => Role::Moderator,
            RoleArg::Host => Role::Host,
            RoleArg::Organiser => Role::Organiser,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Token(args)) => logged(LogFormat::Text, || token(args)),
        Some(Command::Import(args)) => logged(LogFormat::Text, || import(args)),
        Some(Command::Backup(args)) => logged(LogFormat::Text, || backup(args)),
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("plenary: {error}");
            ExitCode::FAILURE
        }
    }
}

type Outcome = Result<(), Box<dyn std::error::Error>>;

/// Start logging to stderr in `format`, filtered by PLENARY_LOG, then run `command`.
fn logged(format: LogFormat, command: impl FnOnce() -> Outcome) -> Outcome {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PLENARY_LOG")
        .unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    command()
}

/// `plenary backup`: the database, then the secret file (copied with its permissions), so
/// that the tokens issued keep working on a restored directory.
fn backup(args: BackupArgs) -> Outcome {
    let data_dir = args.data.path();
    SqliteStore::backup(&data_dir, &args.out)?;
    let secret = data_dir.join("secret");
    if secret.is_file() {
        std::fs::copy(&secret, args.out.join("secret"))
            .map_err(|error| format!("cannot copy {}: {error}", secret.display()))?;
    } else {
        println!("No secret file: the server takes its secret from PLENARY_SECRET; keep it too.");
    }
    println!(
        "Backed up {} to {}. To restore, stop the server and start it with --data-dir {}.",
        data_dir.display(),
        args.out.display(),
        args.out.display()
    );
    Ok(())
}

fn token(args: TokenArgs) -> Outcome {
    let keys = Keys::load(&args.data.dir.path(), args.data.secret.as_deref())?;
    let mut claims = Claims::new(
        format!("u-{}", random_hex(8)),
        args.name,
        args.role.into(),
        unix_now(),
        args.days,
    );
    if !args.rooms.is_empty() {
        claims.rooms = Some(args.rooms);
    }
    println!("{}", keys.issue(&claims));
    Ok(())
}

fn import(args: ImportArgs) -> Outcome {
    let body = std::fs::read(&args.file)
        .map_err(|error| format!("cannot read {}: {error}", args.file.display()))?;
    let imported = interchange::import(&body)
        .map_err(|error| format!("{} was not imported: {error}", args.file.display()))?;
    let summary = imported.summary();
    let mut programme = imported.programme;
    let name = programme.name.clone();
    if let Some(urls) = &args.nats {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(cluster::import(urls, programme))?;
    } else {
        let data_dir = args.data.path();
        std::fs::create_dir_all(&data_dir)?;
        let store = SqliteStore::open(&data_dir)?;
        if let Some(previous) = store.load_programme()? {
            programme.inherit(&previous);
        }
        store.save_programme(&programme)?;
    }
    println!(
        "Imported {}: {} rooms, {} sessions, {} speakers.",
        name, summary.rooms, summary.sessions, summary.speakers
    );
    for warning in &summary.warnings {
        println!("warning: {warning}");
    }
    Ok(())
}

fn serve(args: ServeArgs) -> Outcome {
    let Serve {
        config,
        cluster,
        log_format,
    } = args.resolve()?;
    logged(log_format, || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            match cluster {
                None => serve_alone(config).await,
                Some(log) => serve_in_cluster(config, log).await,
            }
        })
    })
}

async fn serve_alone(config: Config) -> Outcome {
    let server = start(config).await?;
    say(&format!("Plenary is listening on http://{}", server.addr()));
    if server.seeded_demo() {
        say("The data directory was empty: seeded the demo conference.");
    }
    print_invites(&server);
    shutdown_signal().await;
    say("Shutting down: telling clients to reconnect, finishing writes.");
    server.shutdown().await;
    Ok(())
}

/// A node of a cluster: stand by until it holds the lease, then run the conference until
/// stopped, or until the lease is lost (then exit with an error, for a supervisor to start
/// it again as a standby).
async fn serve_in_cluster(config: Config, log: LogConfig) -> Outcome {
    if config.secret.is_none() {
        return Err("every node of a cluster needs the same PLENARY_SECRET (or --secret)".into());
    }
    let node = log.node.clone();
    let standby = cluster::Standby::join(config, log).await?;
    say(&format!(
        "Plenary is listening on http://{}",
        standby.addr()
    ));
    say(&format!(
        "Node {node} serves attendees, relaying to the node that runs the conference, until it runs it."
    ));
    print_invites(standby.server());
    let active = tokio::select! {
        active = standby.take_over() => active?,
        () = shutdown_signal() => return Ok(()),
    };
    say(&format!("Node {node} runs the conference now."));
    if active.server().seeded_demo() {
        say("The cluster's log was empty: seeded the demo conference.");
    }
    print_invites(active.server());
    let lost = tokio::select! {
        () = shutdown_signal() => false,
        () = active.lost() => true,
    };
    say("Shutting down: telling clients to reconnect, finishing writes.");
    active.shutdown().await;
    if lost {
        return Err(format!("node {node} lost the conference's lease to another node").into());
    }
    Ok(())
}

fn print_invites(server: &plenary_server::Server) {
    say("Invite links (valid 30 days; whoever opens one picks a name):");
    for role in Role::ALL {
        say(&format!(
            "  {:<10} {}",
            role.as_str(),
            server.invite_link(role, 30)
        ));
    }
}

/// Print a line for the operator. A closed stdout must not stop the server, so write errors
/// are ignored.
fn say(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
