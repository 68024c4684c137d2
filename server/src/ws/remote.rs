//! Connections between the nodes of a cluster, at the level of one connection.
//!
//! On a node that does not run the conference, a connection says hello there (tokens, guests,
//! its place among the person's connections) and then hands every other message, as the
//! client sent it, to an [`Uplink`]: the cluster's relay, which carries it to the node that
//! runs the conference.
//!
//! On the node that runs it, [`RemoteSessions::open`] serves each such connection with a
//! [`Session`] of its own, signed in as the person who said hello elsewhere, whose outbox is
//! remote ([`Outbox::remote`]): the session routes, limits and carries out each forwarded
//! message exactly as it would a local one, and what is queued for the connection goes, in
//! order, to the relay's sink for the node where the person is.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::mpsc;

use plenary_protocol::{ErrorCode, ServerMessage};

use super::Session;
use crate::hub::{CloseReason, ConnId, Outbox, Person, RemoteSink, encode};
use crate::state::AppState;

/// Where a node that does not run the conference sends its connections' messages.
pub trait Uplink: Send + Sync + 'static {
    /// Connection `conn` said hello as `person`; what the rooms send it goes to `outbox`.
    fn open(&self, conn: ConnId, person: &Person, outbox: &Outbox);
    /// A signed-in client message of `conn`, the frame as the client sent it.
    fn send(&self, conn: ConnId, frame: &str);
    /// Connection `conn` ended.
    fn close(&self, conn: ConnId);
}

/// Frames of one remote connection queued before it is closed as flooding (the node it is
/// on already holds it to the per-connection frame rate).
const QUEUED_FRAMES: usize = 256;

/// Serves, on the node that runs the conference, the connections of the other nodes.
#[derive(Clone)]
pub struct RemoteSessions {
    pub(crate) state: AppState,
}

impl RemoteSessions {
    /// Serve connection `remote` of another node, where `person` said hello: what is queued
    /// for it goes to `sink`. Its frames go in through the returned sender; dropping it ends
    /// the session.
    pub fn open(
        &self,
        person: Person,
        sink: Arc<dyn RemoteSink>,
        remote: ConnId,
    ) -> mpsc::Sender<String> {
        let state = self.state.clone();
        let outbox = Outbox::remote(sink, remote);
        let (frames, mut incoming) = mpsc::channel::<String>(QUEUED_FRAMES);
        // A person's connections are counted here too, wherever they are: each node holds
        // them to the bound, and this node to the bound across all nodes.
        let slot = match state.people.connect(&person.user.id) {
            Ok(slot) => slot,
            Err(error) => {
                let refusal = encode(&ServerMessage::Error {
                    reference: None,
                    code: ErrorCode::TooManyConnections,
                    message: error.to_string(),
                });
                let reason = CloseReason {
                    code: plenary_protocol::close::POLICY,
                    reason: "too many connections",
                };
                outbox.close_with(reason, vec![refusal]);
                return frames;
            }
        };
        let conn = state.hub.new_conn();
        let listing =
            state
                .hub
                .person_outboxes()
                .list(person.user.id.clone(), conn, outbox.clone());
        let mut session = Session {
            conn,
            person: Some(Arc::new(person)),
            slot: Some(slot),
            listing: Some(listing),
            joined: HashSet::new(),
            frames: None,
            refused_frames: 0,
            outbox: outbox.clone(),
            state: state.clone(),
        };
        let shutdown = state.shutdown.clone();
        state.tasks.spawn(async move {
            loop {
                let frame = tokio::select! {
                    () = shutdown.cancelled() => {
                        outbox.close(super::RESTARTING);
                        break;
                    }
                    () = outbox.closed() => break,
                    frame = incoming.recv() => frame,
                };
                match frame {
                    Some(text) => Box::pin(session.receive(&text)).await,
                    None => break,
                }
            }
            outbox.close(CloseReason {
                code: 1000,
                reason: "bye",
            });
            Box::pin(session.leave_all()).await;
            Box::pin(session.state.sfu.disconnect(conn)).await;
        });
        frames
    }
}
