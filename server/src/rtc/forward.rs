//! A published track as the SFU forwards it ([`Forwarded`]): its RTP is read once from the
//! publisher and written once into one `TrackLocalStaticRTP`, which is bound to every
//! viewer's peer connection (webrtc-rs rewrites SSRC and payload type per binding and
//! encrypts per viewer); viewers' keyframe requests go up to the publisher as a PLI, at most
//! one per [`KEYFRAME_INTERVAL`].
//!
//! It knows neither rooms nor viewers: binding it to viewers is `subscriber.rs`'s job.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use metrics::Counter;
use plenary_protocol::{TrackInfo, TrackKind};
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use webrtc::track::track_local::TrackLocalWriter;
use webrtc::track::track_local::track_local_static_rtp::TrackLocalStaticRTP;
use webrtc::track::track_remote::TrackRemote;

use super::lock::lock;
use crate::metrics::PACKETS_PER_REPORT;

/// The least time between two keyframe requests sent upstream for one track.
pub const KEYFRAME_INTERVAL: Duration = Duration::from_millis(250);

/// A published track as the SFU forwards it.
pub(super) struct Forwarded {
    pub info: TrackInfo,
    /// The one track every viewer's peer connection is bound to.
    pub local: Arc<TrackLocalStaticRTP>,
    /// The SSRC the publisher sends it with, for keyframe requests.
    media_ssrc: u32,
    /// Where keyframe requests go.
    publisher: Weak<RTCPeerConnection>,
    /// When a keyframe was last requested.
    last_keyframe_request: Mutex<Option<Instant>>,
}

impl Forwarded {
    /// The track `remote`, received on `publisher`, as forwarded under `info`.
    pub fn new(
        info: TrackInfo,
        remote: &TrackRemote,
        publisher: &Arc<RTCPeerConnection>,
    ) -> Arc<Forwarded> {
        let local = Arc::new(TrackLocalStaticRTP::new(
            remote.codec().capability,
            info.id.clone(),
            info.stream.clone(),
        ));
        Arc::new(Forwarded {
            info,
            local,
            media_ssrc: remote.ssrc(),
            publisher: Arc::downgrade(publisher),
            last_keyframe_request: Mutex::new(None),
        })
    }

    /// Read the publisher's RTP once and write it once, until the track ends; count the
    /// packets in `forwarded`, [`PACKETS_PER_REPORT`] at a time.
    pub async fn relay(&self, remote: &TrackRemote, forwarded: &Counter) {
        let mut unreported = 0;
        while let Ok((mut packet, _)) = remote.read_rtp().await {
            // The publisher's header-extension ids mean nothing on the viewers' connections.
            packet.header.extension = false;
            packet.header.extensions.clear();
            // An error means one binding failed (a viewer leaving): the others still get it.
            let _ = self.local.write_rtp(&packet).await;
            unreported += 1;
            if unreported == PACKETS_PER_REPORT {
                forwarded.increment(unreported);
                unreported = 0;
            }
        }
        forwarded.increment(unreported);
    }

    /// Ask the publisher for a keyframe, unless one was asked for very recently.
    pub async fn request_keyframe(&self) {
        if self.info.kind != TrackKind::Video {
            return;
        }
        {
            let mut last = lock(&self.last_keyframe_request);
            let now = Instant::now();
            if last.is_some_and(|last| now.duration_since(last) < KEYFRAME_INTERVAL) {
                return;
            }
            *last = Some(now);
        }
        if let Some(publisher) = self.publisher.upgrade() {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: self.media_ssrc,
            };
            if let Err(error) = publisher.write_rtcp(&[Box::new(pli)]).await {
                tracing::debug!(%error, track = %self.info.id, "keyframe request not sent");
            }
        }
    }
}
