//! `qa-storm`: N attendees in a session's room vote on M questions (each on every question,
//! in their own random order, plus one repeated vote that must change nothing) while
//! moderators pin and mark questions answered. Reports vote throughput, the fan-out of the
//! question events, and whether the final counts are exact: a fresh attendee's snapshot must
//! show, for every question, exactly the number of distinct attendees whose vote on it was
//! acknowledged.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::stream;
use futures_util::{SinkExt, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use plenary_protocol::{ClientMessage, ModerateAction, ServerMessage};
use rand::seq::SliceRandom;
use serde::Serialize;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Socket};
use crate::server;

#[derive(Debug, Clone, clap::Args)]
pub struct QaArgs {
    /// Attendees voting.
    #[arg(long, default_value_t = 500)]
    pub attendees: usize,
    /// Questions asked (by the first M attendees) before the voting starts.
    #[arg(long, default_value_t = 10)]
    pub questions: usize,
    /// Moderators pinning and answering while the votes come in.
    #[arg(long, default_value_t = 2)]
    pub moderators: usize,
    /// A moderator's personal token, for a server the loadtest did not start (repeatable);
    /// for a local server they come from `plenary token`.
    #[arg(long)]
    pub moderator_token: Vec<String>,
    /// The session whose Q&A is stormed (open Q&A: questions are visible at once).
    #[arg(long, default_value = "workshop-partnerships")]
    pub session: String,
    /// The room of that session.
    #[arg(long, default_value = "workshop-1")]
    pub room: String,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 200)]
    pub connect_concurrency: usize,
    /// Give up waiting for acknowledgements after this many seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

#[derive(Debug, Serialize)]
pub struct QaResult {
    pub attendees: u64,
    pub questions: u64,
    pub moderators: u64,
    pub votes_sent: u64,
    pub votes_acked: u64,
    pub votes_per_sec: f64,
    pub moderator_actions_acked: u64,
    pub question_events_delivered: u64,
    /// Question events delivered per second, from the first vote to the last event.
    pub deliveries_per_sec: f64,
    pub storm_seconds: f64,
    pub rate_limited: u64,
    pub errors: BTreeMap<String, u64>,
    pub final_counts_exact: bool,
    /// `[question, expected, counted]` where the snapshot disagrees.
    pub mismatches: Vec<[u64; 3]>,
    pub server_cpu_seconds: Option<f64>,
    pub server_peak_rss_bytes: Option<u64>,
}

/// What one voter saw.
#[derive(Default)]
struct Voter {
    /// Questions whose vote was acknowledged.
    acked: HashSet<u64>,
    acks: u64,
    errors: BTreeMap<String, u64>,
    events: u64,
    done_at: Option<Instant>,
    /// When the last question event arrived.
    last_event_at: Option<Instant>,
}

