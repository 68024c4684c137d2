//! Media through the real server's SFU: webrtc-rs peers publish synthetic VP8 and Opus over
//! 127.0.0.1 and others receive it, with the signalling over the real WebSocket. Every
//! assertion counts packets that actually arrived.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use plenary_loadtest::media::{self, PeerSettings, Source};
use plenary_protocol::Role;
use plenary_tests::demo::{OTHER_WORKSHOP_ROOM, WORKSHOP_ROOM};
use plenary_tests::{Client, PATIENCE, TestServer, eventually};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use webrtc::rtcp::transport_feedbacks::transport_layer_nack::{NackPair, TransportLayerNack};
use webrtc::rtp_transceiver::rtp_codec::RTPCodecType;
use webrtc::rtp_transceiver::rtp_sender::RTCRtpSender;

/// VP8 and Opus with webrtc-rs's default codecs.
pub(crate) const VP8: u8 = 96;
pub(crate) const OPUS: u8 = 111;

/// A client-side peer connection on loopback only, as the server's in tests, that lets a
/// repaired packet through to be seen.
async fn peer_connection() -> Result<Arc<RTCPeerConnection>> {
    media::peer_connection(PeerSettings {
        loopback: true,
        see_repairs: true,
    })
    .await
}

/// A person publishing a synthetic camera (VP8, 30 frames a second) and microphone (Opus,
/// 20 ms frames) from one webrtc-rs peer connection.
pub(crate) struct Publisher {
    client: Client,
    pc: Arc<RTCPeerConnection>,
    senders: Vec<JoinHandle<()>>,
    /// The microphone's sender, to stop publishing it.
    microphone: Arc<RTCRtpSender>,
    /// PLIs received for the camera.
    keyframe_requests: Arc<AtomicU64>,
}

impl Publisher {
    pub(crate) async fn new(client: Client) -> Result<Publisher> {
        let pc = peer_connection().await?;
        let camera = Source::camera("host");
        let microphone = Source::microphone("host");
        let camera_sender = pc.add_track(camera.track()).await?;
        // Keyframe requests that reach the publisher's camera.
        let keyframe_requests = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&keyframe_requests);
        tokio::spawn(async move {
            while let Ok((packets, _)) = camera_sender.read_rtcp().await {
                let plis = packets
                    .iter()
                    .filter(|packet| packet.as_any().is::<PictureLossIndication>())
                    .count();
                counted.fetch_add(plis as u64, Ordering::Relaxed);
            }
        });
        let microphone_sender = pc.add_track(microphone.track()).await?;
        let senders = vec![camera.send(), microphone.send()];
        Ok(Publisher {
            client,
            pc,
            senders,
            microphone: microphone_sender,
            keyframe_requests,
        })
    }

    /// `rtc_publish` to a room: the server's answer, or its error.
    pub(crate) async fn publish(&mut self, room: &str) -> Result<Value> {
        self.publish_with(
            room,
            json!({"camera": "camera", "microphone": "microphone"}),
        )
        .await
    }

    async fn publish_with(&mut self, room: &str, sources: Value) -> Result<Value> {
        let sdp = media::offer(&self.pc, PATIENCE).await?;
        self.send_offer_with(room, sdp, sources).await
    }

    /// Start sharing a (synthetic) screen next to the camera: a renegotiation.
    async fn share_screen(&mut self, room: &str) -> Result<Value> {
        let screen = Source::video("slides", "host", 1_000, Duration::from_millis(100));
        self.pc.add_track(screen.track()).await?;
        self.senders.push(screen.send());
        self.publish_with(room, json!({"slides": "screen"})).await
    }

    /// Stop publishing the microphone: a renegotiation.
    async fn stop_microphone(&mut self, room: &str) -> Result<Value> {
        self.pc.remove_track(&self.microphone).await?;
        self.publish_with(room, json!({})).await
    }

    /// `rtc_publish` with an offer that carries no candidates; they follow one by one as
    /// `rtc_candidate`, as a browser trickles them.
    async fn publish_trickling(&mut self, room: &str) -> Result<Value> {
        let (found, mut candidates) = mpsc::unbounded_channel();
        self.pc.on_ice_candidate(Box::new(move |candidate| {
            if let Some(candidate) = candidate.and_then(|c| c.to_json().ok()) {
                let _ = found.send(candidate);
            }
            Box::pin(async {})
        }));
        let offer = self.pc.create_offer(None).await?;
        let sdp = offer.sdp.clone();
        assert!(
            !sdp.contains("a=candidate"),
            "a bare offer has no candidates"
        );
        self.pc.set_local_description(offer).await?;
        let answer = self.send_offer(room, sdp).await?;
        let first = tokio::time::timeout(PATIENCE, candidates.recv())
            .await
            .context("no candidate gathered")?
            .context("gathering stopped")?;
        let mut sent = 0;
        let mut next = Some(first);
        while let Some(candidate) = next {
            self.client
                .send(json!({
                    "type": "rtc_candidate",
                    "room": room,
                    "pc": "publish",
                    "candidate": {
                        "candidate": candidate.candidate,
                        "sdpMid": candidate.sdp_mid,
                        "sdpMLineIndex": candidate.sdp_mline_index,
                    },
                }))
                .await?;
            sent += 1;
            next = candidates.try_recv().ok();
        }
        assert!(sent > 0);
        Ok(answer)
    }

    async fn send_offer(&mut self, room: &str, sdp: String) -> Result<Value> {
        let sources = json!({"camera": "camera", "microphone": "microphone"});
        self.send_offer_with(room, sdp, sources).await
    }

    async fn send_offer_with(&mut self, room: &str, sdp: String, sources: Value) -> Result<Value> {
        let (answer, _) = self
            .client
            .request(json!({
                "type": "rtc_publish",
                "room": room,
                "sdp": sdp,
                "sources": sources,
            }))
            .await?;
        if answer["type"] == "rtc_answer" {
            assert_eq!(answer["pc"], "publish");
            let sdp = answer["sdp"].as_str().context("rtc_answer has an sdp")?;
            assert!(
                sdp.contains("a=candidate"),
                "the answer carries the server's candidates: {sdp}"
            );
            self.pc
                .set_remote_description(RTCSessionDescription::answer(sdp.to_owned())?)
                .await?;
        }
        Ok(answer)
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        for sender in &self.senders {
            sender.abort();
        }
    }
}

