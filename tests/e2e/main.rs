//! End-to-end tests: each starts the real server on 127.0.0.1:0 with its own data directory
//! and drives it over real HTTP and WebSockets, or through real headless Chromium.

mod browser;
mod cluster;
mod import;
mod interaction;
mod limits;
mod metrics;
mod organiser;
mod rtc;
mod schedule;
mod seats;
mod ws;