pub async fn run(
    url: &str,
    local: Option<&server::LocalServer>,
    args: &QaArgs,
) -> Result<QaResult> {
    if args.questions == 0 || args.questions > args.attendees {
        bail!("--questions must be between 1 and --attendees");
    }
    eprintln!(
        "qa-storm: {} attendees, {} questions, {} moderators against {url}",
        args.attendees, args.questions, args.moderators
    );
    let room = args.room.as_str();
    let bar = ProgressBar::new(args.attendees as u64).with_style(
        ProgressStyle::with_template("joining {bar:40} {pos}/{len}")
            .expect("the template is valid"),
    );
    let mut attendees: Vec<Socket> = Vec::with_capacity(args.attendees);
    let mut attempts = stream::iter(0..args.attendees)
        .map(|n| async move { client::attend(url, &format!("Voter {n}"), None, &[room]).await })
        .buffer_unordered(args.connect_concurrency.max(1));
    while let Some(attempt) = attempts.next().await {
        bar.inc(1);
        attendees.push(attempt?.0);
    }
    drop(attempts);
    bar.finish_and_clear();
    let mut tokens = args.moderator_token.clone();
    if let Some(local) = local {
        for index in tokens.len()..args.moderators {
            tokens.push(local.moderator_token(&format!("Moderator {index}"))?);
        }
    }
    tokens.truncate(args.moderators);
    let mut moderators = Vec::new();
    for token in &tokens {
        moderators.push(client::attend(url, "", Some(token), &[room]).await?.0);
    }

    // The first M attendees ask.
    let mut questions = Vec::with_capacity(args.questions);
    for (index, socket) in attendees.iter_mut().take(args.questions).enumerate() {
        let ask = ClientMessage::Ask {
            session: args.session.clone(),
            text: format!("Question {index}: how do we keep the lights on?"),
            anonymous: index % 2 == 1,
            client_id: None,
        };
        client::send(socket, &ask).await?;
        match client::expect(socket, "ack").await.context("ask")? {
            ServerMessage::Ack { id: Some(id), .. } => questions.push(id),
            other => bail!("unexpected answer to ask: {other:?}"),
        }
    }

    // The storm.
    let before = local
        .map(|local| server::sample(Some(local.pid())))
        .transpose()?;
    let started = Instant::now();
    let (stop, stopped) = watch::channel(false);
    let acked_live = Arc::new(AtomicU64::new(0));
    let votes_each = args.questions as u64 + 1;
    let mut voters = Vec::new();
    for socket in attendees {
        let mut order = questions.clone();
        order.shuffle(&mut rand::rng());
        let repeat = order[0];
        order.push(repeat);
        voters.push(tokio::spawn(vote(
            socket,
            order,
            stopped.clone(),
            Arc::clone(&acked_live),
        )));
    }
    let mut curators = Vec::new();
    for (index, socket) in moderators.into_iter().enumerate() {
        // Moderators take turns over the questions: pin one, then mark it answered.
        let mine: Vec<u64> = questions
            .iter()
            .copied()
            .skip(index)
            .step_by(args.moderators.max(1))
            .collect();
        curators.push(tokio::spawn(curate(socket, mine, stopped.clone())));
    }
    let total_votes = votes_each * args.attendees as u64;
    let bar = ProgressBar::new(total_votes).with_style(
        ProgressStyle::with_template("votes acked {bar:40} {pos}/{len} {per_sec}")
            .expect("the template is valid"),
    );
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    while acked_live.load(Ordering::Relaxed) < total_votes && Instant::now() < deadline {
        bar.set_position(acked_live.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bar.finish_and_clear();
    // Let the last question events reach everyone, then stop reading.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = local
        .map(|local| server::sample(Some(local.pid())))
        .transpose()?;
    let _ = stop.send(true);
    let mut expected: BTreeMap<u64, u64> = questions.iter().map(|id| (*id, 0)).collect();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let (mut acks, mut events, mut last_done, mut last_event) = (0, 0, started, started);
    for voter in voters {
        let voter = voter.await??;
        for id in &voter.acked {
            *expected.entry(*id).or_default() += 1;
        }
        acks += voter.acks;
        events += voter.events;
        if let Some(at) = voter.last_event_at {
            last_event = last_event.max(at);
        }
        if let Some(done) = voter.done_at {
            last_done = last_done.max(done);
        }
        for (code, n) in voter.errors {
            *errors.entry(code).or_default() += n;
        }
    }
    let mut moderator_acks = 0;
    for curator in curators {
        let curator = curator.await??;
        moderator_acks += curator.acks;
        events += curator.events;
        for (code, n) in curator.errors {
            *errors.entry(format!("moderator {code}")).or_default() += n;
        }
    }
    let storm_seconds = last_done.duration_since(started).as_secs_f64().max(1e-9);

    // A fresh attendee's snapshot holds the final counts.
    let counted = final_counts(url, room).await?;
    let mismatches: Vec<[u64; 3]> = expected
        .iter()
        .filter_map(|(id, want)| {
            let got = counted.get(id).copied().unwrap_or(0);
            (got != *want).then_some([*id, *want, got])
        })
        .collect();
    Ok(QaResult {
        attendees: args.attendees as u64,
        questions: args.questions as u64,
        moderators: tokens.len() as u64,
        votes_sent: total_votes,
        votes_acked: acks,
        votes_per_sec: acks as f64 / storm_seconds,
        moderator_actions_acked: moderator_acks,
        question_events_delivered: events,
        deliveries_per_sec: events as f64
            / last_event.duration_since(started).as_secs_f64().max(1e-9),
        storm_seconds,
        rate_limited: errors.get("rate_limited").copied().unwrap_or(0),
        errors,
        final_counts_exact: mismatches.is_empty(),
        mismatches,
        server_cpu_seconds: before
            .zip(after)
            .map(|(before, after)| (after.cpu - before.cpu).as_secs_f64()),
        server_peak_rss_bytes: after.map(|s| s.peak_rss),
    })
}

/// Send every vote at once, then read acknowledgements and events until told to stop.
async fn vote(
    socket: Socket,
    order: Vec<u64>,
    mut stop: watch::Receiver<bool>,
    acked_live: Arc<AtomicU64>,
) -> Result<Voter> {
    let (mut sink, mut stream) = socket.split();
    for question in &order {
        // The question id as the `ref`, so each ack names the vote it answers.
        let mut vote = serde_json::to_value(ClientMessage::Vote {
            question: *question,
        })?;
        vote["ref"] = serde_json::json!(*question);
        sink.feed(Message::text(vote.to_string())).await?;
    }
    sink.flush().await?;
    let mut voter = Voter::default();
    let mut answered = 0;
    loop {
        let frame = tokio::select! {
            _ = stop.changed() => break,
            frame = stream.next() => frame,
        };
        let Some(Ok(Message::Text(text))) = frame else {
            if frame.is_none() || matches!(frame, Some(Err(_)) | Some(Ok(Message::Close(_)))) {
                *voter.errors.entry("closed".into()).or_default() += 1;
                break;
            }
            continue;
        };
        if text.starts_with("{\"type\":\"event\"") {
            voter.events += 1;
            voter.last_event_at = Some(Instant::now());
            continue;
        }
        match serde_json::from_str::<ServerMessage>(text.as_str()) {
            Ok(ServerMessage::Ack { id, .. }) => {
                voter.acks += 1;
                acked_live.fetch_add(1, Ordering::Relaxed);
                if let Some(id) = id {
                    voter.acked.insert(id);
                }
                answered += 1;
            }
            Ok(ServerMessage::Error { code, .. }) => {
                *voter.errors.entry(client::code_name(code)).or_default() += 1;
                answered += 1;
            }
            _ => {}
        }
        if answered == order.len() && voter.done_at.is_none() {
            voter.done_at = Some(Instant::now());
        }
    }
    Ok(voter)
}

/// What a moderator did.
#[derive(Default)]
struct Curator {
    acks: u64,
    errors: BTreeMap<String, u64>,
    events: u64,
}

/// Pin each of `questions` in turn, then mark it answered, ten actions a second, while
/// reading everything that arrives.
async fn curate(
    socket: Socket,
    questions: Vec<u64>,
    mut stop: watch::Receiver<bool>,
) -> Result<Curator> {
    let (mut sink, mut stream) = socket.split();
    let mut actions = questions
        .iter()
        .flat_map(|question| {
            [ModerateAction::Pin, ModerateAction::Answered].map(|action| (*question, action))
        })
        .collect::<Vec<_>>()
        .into_iter();
    let mut curator = Curator::default();
    let mut pace = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = pace.tick() => {
                if let Some((question, action)) = actions.next() {
                    let message = ClientMessage::Moderate { question, action, text: None, into: None };
                    sink.send(Message::text(serde_json::to_string(&message)?)).await?;
                }
            }
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else { break };
                let Message::Text(text) = frame else { continue };
                if text.starts_with("{\"type\":\"event\"") {
                    curator.events += 1;
                    continue;
                }
                match serde_json::from_str::<ServerMessage>(text.as_str()) {
                    Ok(ServerMessage::Ack { .. }) => curator.acks += 1,
                    Ok(ServerMessage::Error { code, .. }) => {
                        *curator.errors.entry(client::code_name(code)).or_default() += 1;
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(curator)
}

/// Join as a fresh guest and read every question's vote count from the snapshot.
async fn final_counts(url: &str, room: &str) -> Result<BTreeMap<u64, u64>> {
    let mut socket = client::connect(url).await?;
    let hello = ClientMessage::Hello {
        token: None,
        name: Some("Counter".into()),
    };
    client::send(&mut socket, &hello).await?;
    client::expect(&mut socket, "welcome").await?;
    let join = ClientMessage::Join {
        room: room.to_owned(),
        since: None,
    };
    client::send(&mut socket, &join).await?;
    match client::expect(&mut socket, "joined").await? {
        ServerMessage::Joined {
            snapshot: Some(snapshot),
            ..
        } => Ok(snapshot
            .questions
            .iter()
            .map(|question| (question.id, u64::from(question.votes)))
            .collect()),
        other => bail!("joined without a snapshot: {other:?}"),
    }
}
