//! The rooms' own thread: a current-thread runtime every room's task runs on, apart from the
//! server's runtime where the connections' writers run.

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The rooms' own runtime, on a thread of its own ([`room_thread`]).
pub struct RoomThread {
    pub(super) handle: tokio::runtime::Handle,
    /// Every room task, which the thread waits for once shut down.
    pub(super) tasks: TaskTracker,
}

/// Start the thread the rooms run on, a runtime of their own, until `shutdown`.
///
/// On the server's runtime, a room whose event woke five thousand writers waited behind them
/// all before it could take the next message (its wake-ups from the store's thread are
/// queued after theirs): at 500,000 deliveries/s that cost 70 ms of latency per message. On
/// a thread of its own a room's turn starts as soon as there is something to do, and the
/// writers it wakes run on the server's runtime.
///
/// Once `shutdown` is cancelled, the thread waits for every room to finish its turn (a
/// commit in flight lands) and stop, then ends.
pub fn room_thread(shutdown: CancellationToken) -> std::io::Result<RoomThread> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("plenary-rooms")
        .build()?;
    let handle = runtime.handle().clone();
    let tasks = TaskTracker::new();
    let rooms = tasks.clone();
    std::thread::Builder::new()
        .name("plenary-rooms".into())
        .spawn(move || {
            runtime.block_on(async move {
                shutdown.cancelled().await;
                rooms.close();
                rooms.wait().await;
            });
        })?;
    Ok(RoomThread { handle, tasks })
}
