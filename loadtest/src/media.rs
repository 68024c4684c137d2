//! Synthetic media for webrtc-rs peers: a client-side peer connection, the SDP of an offer or
//! an answer with its candidates in it (no trickling), and synthetic sources (a VP8 camera,
//! an Opus microphone) sending dummy frames. No signalling: what carries the SDP is the
//! caller's. The loadtest's `sfu` scenario publishes and subscribes with these, and so do the
//! end-to-end tests (`tests/e2e/rtc.rs`); it lives here because the loadtest needs it at run
//! time, where the tests crate is only a dev-dependency.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use webrtc::api::APIBuilder;
use webrtc::api::interceptor_registry::register_default_interceptors;
use webrtc::api::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine};
use webrtc::api::setting_engine::SettingEngine;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice::network_type::NetworkType;
use webrtc::interceptor::registry::Registry;
use webrtc::media::Sample;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::rtp_transceiver::rtp_codec::RTCRtpCodecCapability;
use webrtc::track::track_local::TrackLocal;
use webrtc::track::track_local::track_local_static_sample::TrackLocalStaticSample;

/// How a client-side peer connection gathers candidates and what it lets through.
#[derive(Debug, Clone, Copy)]
pub struct PeerSettings {
    /// Gather and use 127.0.0.1 only (as a server listening on 127.0.0.1 does).
    pub loopback: bool,
    /// Let a repaired packet arrive again with its sequence number, to see it (SRTP replay
    /// protection off).
    pub see_repairs: bool,
}

/// A client-side peer connection with webrtc-rs's default codecs and interceptors, mDNS off.
pub async fn peer_connection(settings: PeerSettings) -> Result<Arc<RTCPeerConnection>> {
    let mut media = MediaEngine::default();
    media.register_default_codecs()?;
    let registry = register_default_interceptors(Registry::new(), &mut media)?;
    let mut engine = SettingEngine::default();
    engine.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
    if settings.loopback {
        engine.set_include_loopback_candidate(true);
        engine.set_ip_filter(Box::new(|ip: std::net::IpAddr| ip.is_loopback()));
        engine.set_network_types(vec![NetworkType::Udp4]);
    }
    if settings.see_repairs {
        engine.disable_srtp_replay_protection(true);
    }
    let api = APIBuilder::new()
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_setting_engine(engine)
        .build();
    Ok(Arc::new(
        api.new_peer_connection(RTCConfiguration::default()).await?,
    ))
}

/// Set a local description and return its SDP with the candidates gathered, waiting at most
/// `patience` for gathering to complete (past it, with those gathered so far).
pub async fn complete_sdp(
    pc: &RTCPeerConnection,
    description: RTCSessionDescription,
    patience: Duration,
) -> Result<String> {
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(description).await?;
    let _ = tokio::time::timeout(patience, gathered.recv()).await;
    Ok(pc
        .local_description()
        .await
        .context("no local description")?
        .sdp)
}

/// An offer for what `pc` sends and receives, as complete SDP.
pub async fn offer(pc: &RTCPeerConnection, patience: Duration) -> Result<String> {
    let offer = pc.create_offer(None).await?;
    complete_sdp(pc, offer, patience).await
}

/// Take a remote offer and return the answer, as complete SDP.
pub async fn answer(pc: &RTCPeerConnection, offer: String, patience: Duration) -> Result<String> {
    pc.set_remote_description(RTCSessionDescription::offer(offer)?)
        .await?;
    let answer = pc.create_answer(None).await?;
    complete_sdp(pc, answer, patience).await
}

/// A synthetic source: a track and the dummy frames it sends at a steady rate (webrtc-rs
/// receivers count packets, they never decode).
#[derive(Debug)]
pub struct Source {
    track: Arc<TrackLocalStaticSample>,
    frame: Bytes,
    every: Duration,
}

impl Source {
    /// A camera: VP8 at 30 frames a second, 1,200-byte frames.
    pub fn camera(stream: &str) -> Source {
        Source::video("camera", stream, 1_200, Duration::from_millis(33))
    }

    /// A microphone: Opus, an 80-byte frame every 20 ms.
    pub fn microphone(stream: &str) -> Source {
        Source {
            track: Arc::new(TrackLocalStaticSample::new(
                RTCRtpCodecCapability {
                    mime_type: MIME_TYPE_OPUS.into(),
                    clock_rate: 48_000,
                    channels: 2,
                    ..Default::default()
                },
                "microphone".into(),
                stream.into(),
            )),
            frame: Bytes::from(vec![0xF8; 80]),
            every: Duration::from_millis(20),
        }
    }

    /// VP8 video on track `id` of `stream`: a frame of `size` bytes every `every`.
    pub fn video(id: &str, stream: &str, size: usize, every: Duration) -> Source {
        Source {
            track: Arc::new(TrackLocalStaticSample::new(
                RTCRtpCodecCapability {
                    mime_type: MIME_TYPE_VP8.into(),
                    clock_rate: 90_000,
                    ..Default::default()
                },
                id.into(),
                stream.into(),
            )),
            frame: Bytes::from(vec![0xAB; size]),
            every,
        }
    }

    /// The track, to add to a peer connection.
    pub fn track(&self) -> Arc<dyn TrackLocal + Send + Sync> {
        Arc::clone(&self.track) as Arc<dyn TrackLocal + Send + Sync>
    }

    /// Send a frame every `every` from now on, until the task is aborted. Writing fails until
    /// the connection is up; the next frame tries again.
    pub fn send(self) -> tokio::task::JoinHandle<()> {
        let Source {
            track,
            frame,
            every,
        } = self;
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            loop {
                interval.tick().await;
                let sample = Sample {
                    data: frame.clone(),
                    duration: every,
                    ..Default::default()
                };
                let _ = track.write_sample(&sample).await;
            }
        })
    }
}