/// Packets received per payload type, and the ids of the tracks they came on.
#[derive(Default)]
struct Received {
    packets: HashMap<u8, u64>,
    tracks: Vec<String>,
    /// The SSRC the video arrives with, for keyframe and retransmission requests.
    video_ssrc: Option<u32>,
    /// How often each video sequence number arrived, and the latest one.
    video_seqs: HashMap<u16, u32>,
    last_video_seq: Option<u16>,
    /// The server's offers answered, in order.
    offers: Vec<Value>,
}

/// A person receiving a room's media. A task answers the server's offers (every
/// renegotiation) and passes every other message on to `messages`.
pub(crate) struct Viewer {
    received: Arc<Mutex<Received>>,
    messages: mpsc::UnboundedReceiver<Value>,
    pc: Arc<RTCPeerConnection>,
    signalling: JoinHandle<()>,
}

impl Viewer {
    pub(crate) async fn subscribe(mut client: Client, room: &str) -> Result<Viewer> {
        let pc = peer_connection().await?;
        let received = Arc::new(Mutex::new(Received::default()));
        let counts = Arc::clone(&received);
        pc.on_track(Box::new(move |remote, _, _| {
            let counts = Arc::clone(&counts);
            // Read in a task of its own: a loop inside on_track would hold back later tracks.
            tokio::spawn(async move {
                lock(&counts).tracks.push(remote.id());
                if remote.kind() == RTPCodecType::Video {
                    lock(&counts).video_ssrc = Some(remote.ssrc());
                }
                let video = remote.kind() == RTPCodecType::Video;
                while let Ok((packet, _)) = remote.read_rtp().await {
                    if video {
                        let mut counts = lock(&counts);
                        let seq = packet.header.sequence_number;
                        *counts.video_seqs.entry(seq).or_default() += 1;
                        counts.last_video_seq = Some(seq);
                    }
                    *lock(&counts)
                        .packets
                        .entry(packet.header.payload_type)
                        .or_default() += 1;
                }
            });
            Box::pin(async {})
        }));
        let (ack, _) = client
            .ok(json!({"type":"rtc_subscribe","room":room}))
            .await?;
        assert_eq!(ack["type"], "ack");
        let (forward, messages) = mpsc::unbounded_channel();
        let answerer = Arc::clone(&pc);
        let answered = Arc::clone(&received);
        let room = room.to_owned();
        let signalling = tokio::spawn(async move {
            loop {
                let message = match client.recv().await {
                    Ok(message) => message,
                    // A quiet stretch is fine; a closed connection ends the viewer.
                    Err(error) if error.to_string().contains("in time") => continue,
                    Err(_) => return,
                };
                if message["type"] == "rtc_offer" {
                    match answer(&answerer, &mut client, &room, &message).await {
                        Ok(()) => lock(&answered).offers.push(message),
                        Err(error) => {
                            let _ = forward
                                .send(json!({"type":"test_failure","error":error.to_string()}));
                        }
                    }
                    continue;
                }
                if forward.send(message).is_err() {
                    return;
                }
            }
        });
        Ok(Viewer {
            received,
            messages,
            pc,
            signalling,
        })
    }

