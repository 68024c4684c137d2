//! `plenary`: run the server (`serve`, the default), issue a token (`token`), or import a
//! programme file into a data directory (`import`).

use std::net::SocketAddr;
use std::path::PathBuf;
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
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the real address is printed).
    #[arg(long, env = "PLENARY_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
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
    #[arg(long, env = "PLENARY_REMINDER_MINUTES", default_value_t = 10)]
    reminder_minutes: u64,
    #[command(flatten)]
    rtc: RtcArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args)]
struct ClusterArgs {
    /// Run as a node of a cluster on these NATS servers (with JetStream), comma-separated:
    /// `nats://10.0.0.1:4222,nats://10.0.0.2:4222`. Every node needs the same
    /// PLENARY_SECRET. Without it, Plenary runs on its own with SQLite.
    #[arg(long = "nats", env = "PLENARY_NATS_URLS")]
    nats: Option<String>,
    /// This node's name, unique in the cluster.
    #[arg(long, env = "PLENARY_NODE_ID", requires = "nats")]
    node_id: Option<String>,
    /// Replicas of the cluster's stream: 3 (the default with several NATS URLs) keeps every
    /// acknowledged write on a quorum of three servers; 1 for a single NATS server.
    #[arg(long, env = "PLENARY_NATS_REPLICAS", requires = "nats")]
    nats_replicas: Option<usize>,
}

impl ClusterArgs {
    fn log_config(&self) -> Option<Result<LogConfig, String>> {
        let urls = self.nats.clone()?;
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
    /// Where the database and the token secret live.
    #[arg(long, env = "PLENARY_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PLENARY_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Token(args)) => token(args),
        Some(Command::Import(args)) => import(args),
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

fn token(args: TokenArgs) -> Result<(), Box<dyn std::error::Error>> {
    let keys = Keys::load(&args.data.dir.data_dir, args.data.secret.as_deref())?;
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

fn import(args: ImportArgs) -> Result<(), Box<dyn std::error::Error>> {
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
        std::fs::create_dir_all(&args.data.data_dir)?;
        let store = SqliteStore::open(&args.data.data_dir)?;
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

fn serve(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut config = Config::new(args.listen, args.data.dir.data_dir);
        config.secret = args.data.secret;
        config.allowed_origins = args.allowed_origins;
        if args.no_rate_limits {
            config = config.without_rate_limits();
        }
        config.group_commit = !args.no_group_commit;
        config.reminder = std::time::Duration::from_secs(args.reminder_minutes.saturating_mul(60));
        config.rtc.ice_servers = args
            .rtc
            .ice_servers
            .iter()
            .map(|s| parse_ice_server(s))
            .collect();
        config.rtc.udp_ports = args.rtc.rtc_ports;
        config.rtc.nat_ips = args
            .rtc
            .announce_ips
            .iter()
            .map(ToString::to_string)
            .collect();
        match args.cluster.log_config() {
            None => serve_alone(config).await,
            Some(log) => serve_in_cluster(config, log?).await,
        }
    })
}

async fn serve_alone(config: Config) -> Result<(), Box<dyn std::error::Error>> {
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
async fn serve_in_cluster(
    config: Config,
    log: LogConfig,
) -> Result<(), Box<dyn std::error::Error>> {
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
        "Node {node} is on standby until it runs the conference."
    ));
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
