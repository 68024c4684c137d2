//! What every request handler and connection shares: [`AppState`], built once by
//! [`crate::start`] and cloned into the router and each connection.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Keys;
use crate::config::Config;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::people::People;
use crate::rtc::Sfu;
use crate::ws::Uplink;

/// What every request handler and connection shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub hub: Arc<Hub>,
    pub keys: Arc<Keys>,
    pub config: Arc<Config>,
    pub people: Arc<People>,
    pub sfu: Arc<Sfu>,
    /// What `GET /metrics` shows.
    pub metrics: Arc<Metrics>,
    /// On a node of a cluster that does not run the conference: where its connections'
    /// messages go (`ws::Uplink`). `None` where the rooms run.
    pub uplink: Option<Arc<dyn Uplink>>,
    /// Connections and room tasks, awaited on shutdown.
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
}
