//! Checkpoints, and the background thread that runs them while commits go on.
//!
//! A checkpoint of txn `T` has three steps:
//! 1. capture, holding the writer slot: `T` is the newest txn; the freelist chain is planned
//!    (its pages taken), the file grown for it, and the dirty frames of `T`'s tree taken;
//! 2. write, without the slot: wait until `T`'s record is durable, write the frames (page
//!    order, coalesced) and the freelist, sync the page file, write the meta for `T` into
//!    the slot not holding the newest one, sync;
//! 3. finish: retire the written frames (readers read them from the file from now on),
//!    then, holding the slot again, make `T` the newest checkpoint.
//!
//! Invariants:
//! - One checkpoint at a time (`running`); commits run during step 2.
//! - Nothing step 2 writes can be reused by a commit meanwhile: the frames belong to `T`'s
//!   tree (a page freed after `T` waits for a checkpoint after its freeing txn), and the
//!   chain pages were taken in step 1.
//! - A failed write or sync in step 2 is never retried: when commits went on meanwhile the
//!   handle is poisoned; otherwise the capture is undone and the database works on from
//!   the previous checkpoint (a failed sync poisons in either case).

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::db::Shared;
use crate::format::frame::LOG_HEADER_SIZE;
use crate::format::meta::Meta;
use crate::pager::{write_freelist, Frame, FreelistPlan, WriterState};
use crate::{PageId, Result, PAGE_SIZE};

/// The background thread checks the interval at least this far apart.
const WAKE_INTERVAL_MIN: Duration = Duration::from_millis(10);

/// What the checkpoints of a handle did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// Whether a checkpoint is running now.
    pub in_progress: bool,
    /// Checkpoints completed.
    pub count: u64,
    /// Checkpoints that failed.
    pub failed: u64,
    /// Txn of the newest completed checkpoint.
    pub last_txn_id: u64,
    /// How long the newest one took, capture to finish.
    pub last_duration: Duration,
    /// Pages it wrote (frames and freelist).
    pub last_pages_written: u64,
    /// Pages written by every checkpoint so far.
    pub pages_written: u64,
}

/// Wakes the background thread and tells it to stop.
#[derive(Default)]
pub(crate) struct Signal {
    state: Mutex<SignalState>,
    wake: Condvar,
    /// Held for the whole of each checkpoint.
    pub(crate) running: Mutex<()>,
    pub(crate) stats: Mutex<CheckpointStats>,
}

#[derive(Default)]
struct SignalState {
    due: bool,
    stop: bool,
}

impl Signal {
    /// Asks the background thread to check whether a checkpoint is due.
    pub(crate) fn nudge(&self) {
        self.state.lock().due = true;
        self.wake.notify_one();
    }

    /// Tells the background thread to end.
    pub(crate) fn stop(&self) {
        self.state.lock().stop = true;
        self.wake.notify_one();
    }
}

struct Captured {
    head: Meta,
    plan: FreelistPlan,
    frames: Vec<(PageId, std::sync::Arc<Frame>)>,
    page_count: u64,
    target_slot: PageId,
    commits: u64,
    started: Instant,
}

impl Shared {
    /// Checkpoints the newest txn: after it returns, the page file and its meta hold it.
    /// Waits for a checkpoint under way. Errors: [`Error::Poisoned`]; I/O errors.
    pub(crate) fn checkpoint(&self) -> Result<()> {
        let _one = self.checkpoints.running.lock();
        let Some(captured) = self.capture(&mut self.writer.lock())? else {
            return Ok(());
        };
        let written = self.write_captured(&captured);
        if written.is_ok() {
            // The pages are in the file: readers may read them there. Done before taking
            // the slot, so commits do not wait while thousands of frames leave the cache.
            self.pager.retire(&captured.frames);
        }
        self.finish(&mut self.writer.lock(), captured, written)
    }

    /// Checkpoints the newest txn while the caller holds the writer slot (no commit runs
    /// meanwhile), unless another checkpoint is under way: for checkpoints due by policy
    /// when no background thread runs them.
    pub(crate) fn checkpoint_holding_slot(&self, slot: &mut WriterState) -> Result<()> {
        let Some(_one) = self.checkpoints.running.try_lock() else {
            return Ok(());
        };
        let Some(captured) = self.capture(slot)? else {
            return Ok(());
        };
        let written = self.write_captured(&captured);
        if written.is_ok() {
            self.pager.retire(&captured.frames);
        }
        self.finish(slot, captured, written)
    }