    /// Ask for a keyframe of the video it receives, as a decoder that lost one does.
    async fn request_keyframe(&self) -> Result<()> {
        let media_ssrc = lock(&self.received).video_ssrc.context("no video yet")?;
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc,
        };
        self.pc.write_rtcp(&[Box::new(pli)]).await?;
        Ok(())
    }

    /// Report a video packet as lost, as a receiver that missed it does.
    async fn report_lost(&self, seq: u16) -> Result<()> {
        let media_ssrc = lock(&self.received).video_ssrc.context("no video yet")?;
        let nack = TransportLayerNack {
            sender_ssrc: 0,
            media_ssrc,
            nacks: vec![NackPair {
                packet_id: seq,
                lost_packets: 0,
            }],
        };
        self.pc.write_rtcp(&[Box::new(nack)]).await?;
        Ok(())
    }

    fn packets(&self, payload_type: u8) -> u64 {
        lock(&self.received)
            .packets
            .get(&payload_type)
            .copied()
            .unwrap_or(0)
    }

    /// Wait, at most [`PATIENCE`], until at least `count` packets of each payload type came.
    pub(crate) async fn wait_for_packets(&self, payload_types: &[u8], count: u64) -> Result<()> {
        let what = format!("{count} packets of each of {payload_types:?}");
        eventually(&what, async || {
            Ok((payload_types.iter().all(|pt| self.packets(*pt) >= count)).then_some(()))
        })
        .await
        .with_context(|| format!("got {:?}", lock(&self.received).packets))
    }

    /// Wait, at most [`PATIENCE`], for an answered offer that satisfies `matches`.
    async fn offer(&self, matches: impl Fn(&Value) -> bool) -> Result<Value> {
        eventually("such an offer answered", async || {
            Ok(lock(&self.received)
                .offers
                .iter()
                .rev()
                .find(|o| matches(o))
                .cloned())
        })
        .await
    }

    /// Wait for the room's `tracks` event that satisfies `matches`.
    async fn tracks_event(&mut self, matches: impl Fn(&[Value]) -> bool) -> Result<Vec<Value>> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.messages.recv())
                .await
                .context("no tracks event in time")?
                .context("the viewer's connection closed")?;
            if message["type"] == "test_failure" {
                bail!("answering an offer failed: {message}");
            }
            if message["type"] == "event" && message["event"]["kind"] == "tracks" {
                let tracks = message["event"]["tracks"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if matches(&tracks) {
                    return Ok(tracks);
                }
            }
        }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.signalling.abort();
    }
}

