//! What the loadtest shares beyond its binary: synthetic media for webrtc-rs peers, used by
//! its `sfu` scenario and by the end-to-end tests.

pub mod media;
