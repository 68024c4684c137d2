//! Building peer connections from the [`RtcConfig`], and the two halves of signalling that
//! every peer connection shares: an SDP that already carries the server's candidates (for
//! clients that do not trickle), and the candidates found after it went out (trickled as
//! `rtc_candidate`).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use plenary_protocol::{IceCandidate, IceServer, PcKind, RoomId, ServerMessage};
use webrtc::api::interceptor_registry::register_default_interceptors;
use webrtc::api::media_engine::MediaEngine;
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::{API, APIBuilder};
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice::network_type::NetworkType;
use webrtc::ice::udp_network::{EphemeralUDP, UDPNetwork};
use webrtc::ice_transport::ice_candidate::RTCIceCandidate;
use webrtc::ice_transport::ice_candidate_type::RTCIceCandidateType;
use webrtc::interceptor::registry::Registry;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;

use crate::hub::{Outbox, encode};

/// How the SFU's peer connections reach clients.
#[derive(Debug, Clone)]
pub struct RtcConfig {
    /// STUN and TURN servers handed to clients in `welcome`. The server's own peer
    /// connections gather host candidates only (announced as `nat_ips` when set), so its SDPs
    /// never wait on a STUN round trip.
    pub ice_servers: Vec<IceServer>,
    /// The UDP ports media may use (inclusive); `None` for any free port.
    pub udp_ports: Option<(u16, u16)>,
    /// Public addresses to announce instead of the host's own (a 1:1 NAT, such as a cloud
    /// VM's public IP).
    pub nat_ips: Vec<String>,
    /// Gather and announce 127.0.0.1 only: one machine, tests.
    pub loopback: bool,
    /// How long an SDP waits for the server's candidates before it goes out with those found
    /// so far (the rest are trickled).
    pub gather_timeout: Duration,
}

impl RtcConfig {
    /// Defaults: no ICE servers, any port, loopback only when the server listens on it.
    pub fn new(listen: IpAddr) -> RtcConfig {
        RtcConfig {
            ice_servers: Vec::new(),
            udp_ports: None,
            nat_ips: Vec::new(),
            loopback: listen.is_loopback(),
            gather_timeout: Duration::from_secs(2),
        }
    }

    /// A webrtc API for one peer connection (each negotiates its own codecs, so none is
    /// shared).
    fn api(&self) -> Result<API, webrtc::Error> {
        let mut media = MediaEngine::default();
        media.register_default_codecs()?;
        // NACK responder and generator, sender and receiver reports, TWCC.
        let registry = register_default_interceptors(Registry::new(), &mut media)?;
        let mut settings = SettingEngine::default();
        if let Some((min, max)) = self.udp_ports {
            settings.set_udp_network(UDPNetwork::Ephemeral(EphemeralUDP::new(min, max)?));
        }
        if !self.nat_ips.is_empty() {
            settings.set_nat_1to1_ips(self.nat_ips.clone(), RTCIceCandidateType::Host);
        }
        // Browsers' `.local` names cannot be resolved here; their peer-reflexive addresses
        // still pair.
        settings.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
        // ICE lite, as SFUs with reachable addresses do: clients run the checks and
        // nominate, so a viewer connects as soon as its answer is in.
        settings.set_lite(true);
        if self.loopback {
            settings.set_include_loopback_candidate(true);
            settings.set_ip_filter(Box::new(|ip: IpAddr| ip.is_loopback()));
            settings.set_network_types(vec![NetworkType::Udp4]);
        } else {
            settings.set_network_types(vec![NetworkType::Udp4, NetworkType::Udp6]);
        }
        Ok(APIBuilder::new()
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_setting_engine(settings)
            .build())
    }

    /// A new peer connection whose late candidates are trickled to `outbox`.
    pub(super) async fn peer(
        &self,
        outbox: Outbox,
        room: RoomId,
        pc: PcKind,
    ) -> Result<Peer, webrtc::Error> {
        let connection = Arc::new(
            self.api()?
                .new_peer_connection(RTCConfiguration::default())
                .await?,
        );
        let sdp_sent = Arc::new(AtomicBool::new(false));
        let sent = Arc::clone(&sdp_sent);
        connection.on_ice_candidate(Box::new(move |candidate: Option<RTCIceCandidate>| {
            // Candidates found before the SDP went out are in it.
            let late = candidate.filter(|_| sent.load(Ordering::Acquire));
            if let Some(init) = late.and_then(|candidate| candidate.to_json().ok()) {
                outbox.push(encode(&ServerMessage::RtcCandidate {
                    room: room.clone(),
                    pc,
                    candidate: IceCandidate {
                        candidate: init.candidate,
                        // Every track is bundled on the first m-line.
                        sdp_mid: None,
                        sdp_mline_index: Some(0),
                        username_fragment: None,
                    },
                }));
            }
            Box::pin(async {})
        }));
        Ok(Peer {
            connection,
            sdp_sent,
            gather_timeout: self.gather_timeout,
        })
    }
}

