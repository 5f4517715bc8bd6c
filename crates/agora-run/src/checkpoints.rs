//! A run's checkpoints written off its path: the scheduler captures the snapshot after
//! each round and goes on with the next round while the tables' writer seals the
//! round's segment and a thread of the run's own waits for that seal, then serialises
//! and writes the checkpoint, in order (a checkpoint never names a segment that is not
//! on disk). A crash before a checkpoint is on disk resumes from the one before, as a
//! crash between a seal and its checkpoint always did; an interrupted or finished run
//! waits for its checkpoints before it reports.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use agora_core::checkpoint::RunSnapshot;
use agora_core::scheduler::Checkpointer;
use agora_export::SealReceipt;

/// The file name of round `round`'s checkpoint.
pub(crate) fn checkpoint_name(round: u32) -> String {
    format!("round-{round:05}.json")
}

/// Write `snapshot` into `dir` atomically (temporary file, then rename), and to the
/// object store of an output mounted there.
fn write_checkpoint(dir: &Path, snapshot: &RunSnapshot) -> Result<(), String> {
    let json = serde_json::to_vec(snapshot).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(checkpoint_name(snapshot.round));
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, json).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    // An object-store output gets the checkpoint after the segments it describes.
    agora_export::store::publish(&path).map_err(|e| e.to_string())
}

enum Message {
    Save(Box<RunSnapshot>, SealReceipt),
    Stop,
}

/// Writes one run's checkpoints on a thread of its own.
pub(crate) struct CheckpointWriter {
    send: SyncSender<Message>,
    thread: Option<JoinHandle<()>>,
    /// The first write that failed: later checkpoints are refused with it.
    failed: Arc<Mutex<Option<String>>>,
}

impl CheckpointWriter {
    /// Start writing checkpoints into `dir`.
    pub(crate) fn start(dir: PathBuf) -> std::io::Result<Self> {
        // One checkpoint waits while one is written: memory holds at most two.
        let (send, receive) = sync_channel::<Message>(1);
        let failed = Arc::new(Mutex::new(None));
        let failures = failed.clone();
        let thread = std::thread::Builder::new()
            .name("agora-checkpoint".into())
            .spawn(move || {
                for message in receive {
                    let Message::Save(snapshot, sealed) = message else {
                        return;
                    };
                    let written = if sealed.wait() {
                        write_checkpoint(&dir, &snapshot)
                    } else {
                        Err(format!(
                            "the tables of round {} were not completed",
                            snapshot.round
                        ))
                    };
                    if let Err(e) = written {
                        if let Ok(mut failed) = failures.lock() {
                            failed.get_or_insert(e);
                        }
                        return;
                    }
                }
            })?;
        Ok(CheckpointWriter {
            send,
            thread: Some(thread),
            failed,
        })
    }

    /// The scheduler's side: queue a snapshot, or report an earlier failure.
    pub(crate) fn checkpointer(&self) -> Checkpointer {
        let send = self.send.clone();
        let failed = self.failed.clone();
        Arc::new(move |snapshot: RunSnapshot, sealed: SealReceipt| {
            if let Some(e) = failed.lock().ok().and_then(|f| f.clone()) {
                return Err(e);
            }
            send.send(Message::Save(Box::new(snapshot), sealed))
                .map_err(|_| "the checkpoint writer stopped".to_string())
        })
    }

    /// Wait until every queued checkpoint is written; the first failure, if any.
    pub(crate) fn finish(mut self) -> Result<(), String> {
        self.stop();
        match self.failed.lock() {
            Ok(failed) => failed.clone().map_or(Ok(()), Err),
            Err(_) => Err("the checkpoint writer failed".to_string()),
        }
    }

    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            // The writer may have stopped on a failure already: then nothing listens.
            let _ = self.send.send(Message::Stop);
            let _ = thread.join();
        }
    }
}

impl Drop for CheckpointWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(round: u32) -> RunSnapshot {
        let world = bevy_ecs::world::World::new();
        RunSnapshot {
            round,
            finished: false,
            rows: Default::default(),
            outcome: Default::default(),
            events: Vec::new(),
            world: agora_core::checkpoint::WorldSnapshot::capture(&world, &Default::default())
                .unwrap_or_else(|e| panic!("{e}")),
        }
    }

    #[test]
    fn queued_checkpoints_are_on_disk_once_finished() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let writer = CheckpointWriter::start(dir.path().join("run")).map_err(|e| e.to_string())?;
        let save = writer.checkpointer();
        for round in 0..5 {
            save(snapshot(round), SealReceipt::complete())?;
        }
        writer.finish()?;
        for round in 0..5 {
            let path = dir.path().join("run").join(checkpoint_name(round));
            let back: RunSnapshot = serde_json::from_slice(
                &std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?,
            )
            .map_err(|e| e.to_string())?;
            assert_eq!(back.round, round);
        }
        Ok(())
    }

    #[test]
    fn a_failed_write_is_reported_by_the_next_checkpoint_and_by_finish() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        // A file where the checkpoint directory should be: every write fails.
        let blocked = dir.path().join("run");
        std::fs::write(&blocked, b"not a directory").map_err(|e| e.to_string())?;
        let writer = CheckpointWriter::start(blocked).map_err(|e| e.to_string())?;
        let save = writer.checkpointer();
        save(snapshot(0), SealReceipt::complete())?;
        let mut refused = false;
        for round in 1..50 {
            if save(snapshot(round), SealReceipt::complete()).is_err() {
                refused = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(refused, "a later checkpoint reports the failure");
        let finished = writer.finish();
        assert!(
            finished.is_err_and(|e| e.contains("run")),
            "finish reports it too"
        );
        Ok(())
    }

    #[test]
    fn a_checkpoint_whose_segment_was_not_completed_is_not_written() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        // The segment's file is written, but a directory holds its final name: the
        // writer cannot give it that name, so the segment is never sealed.
        let table_dir = dir.path().join("t");
        std::fs::create_dir_all(table_dir.join("part-00000.parquet").join("taken"))
            .map_err(|e| e.to_string())?;
        let mut sinks = agora_export::SinkSet::new(10);
        let spec = agora_export::TableSpec::new(
            "t",
            vec![agora_export::Column::required(
                "i",
                agora_export::ColumnType::U64,
            )],
        );
        let table = sinks.open(spec, table_dir).map_err(|e| e.to_string())?;
        sinks.row(table).map_err(|e| e.to_string())?.u64(1).end();
        let sealed = sinks.seal_in_background(1).map_err(|e| e.to_string())?;
        let writer = CheckpointWriter::start(dir.path().join("run")).map_err(|e| e.to_string())?;
        let save = writer.checkpointer();
        save(snapshot(0), sealed)?;
        let finished = writer.finish();
        assert!(
            finished.is_err_and(|e| e.contains("round 0 were not completed")),
            "finish reports the missing segment"
        );
        assert!(
            !dir.path().join("run").join(checkpoint_name(0)).exists(),
            "no checkpoint names a segment that is not on disk"
        );
        assert!(sinks.close().is_err());
        Ok(())
    }
}
