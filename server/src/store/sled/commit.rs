//! Group commit: one thread makes writes durable for a batch of waiters.
//!
//! sled 0.34.7's `flush()` ends in `sync_file_range`, which is not a full
//! fsync, so after it the data file is `sync_all`ed as well. `flush_async`
//! is never used: in 0.34.7 it deadlocks under concurrent load.

use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc;

use crate::store::StoreError;

fn gone() -> StoreError {
    StoreError::Engine {
        engine: "sled",
        detail: "the group-commit thread has stopped".into(),
    }
}

type Reply = mpsc::SyncSender<Result<(), String>>;

/// The handle to the commit thread.
#[derive(Clone)]
pub struct GroupCommit {
    requests: mpsc::Sender<Reply>,
}

impl GroupCommit {
    /// Starts the thread; it ends when every handle is dropped.
    pub fn start(db: sled::Db, dir: PathBuf) -> Self {
        let (requests, incoming) = mpsc::channel::<Reply>();
        std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || {
                while let Ok(first) = incoming.recv() {
                    let mut batch = vec![first];
                    batch.extend(incoming.try_iter());
                    let started = std::time::Instant::now();
                    let outcome = flush_and_fsync(&db, &dir).map_err(|e| e.to_string());
                    metrics::histogram!("kaisen_store_commit_duration_seconds")
                        .record(started.elapsed().as_secs_f64());
                    for reply in batch {
                        let _ = reply.send(outcome.clone());
                    }
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!("cannot start the group-commit thread: {e}"));
        Self { requests }
    }

    /// Blocks until everything written before the call is on disk.
    pub fn sync(&self) -> Result<(), StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.requests.send(reply).map_err(|_| gone())?;
        answer
            .recv()
            .map_err(|_| gone())?
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))
    }
}

fn flush_and_fsync(db: &sled::Db, dir: &std::path::Path) -> Result<(), StoreError> {
    db.flush()?;
    File::open(dir.join("db"))?.sync_all()?;
    Ok(())
}
