//! The write path: [`Persister`], one thread that owns the store's writes and commits the
//! batches queued by every room together (group commit), falling back to one transaction per
//! batch when a group fails, so that one bad batch fails only its own room. Each commit's
//! duration goes into a histogram (`plenary_commit_seconds` at `/metrics`).

use std::sync::Arc;
use std::time::Instant;

use metrics::Histogram;

use tokio::sync::{mpsc, oneshot};

use super::{Change, Store, StoreError};

/// One room's writes, committed together; `done` hears the outcome.
struct Batch {
    changes: Vec<Change>,
    done: oneshot::Sender<Result<(), Arc<StoreError>>>,
}

/// The write path: a thread that owns the store's writes and commits queued batches together.
#[derive(Clone)]
pub struct Persister {
    batches: mpsc::Sender<Batch>,
}

/// How many batches one group commit may take at most.
pub const GROUP_COMMIT_BATCHES: usize = 256;

impl Persister {
    /// Start the writer thread, committing up to `group` queued batches in one transaction
    /// (1: a transaction per batch, for measuring what group commit saves) and recording how
    /// long each commit takes in `latency`. It ends when every `Persister` clone is dropped.
    pub fn start(
        store: Arc<dyn Store>,
        group: usize,
        latency: Histogram,
    ) -> (Persister, std::thread::JoinHandle<()>) {
        let (batches, mut queue) = mpsc::channel::<Batch>(1024);
        let group_size = group.max(1);
        let thread = std::thread::Builder::new()
            .name("plenary-persister".into())
            .spawn(move || {
                let mut group = Vec::with_capacity(group_size);
                while queue.blocking_recv_many(&mut group, group_size) > 0 {
                    commit_group(store.as_ref(), &mut group, &latency);
                }
            })
            .expect("spawning a thread only fails when the OS is out of resources");
        (Persister { batches }, thread)
    }

    /// Commit `changes` durably (with whatever else is queued). Returns once they are on disk.
    pub async fn commit(&self, changes: Vec<Change>) -> Result<(), Arc<StoreError>> {
        let (done, outcome) = oneshot::channel();
        self.batches
            .send(Batch { changes, done })
            .await
            .map_err(|_| Arc::new(StoreError::WriterGone))?;
        outcome
            .await
            .unwrap_or_else(|_| Err(Arc::new(StoreError::WriterGone)))
    }
}

/// Commit a group in one transaction; if it fails, commit each batch alone so that one bad
/// batch fails only its own room.
fn commit_group(store: &dyn Store, group: &mut Vec<Batch>, latency: &Histogram) {
    let commit = |changes: &[&Change]| {
        let started = Instant::now();
        let outcome = store.commit(changes);
        latency.record(started.elapsed().as_secs_f64());
        outcome
    };
    let all: Vec<&Change> = group.iter().flat_map(|batch| &batch.changes).collect();
    let outcome = commit(&all);
    drop(all);
    match outcome {
        Ok(()) => {
            for batch in group.drain(..) {
                let _ = batch.done.send(Ok(()));
            }
        }
        Err(error) if group.len() == 1 => {
            tracing::error!(%error, "commit failed");
            let error = Arc::new(error);
            for batch in group.drain(..) {
                let _ = batch.done.send(Err(Arc::clone(&error)));
            }
        }
        Err(_) => {
            for batch in group.drain(..) {
                let changes: Vec<&Change> = batch.changes.iter().collect();
                let outcome = commit(&changes).map_err(|error| {
                    tracing::error!(%error, "commit failed");
                    Arc::new(error)
                });
                let _ = batch.done.send(outcome);
            }
        }
    }
}