/// A peer connection and what its signalling needs.
pub(super) struct Peer {
    pub connection: Arc<RTCPeerConnection>,
    /// Whether the first local SDP went out: candidates after it are trickled.
    sdp_sent: Arc<AtomicBool>,
    gather_timeout: Duration,
}

impl Peer {
    /// Set `description` as the local one and return its SDP once the candidates are in it
    /// (or the gathering timeout passed).
    pub async fn local_sdp(
        &self,
        description: RTCSessionDescription,
    ) -> Result<String, webrtc::Error> {
        let mut gathered = self.connection.gathering_complete_promise().await;
        self.connection.set_local_description(description).await?;
        if tokio::time::timeout(self.gather_timeout, gathered.recv())
            .await
            .is_err()
        {
            tracing::debug!("ICE gathering still running: the rest will be trickled");
        }
        // Set before reading the description: a candidate found in between is sent twice
        // rather than never.
        self.sdp_sent.store(true, Ordering::Release);
        self.connection
            .local_description()
            .await
            .map(|description| description.sdp)
            .ok_or(webrtc::Error::ErrNoRemoteDescription)
    }

    /// Answer a client's offer.
    pub async fn answer(&self, offer: RTCSessionDescription) -> Result<String, SdpError> {
        self.connection
            .set_remote_description(offer)
            .await
            .map_err(SdpError::Refused)?;
        let answer = self
            .connection
            .create_answer(None)
            .await
            .map_err(SdpError::Refused)?;
        self.local_sdp(answer).await.map_err(SdpError::Failed)
    }
}

/// Why an SDP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum SdpError {
    /// The client's SDP was refused (the parser's or negotiator's message).
    #[error("{0}")]
    Refused(webrtc::Error),
    /// The server failed.
    #[error("{0}")]
    Failed(webrtc::Error),
}

#[cfg(test)]
mod tests {
    use webrtc::api::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
    use webrtc::rtp_transceiver::rtp_codec::RTCRtpCodecCapability;
    use webrtc::track::track_local::TrackLocal;
    use webrtc::track::track_local::track_local_static_sample::TrackLocalStaticSample;

    use super::*;

    fn config() -> RtcConfig {
        RtcConfig::new(IpAddr::from([127, 0, 0, 1]))
    }

    async fn peer(config: &RtcConfig) -> Peer {
        let (outbox, _receiver) = Outbox::new(16);
        config
            .peer(outbox, "room".into(), PcKind::Publish)
            .await
            .expect("a peer connection on loopback")
    }

    /// A browser-like offer with a camera and a microphone.
    async fn offer(config: &RtcConfig) -> String {
        let client = peer(config).await;
        for (mime, clock_rate, channels) in
            [(MIME_TYPE_VP8, 90_000, 0), (MIME_TYPE_OPUS, 48_000, 2)]
        {
            let track = TrackLocalStaticSample::new(
                RTCRtpCodecCapability {
                    mime_type: mime.into(),
                    clock_rate,
                    channels,
                    ..Default::default()
                },
                format!("{mime}-track"),
                "stream".into(),
            );
            let track: Arc<dyn TrackLocal + Send + Sync> = Arc::new(track);
            client
                .connection
                .add_track(track)
                .await
                .expect("tracks can be added");
        }
        let offer = client
            .connection
            .create_offer(None)
            .await
            .expect("an offer");
        let sdp = client.local_sdp(offer).await.expect("a local SDP");
        let _ = client.connection.close().await;
        sdp
    }

    /// Offers broken the ways a buggy or hostile client might: cut short, lines dropped,
    /// bytes changed. Each is answered or refused; none panics.
    #[tokio::test]
    async fn broken_offers_are_refused_not_panicked_on() {
        let config = RtcConfig {
            gather_timeout: Duration::from_millis(200),
            ..config()
        };
        let good = offer(&config).await;
        let lines: Vec<&str> = good.split("\r\n").collect();
        let mut broken: Vec<String> = Vec::new();
        for cut in 0..lines.len() {
            broken.push(lines[..cut].join("\r\n"));
            let mut dropped = lines.clone();
            dropped.remove(cut);
            broken.push(dropped.join("\r\n"));
        }
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let bytes = good.as_bytes();
        for _ in 0..60 {
            // A small xorshift: the same mutations every run.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut mutated = bytes.to_vec();
            let at = (state as usize) % mutated.len();
            mutated[at] = b"=: \r\n0aZ/-9"[(state >> 32) as usize % 11];
            broken.push(String::from_utf8_lossy(&mutated).into_owned());
        }
        let mut refused = 0;
        for sdp in broken {
            let answered = match RTCSessionDescription::offer(sdp) {
                Ok(offer) => {
                    let server = peer(&config).await;
                    let answered = server.answer(offer).await;
                    let _ = server.connection.close().await;
                    answered.is_ok()
                }
                Err(_) => false,
            };
            if !answered {
                refused += 1;
            }
        }
        assert!(refused > 0, "some of the broken offers are refused");
    }
}