    /// Whether the policy in `Options::checkpoint_every` calls for a checkpoint.
    pub(crate) fn checkpoint_due(&self, slot: &WriterState) -> bool {
        let log_bytes = slot
            .head
            .log_position
            .saturating_sub(slot.checkpoint.log_position);
        // Pages still waiting in the cache, not every page copied: most are written and
        // freed again between two checkpoints and never reach the disk.
        let written = log_bytes + self.pager.dirty_count() * PAGE_SIZE as u64;
        slot.head.txn_id != slot.checkpoint.txn_id
            && (slot.commits_since_checkpoint >= self.options.checkpoint_commits
                || written >= self.options.checkpoint_bytes
                || slot.checkpoint_time.elapsed() >= self.options.checkpoint_interval)
    }

    fn capture(&self, slot: &mut WriterState) -> Result<Option<Captured>> {
        self.check_poisoned()?;
        if slot.head.txn_id == slot.checkpoint.txn_id {
            return Ok(None);
        }
        let started = Instant::now();
        self.checkpoints.stats.lock().in_progress = true;
        let head = slot.head;
        slot.free.checkpoint_started(head.txn_id);
        let plan = slot.free.plan_checkpoint();
        if let Err(error) = self.pager.grow(slot.free.page_count()) {
            slot.free.abort_checkpoint();
            let mut stats = self.checkpoints.stats.lock();
            stats.in_progress = false;
            stats.failed += 1;
            return Err(error);
        }
        Ok(Some(Captured {
            head,
            plan,
            frames: self.pager.dirty_frames(),
            page_count: slot.free.page_count(),
            target_slot: 1 - slot.checkpoint_slot,
            commits: slot.commits_since_checkpoint,
            started,
        }))
    }

    fn write_captured(&self, captured: &Captured) -> Result<Meta> {
        let head = &captured.head;
        // The page file may claim only what the log holds durably.
        self.log
            .wait_durable(head.log_position.max(LOG_HEADER_SIZE as u64))?;
        self.publish(*head);
        self.pager.write_frames(&captured.frames)?;
        let plan = &captured.plan;
        let freelist_head = write_freelist(&self.pager, head.txn_id, &plan.pages, &plan.ids)?;
        self.pager.sync()?;
        let meta = Meta {
            page_count: captured.page_count,
            freelist_head,
            free_count: plan.ids.len() as u64,
            ..*head
        };
        self.pager.write_meta(&meta, captured.target_slot)?;
        Ok(meta)
    }

    fn finish(
        &self,
        slot: &mut WriterState,
        captured: Captured,
        written: Result<Meta>,
    ) -> Result<()> {
        let meta = match written {
            Ok(meta) => meta,
            Err(error) => {
                let mut stats = self.checkpoints.stats.lock();
                stats.in_progress = false;
                stats.failed += 1;
                if slot.head.txn_id == captured.head.txn_id {
                    slot.free.abort_checkpoint();
                } else {
                    // Commits allocated pages meanwhile: the capture cannot be undone.
                    self.pager.poison(&error);
                }
                return Err(error);
            }
        };
        slot.free.finish_checkpoint(meta.txn_id);
        if slot.head.txn_id == meta.txn_id {
            slot.head = meta;
        }
        slot.checkpoint = meta;
        slot.checkpoint_slot = captured.target_slot;
        slot.commits_since_checkpoint -= captured.commits.min(slot.commits_since_checkpoint);
        slot.checkpoint_time = Instant::now();
        let pages = (captured.frames.len() + captured.plan.pages.len()) as u64;
        let mut stats = self.checkpoints.stats.lock();
        stats.in_progress = false;
        stats.count += 1;
        stats.last_txn_id = meta.txn_id;
        stats.last_duration = captured.started.elapsed();
        stats.last_pages_written = pages;
        stats.pages_written += pages;
        Ok(())
    }

    /// The background thread's loop: runs a checkpoint whenever one is due, until stopped.
    /// Errors are kept in the handle (a poisoned one refuses writes) and counted.
    pub(crate) fn run_checkpointer(&self) {
        loop {
            {
                let mut state = self.checkpoints.state.lock();
                if !state.due && !state.stop {
                    // Wake for the interval, but never spin on a tiny one.
                    let interval = self
                        .options
                        .checkpoint_interval
                        .clamp(WAKE_INTERVAL_MIN, Duration::from_secs(3_600));
                    self.checkpoints.wake.wait_for(&mut state, interval);
                }
                if state.stop {
                    return;
                }
                state.due = false;
            }
            let due = self.checkpoint_due(&self.writer.lock());
            if due && self.checkpoint().is_err() && self.check_poisoned().is_err() {
                return;
            }
        }
    }
}