async fn answer(
    pc: &RTCPeerConnection,
    client: &mut Client,
    room: &str,
    offer: &Value,
) -> Result<()> {
    let sdp = offer["sdp"].as_str().context("rtc_offer has an sdp")?;
    let sdp = media::answer(pc, sdp.to_owned(), PATIENCE).await?;
    client
        .send(json!({"type":"rtc_answer","room":room,"pc":"subscribe","sdp":sdp}))
        .await?;
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A signed-in person who joined `room`.
async fn member(server: &TestServer, role: Role, name: &str, room: &str) -> Result<Client> {
    let mut client = server.client(role, name).await?;
    client.join(room).await?;
    Ok(client)
}

fn sources(tracks: &[Value]) -> Vec<(String, String)> {
    let mut sources: Vec<(String, String)> = tracks
        .iter()
        .map(|track| {
            (
                track["kind"].as_str().unwrap_or("").to_owned(),
                track["source"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    sources.sort();
    sources
}

fn camera_and_microphone() -> Vec<(String, String)> {
    vec![
        ("audio".into(), "microphone".into()),
        ("video".into(), "camera".into()),
    ]
}

#[tokio::test]
async fn viewers_early_and_late_receive_a_hosts_video_and_audio() -> Result<()> {
    let server = TestServer::start().await?;
    // The first viewer is there before anything is published: its offer follows the tracks.
    let mut early = Viewer::subscribe(
        member(&server, Role::Attendee, "Early", WORKSHOP_ROOM).await?,
        WORKSHOP_ROOM,
    )
    .await?;
    let mut host =
        Publisher::new(member(&server, Role::Host, "Hana", WORKSHOP_ROOM).await?).await?;
    let answer = host.publish(WORKSHOP_ROOM).await?;
    assert_eq!(answer["type"], "rtc_answer", "{answer}");
    let sdp = answer["sdp"].as_str().unwrap_or_default();
    assert!(
        sdp.lines()
            .filter(|line| line.starts_with("a=candidate"))
            .all(|line| line.contains(" 127.0.0.1 ")),
        "a server on 127.0.0.1 announces loopback candidates only: {sdp}"
    );
    let tracks = early.tracks_event(|tracks| tracks.len() == 2).await?;
    assert_eq!(sources(&tracks), camera_and_microphone());
    assert!(
        tracks
            .iter()
            .all(|track| track["publisher"]["name"] == "Hana")
    );
    let second = Viewer::subscribe(
        member(&server, Role::Attendee, "Second", WORKSHOP_ROOM).await?,
        WORKSHOP_ROOM,
    )
    .await?;
    early.wait_for_packets(&[VP8, OPUS], 50).await?;
    second.wait_for_packets(&[VP8, OPUS], 50).await?;
    // The received track ids are the ones the tracks event names.
    let named: Vec<&str> = tracks.iter().filter_map(|t| t["id"].as_str()).collect();
    for viewer in [&early, &second] {
        let received = lock(&viewer.received).tracks.clone();
        assert!(
            received.iter().all(|id| named.contains(&id.as_str())),
            "{received:?} vs {named:?}"
        );
    }

    // Much later, another viewer joins: a snapshot lists the tracks, and media flows.
    let mut late_client = server.client(Role::Attendee, "Late").await?;
    let joined = late_client.join(WORKSHOP_ROOM).await?;
    assert_eq!(
        sources(
            joined["snapshot"]["tracks"]
                .as_array()
                .context("snapshot lists tracks")?
        ),
        camera_and_microphone()
    );
    let subscribed = std::time::Instant::now();
    let late = Viewer::subscribe(late_client, WORKSHOP_ROOM).await?;
    late.wait_for_packets(&[VP8], 1).await?;
    // Measured, not asserted: timing belongs in the loadtest.
    println!(
        "late viewer: first video packet {:?} after rtc_subscribe",
        subscribed.elapsed()
    );
    late.wait_for_packets(&[VP8, OPUS], 20).await?;
    // Everyone still receives.
    let before = early.packets(VP8);
    early.wait_for_packets(&[VP8], before + 20).await?;
    Ok(())
}

#[tokio::test]
async fn an_attendee_publishes_only_while_on_stage() -> Result<()> {
    let server = TestServer::start().await?;
    let mut moderator = member(&server, Role::Moderator, "Mo", WORKSHOP_ROOM).await?;
    let mut viewer = Viewer::subscribe(
        member(&server, Role::Attendee, "Vi", WORKSHOP_ROOM).await?,
        WORKSHOP_ROOM,
    )
    .await?;
    let attendee_client = member(&server, Role::Attendee, "Ada", WORKSHOP_ROOM).await?;
    let ada = attendee_client.user_id.clone();
    let mut attendee = Publisher::new(attendee_client).await?;

    let refused = attendee.publish(WORKSHOP_ROOM).await?;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("forbidden"))
    );
    // Another attendee may not bring anyone on stage.
    let mut other = member(&server, Role::Attendee, "Bo", WORKSHOP_ROOM).await?;
    let (refused, _) = other
        .request(json!({"type":"grant_stage","room":WORKSHOP_ROOM,"user":ada,"allowed":true}))
        .await?;
    assert_eq!(refused["code"], "forbidden");

    moderator
        .ok(json!({"type":"grant_stage","room":WORKSHOP_ROOM,"user":ada,"allowed":true}))
        .await?;
    let answer = attendee.publish(WORKSHOP_ROOM).await?;
    assert_eq!(answer["type"], "rtc_answer", "{answer}");
    viewer.tracks_event(|tracks| tracks.len() == 2).await?;
    viewer.wait_for_packets(&[VP8, OPUS], 20).await?;

    // Taking the right away ends the tracks at once.
    moderator
        .ok(json!({"type":"grant_stage","room":WORKSHOP_ROOM,"user":ada,"allowed":false}))
        .await?;
    viewer.tracks_event(|tracks| tracks.is_empty()).await?;
    let refused = attendee.publish(WORKSHOP_ROOM).await?;
    assert_eq!(refused["code"], "forbidden");
    Ok(())
}

#[tokio::test]
async fn a_host_moves_their_tracks_to_another_room_without_renegotiating() -> Result<()> {
    let server = TestServer::start().await?;
    let mut host =
        Publisher::new(member(&server, Role::Host, "Hana", WORKSHOP_ROOM).await?).await?;
    host.client.join(OTHER_WORKSHOP_ROOM).await?;
    let mut in_first = Viewer::subscribe(
        member(&server, Role::Attendee, "First", WORKSHOP_ROOM).await?,
        WORKSHOP_ROOM,
    )
    .await?;
    let in_second = Viewer::subscribe(
        member(&server, Role::Attendee, "Second", OTHER_WORKSHOP_ROOM).await?,
        OTHER_WORKSHOP_ROOM,
    )
    .await?;
    let answer = host.publish(WORKSHOP_ROOM).await?;
    assert_eq!(answer["type"], "rtc_answer", "{answer}");
    in_first.wait_for_packets(&[VP8, OPUS], 20).await?;
    assert_eq!(
        in_second.packets(VP8),
        0,
        "nothing is published in the other room yet"
    );

    host.client
        .ok(json!({"type":"rtc_move","from":WORKSHOP_ROOM,"to":OTHER_WORKSHOP_ROOM}))
        .await?;
    in_first.tracks_event(|tracks| tracks.is_empty()).await?;
    in_second.wait_for_packets(&[VP8, OPUS], 20).await?;
    // Nothing more was asked of the host: the same peer connection carries on.
    assert!(
        host.client
            .try_recv(Duration::from_millis(100))
            .await?
            .is_none_or(|m| m["type"] != "rtc_offer")
    );
    Ok(())
}

#[tokio::test]
async fn a_host_adds_a_screen_share_and_drops_the_microphone_by_renegotiating() -> Result<()> {
    let server = TestServer::start().await?;
    let mut viewer = Viewer::subscribe(
        member(&server, Role::Attendee, "Vi", WORKSHOP_ROOM).await?,
        WORKSHOP_ROOM,
    )
    .await?;
    let mut host =
        Publisher::new(member(&server, Role::Host, "Hana", WORKSHOP_ROOM).await?).await?;
    host.publish(WORKSHOP_ROOM).await?;
    viewer.tracks_event(|tracks| tracks.len() == 2).await?;

    let answer = host.share_screen(WORKSHOP_ROOM).await?;
    assert_eq!(answer["type"], "rtc_answer", "{answer}");
    let tracks = viewer.tracks_event(|tracks| tracks.len() == 3).await?;
    let mut expected = camera_and_microphone();
    expected.push(("video".into(), "screen".into()));
    expected.sort();
    assert_eq!(sources(&tracks), expected);
    let screen_id = tracks
        .iter()
        .find(|track| track["source"] == "screen")
        .and_then(|track| track["id"].as_str())
        .context("the screen track has an id")?
        .to_owned();
    eventually("the viewer receiving the screen share", async || {
        Ok(lock(&viewer.received)
            .tracks
            .contains(&screen_id)
            .then_some(()))
    })
    .await?;

    let answer = host.stop_microphone(WORKSHOP_ROOM).await?;
    assert_eq!(answer["type"], "rtc_answer", "{answer}");
    let tracks = viewer
        .tracks_event(|tracks| tracks.iter().all(|t| t["kind"] == "video"))
        .await?;
    assert_eq!(tracks.len(), 2, "camera and screen stay: {tracks:?}");
    let before = viewer.packets(VP8);
    viewer.wait_for_packets(&[VP8], before + 20).await?;
    Ok(())
}

#[tokio::test]
async fn a_publisher_that_trickles_its_candidates_reaches_viewers() -> Result<()> {
    // (ICE may also pair through the addresses the server sees checks come from; what this
    // adds is that trickled candidates are taken, not refused, and media flows.)
    let server = TestServer::start().await?;
    let viewer = Viewer::subscribe(
        member(&server, Role::Attendee, "Vi", WORKSHOP_ROOM).await?,
        WORKSHOP_ROOM,
    )
    .await?;
    let mut host =
        Publisher::new(member(&server, Role::Host, "Hana", WORKSHOP_ROOM).await?).await?;
    let answer = host.publish_trickling(WORKSHOP_ROOM).await?;
    assert_eq!(answer["type"], "rtc_answer", "{answer}");
    viewer.wait_for_packets(&[VP8, OPUS], 20).await?;
    // No candidate was refused: the server answers in order, so any refusal of them
    // comes before the answer to a later message.
    let (_, before) = host
        .client
        .ok(json!({"type":"chat","room":WORKSHOP_ROOM,"text":"candidates sent"}))
        .await?;
    assert!(
        before.iter().all(|message| message["type"] != "error"),
        "{before:?}"
    );
    Ok(())
}

#[tokio::test]
async fn bad_signalling_gets_error_codes_not_a_crash() -> Result<()> {
    let server = TestServer::start().await?;
    let mut host = member(&server, Role::Host, "Hana", WORKSHOP_ROOM).await?;
    let (refused, _) = host
        .request(json!({"type":"rtc_publish","room":WORKSHOP_ROOM,"sdp":"not an SDP"}))
        .await?;
    assert_eq!(refused["code"], "bad_request", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("SDP"))
    );
    let (refused, _) = host
        .request(json!({"type":"rtc_publish","room":WORKSHOP_ROOM,"sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"}))
        .await?;
    assert_eq!(refused["code"], "bad_request", "{refused}");
    let (refused, _) = host
        .request(json!({"type":"rtc_answer","room":WORKSHOP_ROOM,"pc":"subscribe","sdp":"v=0"}))
        .await?;
    assert_eq!(refused["type"], "error", "{refused}");
    let (refused, _) = host
        .request(json!({"type":"rtc_candidate","room":WORKSHOP_ROOM,"pc":"publish","candidate":{"candidate":"candidate:garbage"}}))
        .await?;
    assert_eq!(refused["code"], "not_found", "{refused}");
    // A viewer must have joined the room.
    let mut stranger = server.client(Role::Attendee, "Stranger").await?;
    let (refused, _) = stranger
        .request(json!({"type":"rtc_subscribe","room":WORKSHOP_ROOM}))
        .await?;
    assert_eq!(refused["code"], "not_joined", "{refused}");
    // The connection still works.
    host.ok(json!({"type":"chat","room":WORKSHOP_ROOM,"text":"still here"}))
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_person_removed_from_a_room_stops_receiving_its_media() -> Result<()> {
    let server = TestServer::start().await?;
    let mut moderator = member(&server, Role::Moderator, "Mo", WORKSHOP_ROOM).await?;
    let mut troll = member(&server, Role::Attendee, "Troll", WORKSHOP_ROOM).await?;
    troll
        .ok(json!({"type":"rtc_subscribe","room":WORKSHOP_ROOM}))
        .await?;
    // While receiving, an answer nobody asked for is a conflict; once the subscription is
    // gone, it is not found.
    let stray_answer = json!({
        "type": "rtc_answer",
        "room": WORKSHOP_ROOM,
        "pc": "subscribe",
        "sdp": "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
    });
    let (answer, _) = troll.request(stray_answer.clone()).await?;
    assert_eq!(answer["code"], "conflict", "{answer}");

    let troll_id = troll.user_id.clone();
    moderator
        .ok(json!({"type":"remove_person","room":WORKSHOP_ROOM,"user":troll_id}))
        .await?;
    eventually(
        "the removed person to stop receiving the room's media",
        async || {
            let (answer, _) = troll.request(stray_answer.clone()).await?;
            if answer["code"] == "not_found" {
                return Ok(Some(()));
            }
            assert_eq!(answer["code"], "conflict", "{answer}");
            Ok(None)
        },
    )
    .await
}

#[tokio::test]
async fn after_a_restart_clients_resuming_learn_that_no_track_is_live() -> Result<()> {
    let server = TestServer::start().await?;
    let mut viewer = member(&server, Role::Attendee, "Vi", WORKSHOP_ROOM).await?;
    let mut host =
        Publisher::new(member(&server, Role::Host, "Hana", WORKSHOP_ROOM).await?).await?;
    host.publish(WORKSHOP_ROOM).await?;
    let live = viewer
        .recv_until(|m| {
            m["event"]["kind"] == "tracks"
                && m["event"]["tracks"]
                    .as_array()
                    .is_some_and(|t| t.len() == 2)
        })
        .await?;
    let seen = live["seq"].as_u64().context("events have a seq")?;
    let token = server.token(Role::Attendee, "Vi again");
    drop(host);
    drop(viewer);
    let server = TestServer::start_in(server.stop().await).await?;

    let mut resumed = plenary_tests::Client::connect(server.addr()).await?;
    resumed.hello(&token).await?;
    resumed
        .ok(json!({"type":"join","room":WORKSHOP_ROOM,"since":seen}))
        .await?;
    resumed
        .recv_until(|m| {
            m["event"]["kind"] == "tracks"
                && m["event"]["tracks"].as_array().is_some_and(Vec::is_empty)
        })
        .await?;
    // A fresh join's snapshot agrees.
    let mut fresh = server.client(Role::Attendee, "Fresh").await?;
    let joined = fresh.join(WORKSHOP_ROOM).await?;
    assert_eq!(joined["snapshot"]["tracks"], json!([]));
    Ok(())
}

#[tokio::test]
async fn configured_ice_servers_reach_clients_and_media_uses_the_configured_ports() -> Result<()> {
    let server = TestServer::start_with(|config| {
        config.rtc.ice_servers = vec![plenary_protocol::IceServer {
            urls: vec!["turn:turn.example.org:3478?transport=udp".into()],
            username: Some("plenary".into()),
            credential: Some("secret".into()),
        }];
        config.rtc.udp_ports = Some((47_000, 47_099));
    })
    .await?;
    let mut client = Client::connect(server.addr()).await?;
    let welcome = client.hello(&server.token(Role::Host, "Hana")).await?;
    assert_eq!(
        welcome["ice_servers"],
        json!([{"urls":["turn:turn.example.org:3478?transport=udp"],"username":"plenary","credential":"secret"}])
    );
    client.join(WORKSHOP_ROOM).await?;
    let mut host = Publisher::new(client).await?;
    let answer = host.publish(WORKSHOP_ROOM).await?;
    let sdp = answer["sdp"].as_str().context("an answer")?;
    let ports: Vec<u16> = sdp
        .lines()
        .filter(|line| line.starts_with("a=candidate"))
        .filter_map(|line| line.split_whitespace().nth(5)?.parse().ok())
        .collect();
    assert!(!ports.is_empty(), "{sdp}");
    assert!(
        ports.iter().all(|port| (47_000..=47_099).contains(port)),
        "{ports:?}"
    );
    Ok(())
}

#[tokio::test]
async fn behind_a_nat_the_server_announces_its_public_address() -> Result<()> {
    let server = TestServer::start_with(|config| {
        config.rtc.nat_ips = vec!["203.0.113.7".into()];
    })
    .await?;
    let mut client = Client::connect(server.addr()).await?;
    client.hello(&server.token(Role::Host, "Hana")).await?;
    client.join(WORKSHOP_ROOM).await?;
    let mut host = Publisher::new(client).await?;
    let answer = host.publish(WORKSHOP_ROOM).await?;
    let sdp = answer["sdp"].as_str().context("an answer")?;
    let addresses: Vec<&str> = sdp
        .lines()
        .filter(|line| line.starts_with("a=candidate"))
        .filter_map(|line| line.split_whitespace().nth(4))
        .collect();
    assert!(!addresses.is_empty(), "{sdp}");
    assert!(
        addresses.iter().all(|address| *address == "203.0.113.7"),
        "{addresses:?}"
    );
    Ok(())
}

#[tokio::test]
async fn keyframe_requests_reach_the_publisher_when_a_viewer_connects_and_asks() -> Result<()> {
    let server = TestServer::start().await?;
    let mut host =
        Publisher::new(member(&server, Role::Host, "Hana", WORKSHOP_ROOM).await?).await?;
    host.publish(WORKSHOP_ROOM).await?;
    let viewer = Viewer::subscribe(
        member(&server, Role::Attendee, "Vi", WORKSHOP_ROOM).await?,
        WORKSHOP_ROOM,
    )
    .await?;
    viewer.wait_for_packets(&[VP8], 1).await?;
    // The viewer's connection coming up asked for a keyframe on its behalf.
    let requests = || host.keyframe_requests.load(Ordering::Relaxed);
    eventually("a keyframe requested for the new viewer", async || {
        Ok((requests() > 0).then_some(()))
    })
    .await?;
    // The viewer's own PLI goes upstream too (at most one per 250 ms per track, so it asks
    // again until one passes).
    let before = requests();
    eventually(
        "the viewer's keyframe request to reach the publisher",
        async || {
            if requests() != before {
                return Ok(Some(()));
            }
            viewer.request_keyframe().await?;
            Ok(None)
        },
    )
    .await
}

#[tokio::test]
async fn a_viewer_that_reports_a_lost_packet_gets_it_again() -> Result<()> {
    let server = TestServer::start().await?;
    let mut host =
        Publisher::new(member(&server, Role::Host, "Hana", WORKSHOP_ROOM).await?).await?;
    host.publish(WORKSHOP_ROOM).await?;
    let viewer = Viewer::subscribe(
        member(&server, Role::Attendee, "Vi", WORKSHOP_ROOM).await?,
        WORKSHOP_ROOM,
    )
    .await?;
    viewer.wait_for_packets(&[VP8], 10).await?;
    let lost = lock(&viewer.received)
        .last_video_seq
        .context("video arrived")?;
    let arrivals = || {
        lock(&viewer.received)
            .video_seqs
            .get(&lost)
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(arrivals(), 1);
    // The SFU keeps what it sent each viewer and sends it again on a NACK.
    eventually(
        &format!("packet {lost}, reported lost, sent again"),
        async || {
            if arrivals() >= 2 {
                return Ok(Some(()));
            }
            viewer.report_lost(lost).await?;
            Ok(None)
        },
    )
    .await
}

#[tokio::test]
async fn a_person_brought_on_stage_may_still_publish_after_a_restart() -> Result<()> {
    let server = TestServer::start().await?;
    let token = server.token(Role::Attendee, "Ada");
    let mut ada = plenary_tests::Client::connect(server.addr()).await?;
    ada.hello(&token).await?;
    ada.join(WORKSHOP_ROOM).await?;
    let mut moderator = member(&server, Role::Moderator, "Mo", WORKSHOP_ROOM).await?;
    moderator
        .ok(json!({"type":"grant_stage","room":WORKSHOP_ROOM,"user":ada.user_id,"allowed":true}))
        .await?;
    drop((ada, moderator));
    let server = TestServer::start_in(server.stop().await).await?;

    let mut ada = plenary_tests::Client::connect(server.addr()).await?;
    ada.hello(&token).await?;
    let joined = ada.join(WORKSHOP_ROOM).await?;
    assert_eq!(joined["snapshot"]["on_stage"], json!([ada.user_id]));
    let mut viewer = Viewer::subscribe(
        member(&server, Role::Attendee, "Vi", WORKSHOP_ROOM).await?,
        WORKSHOP_ROOM,
    )
    .await?;
    let mut ada = Publisher::new(ada).await?;
    let answer = ada.publish(WORKSHOP_ROOM).await?;
    assert_eq!(answer["type"], "rtc_answer", "{answer}");
    viewer.tracks_event(|tracks| tracks.len() == 2).await?;
    Ok(())
}

#[tokio::test]
async fn a_viewer_reuses_the_m_lines_of_ended_tracks_for_the_next_ones() -> Result<()> {
    let server = TestServer::start().await?;
    let mut viewer = Viewer::subscribe(
        member(&server, Role::Attendee, "Vi", WORKSHOP_ROOM).await?,
        WORKSHOP_ROOM,
    )
    .await?;
    // Host after host goes on and off: the viewer's SDP keeps one audio and one video m-line.
    for round in 0..3 {
        let name = format!("Host {round}");
        let mut host =
            Publisher::new(member(&server, Role::Host, &name, WORKSHOP_ROOM).await?).await?;
        host.publish(WORKSHOP_ROOM).await?;
        let tracks = viewer
            .tracks_event(|tracks| tracks.len() == 2 && tracks[0]["publisher"]["name"] == name)
            .await?;
        let mut live: Vec<&str> = tracks.iter().filter_map(|t| t["id"].as_str()).collect();
        live.sort_unstable();
        let offer = viewer
            .offer(|offer| {
                let mut carried: Vec<&str> = offer["tracks"]
                    .as_object()
                    .map(|mids| mids.values().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                carried.sort_unstable();
                carried == live
            })
            .await?;
        let sdp = offer["sdp"].as_str().context("sdp")?;
        let m_lines = sdp.lines().filter(|line| line.starts_with("m=")).count();
        assert_eq!(m_lines, 2, "round {round}: {sdp}");
        let (video, audio) = (viewer.packets(VP8), viewer.packets(OPUS));
        viewer.wait_for_packets(&[VP8], video + 20).await?;
        viewer.wait_for_packets(&[OPUS], audio + 20).await?;
        host.client
            .ok(json!({"type":"rtc_unpublish","room":WORKSHOP_ROOM}))
            .await?;
        viewer.tracks_event(<[Value]>::is_empty).await?;
    }
    Ok(())
}
