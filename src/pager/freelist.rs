//! Page allocation and the free-page list.
//!
//! Invariants:
//! - `reusable` holds pages no live snapshot can see: safe to overwrite now.
//! - `pending[t]` holds pages freed by txn `t`. They become reusable once no reader older
//!   than `t` is live *and* a checkpoint at or after `t` is durable: until then the
//!   checkpointed tree that recovery starts from may still reference them.
//! - `young[t]` holds pages freed by txn `t` that were written after the newest checkpoint
//!   begun (`young_floor`): no checkpoint that recovery could start from references them,
//!   so they become reusable as soon as no reader older than `t` is live. Small commits
//!   therefore reuse a handful of pages between checkpoints instead of growing the file.
//! - Within a write txn, a page allocated by the txn and freed again goes straight back to
//!   `reusable`: no snapshot ever saw it. Abort restores the state at the txn's start.
//! - The persisted list (written by a checkpoint) is `reusable` plus every pending page plus
//!   the previous chain's pages: after a reopen from that checkpoint there are no readers
//!   and nothing after the checkpoint, so all of them are free.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::format::freelist::IDS_PER_PAGE;
use crate::{PageId, TxnId};

/// First page id that can hold data (0 and 1 are the meta pages).
pub const FIRST_DATA_PAGE: PageId = 2;

/// Free pages, pending pages and the write txn's allocations.
#[derive(Debug, Default)]
pub struct FreeState {
    reusable: BTreeSet<PageId>,
    pending: BTreeMap<TxnId, Vec<PageId>>,
    young: BTreeMap<TxnId, Vec<PageId>>,
    pending_count: usize,
    young_floor: TxnId,
    txn_freed_young: Vec<PageId>,
    page_count: u64,
    freelist_pages: Vec<PageId>,
    previous_chain: Vec<PageId>,
    page_count_before_checkpoint: u64,
    checkpointed_txn_id: TxnId,
    txn_start_page_count: u64,
    txn_allocated: HashSet<PageId>,
    txn_from_reusable: Vec<PageId>,
    txn_freed: Vec<PageId>,
}

/// What a commit writes for the freelist: the chain's pages and the ids they list.
#[derive(Debug)]
pub struct FreelistPlan {
    /// Pages of the chain, in chain order.
    pub pages: Vec<PageId>,
    /// Free page ids, ascending.
    pub ids: Vec<PageId>,
}

impl FreeState {
    /// State after open from the checkpoint of txn `checkpointed_txn_id`: `free` ids from
    /// the persisted list, held in `freelist_pages`.
    pub fn loaded(
        page_count: u64,
        free: impl IntoIterator<Item = PageId>,
        freelist_pages: Vec<PageId>,
        checkpointed_txn_id: TxnId,
    ) -> Self {
        FreeState {
            reusable: free.into_iter().collect(),
            page_count,
            txn_start_page_count: page_count,
            freelist_pages,
            checkpointed_txn_id,
            young_floor: checkpointed_txn_id,
            ..FreeState::default()
        }
    }

    /// Pages below this id are allocated or free; the rest of the file is unused.
    pub fn page_count(&self) -> u64 {
        self.page_count
    }

    /// Pages free now plus pages waiting for readers to finish.
    pub fn free_count(&self) -> usize {
        self.reusable.len() + self.pending_count
    }

    /// Starts a write txn. `oldest_reader` is the oldest snapshot still being read (or
    /// retained). `reused` is told every page that becomes reusable now.
    pub fn begin_txn(&mut self, oldest_reader: Option<TxnId>, mut reused: impl FnMut(PageId)) {
        debug_assert!(self.txn_allocated.is_empty() && self.txn_freed.is_empty());
        let readers_allow = |freed_by: TxnId| oldest_reader.is_none_or(|oldest| oldest >= freed_by);
        while let Some(entry) = self.pending.first_entry() {
            let freed_by = *entry.key();
            if !readers_allow(freed_by) || freed_by > self.checkpointed_txn_id {
                break;
            }
            let pages = entry.remove();
            self.pending_count -= pages.len();
            pages.iter().for_each(|page_id| reused(*page_id));
            self.reusable.extend(pages);
        }
        while let Some(entry) = self.young.first_entry() {
            if !readers_allow(*entry.key()) {
                break;
            }
            let pages = entry.remove();
            self.pending_count -= pages.len();
            pages.iter().for_each(|page_id| reused(*page_id));
            self.reusable.extend(pages);
        }
        self.txn_start_page_count = self.page_count;
        self.txn_from_reusable.clear();
    }

    /// A checkpoint of txn `txn_id` begins: pages written up to it may be in the tree it
    /// makes durable, so freeing them waits for a checkpoint from now on.
    pub fn checkpoint_started(&mut self, txn_id: TxnId) {
        self.young_floor = self.young_floor.max(txn_id);
    }

    /// A page for the current txn to write.
    pub fn allocate(&mut self) -> PageId {
        let page_id = match self.reusable.pop_first() {
            Some(page_id) => {
                self.txn_from_reusable.push(page_id);
                page_id
            }
            None => {
                self.page_count += 1;
                self.page_count - 1
            }
        };
        self.txn_allocated.insert(page_id);
        page_id
    }

    /// `count` consecutive pages; returns the first.
    pub fn allocate_run(&mut self, count: u64) -> PageId {
        if count == 1 {
            return self.allocate();
        }
        let first = self.find_run(count).unwrap_or_else(|| {
            self.page_count += count;
            self.page_count - count
        });
        for page_id in first..first + count {
            if self.reusable.remove(&page_id) {
                self.txn_from_reusable.push(page_id);
            }
            self.txn_allocated.insert(page_id);
        }
        first
    }

    fn find_run(&self, count: u64) -> Option<PageId> {
        let (mut start, mut length) = (0, 0);
        for &page_id in &self.reusable {
            if length > 0 && page_id == start + length {
                length += 1;
            } else {
                (start, length) = (page_id, 1);
            }
            if length == count {
                return Some(start);
            }
        }
        None
    }

    /// Frees a page the current txn no longer references; `written_by` is the txn that
    /// wrote it.
    pub fn free(&mut self, page_id: PageId, written_by: TxnId) {
        debug_assert!(
            page_id >= FIRST_DATA_PAGE && page_id < self.page_count,
            "free of page {page_id}"
        );
        if self.txn_allocated.remove(&page_id) {
            let fresh = self.reusable.insert(page_id);
            debug_assert!(fresh, "double free of page {page_id}");
        } else if written_by > self.young_floor {
            self.txn_freed_young.push(page_id);
        } else {
            self.txn_freed.push(page_id);
        }
    }

    /// Whether the current txn freed a page that an earlier txn wrote (so a committed tree
    /// changed, even if the txn holds no new node: e.g. it emptied a one-leaf tree).
    pub fn txn_freed_committed_pages(&self) -> bool {
        !self.txn_freed.is_empty() || !self.txn_freed_young.is_empty()
    }

    /// Pages the current txn freed that earlier txns wrote.
    pub fn txn_freed_pages(&self) -> impl Iterator<Item = PageId> + '_ {
        self.txn_freed.iter().chain(&self.txn_freed_young).copied()
    }

    /// Whether the current txn allocated `page_id` (and may write it in place).
    pub fn is_txn_page(&self, page_id: PageId) -> bool {
        self.txn_allocated.contains(&page_id)
    }

    /// Undoes every allocation and free of the current txn.
    pub fn abort_txn(&mut self) {
        self.reusable.extend(self.txn_from_reusable.drain(..));
        // Pages at or past the old high-water mark did not exist before the txn, even if
        // the txn freed one and took it again from `reusable`.
        let _beyond = self.reusable.split_off(&self.txn_start_page_count);
        self.page_count = self.txn_start_page_count;
        self.txn_allocated.clear();
        self.txn_freed.clear();
        self.txn_freed_young.clear();
    }

    fn allocate_outside_txn(&mut self) -> PageId {
        self.reusable.pop_first().unwrap_or_else(|| {
            self.page_count += 1;
            self.page_count - 1
        })
    }

    /// Plans the freelist chain of a checkpoint (between txns): the current chain is
    /// listed as free, new chain pages are taken, and every free or pending id is listed.
    /// Call [`FreeState::finish_checkpoint`] once the checkpoint's meta is durable, or
    /// [`FreeState::abort_checkpoint`] if it failed.
    pub fn plan_checkpoint(&mut self) -> FreelistPlan {
        debug_assert!(self.txn_allocated.is_empty() && self.txn_freed.is_empty());
        self.previous_chain = std::mem::take(&mut self.freelist_pages);
        self.page_count_before_checkpoint = self.page_count;
        let mut pages = Vec::new();
        loop {
            let entries = self.reusable.len() + self.pending_count + self.previous_chain.len();
            if pages.len() >= entries.div_ceil(IDS_PER_PAGE) {
                break;
            }
            pages.push(self.allocate_outside_txn());
        }
        let mut ids: Vec<PageId> = self.reusable.iter().copied().collect();
        ids.extend(self.pending.values().flatten().copied());
        ids.extend(self.young.values().flatten().copied());
        ids.extend(self.previous_chain.iter().copied());
        ids.sort_unstable();
        self.freelist_pages = pages.clone();
        self.txn_start_page_count = self.page_count;
        FreelistPlan { pages, ids }
    }

    /// The checkpoint of txn `txn_id` is durable: the previous chain's pages are free, and
    /// pages freed up to `txn_id` may be reused once readers allow.
    pub fn finish_checkpoint(&mut self, txn_id: TxnId) {
        let previous = std::mem::take(&mut self.previous_chain);
        self.reusable.extend(previous);
        self.checkpointed_txn_id = txn_id;
    }

    /// The checkpoint failed before its meta was written: the previous chain stays, and
    /// chain pages taken past the high-water mark are given back with it (the newest meta
    /// still names the old page count).
    pub fn abort_checkpoint(&mut self) {
        let planned = std::mem::replace(
            &mut self.freelist_pages,
            std::mem::take(&mut self.previous_chain),
        );
        let before = self.page_count_before_checkpoint;
        self.reusable
            .extend(planned.into_iter().filter(|page_id| *page_id < before));
        self.page_count = before;
        self.txn_start_page_count = before;
    }

    /// Txn id of the newest durable checkpoint.
    pub fn checkpointed_txn_id(&self) -> TxnId {
        self.checkpointed_txn_id
    }

    /// Ends the current txn as committed `txn_id`: its freed pages become pending.
    pub fn commit_txn(&mut self, txn_id: TxnId) {
        let freed = std::mem::take(&mut self.txn_freed);
        if !freed.is_empty() {
            self.pending_count += freed.len();
            self.pending.entry(txn_id).or_default().extend(freed);
        }
        let freed = std::mem::take(&mut self.txn_freed_young);
        if !freed.is_empty() {
            self.pending_count += freed.len();
            self.young.entry(txn_id).or_default().extend(freed);
        }
        self.txn_allocated.clear();
        self.txn_from_reusable.clear();
        self.txn_start_page_count = self.page_count;
    }

    /// Every page id currently free or pending, ascending, with the current chain's pages
    /// (for the validator).
    pub fn all_free(&self) -> Vec<PageId> {
        let mut ids: Vec<PageId> = self.reusable.iter().copied().collect();
        ids.extend(self.pending.values().flatten().copied());
        ids.extend(self.young.values().flatten().copied());
        ids.sort_unstable();
        ids
    }

    /// Pages of the persisted freelist chain.
    pub fn freelist_pages(&self) -> &[PageId] {
        &self.freelist_pages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_freed_by_a_txn_wait_for_older_readers() {
        let mut free = FreeState::loaded(10, [4, 5], vec![], 0);
        free.begin_txn(None, |_| {});
        assert_eq!(free.allocate(), 4);
        free.free(7, 0);
        free.commit_txn(3);
        free.begin_txn(None, |_| {});
        assert_eq!(free.allocate(), 5);
        assert_eq!(
            free.allocate(),
            10,
            "page 7 waits for a checkpoint at or after txn 3"
        );
        free.abort_txn();
        assert_eq!(
            free.plan_checkpoint().pages,
            vec![5],
            "the chain takes the free page"
        );
        free.finish_checkpoint(3);
        free.begin_txn(Some(2), |_| {});
        assert_eq!(
            free.allocate(),
            10,
            "page 7 is still visible to the reader at txn 2"
        );
        free.abort_txn();
        free.begin_txn(Some(3), |_| {});
        assert_eq!(free.allocate(), 7);
    }

    #[test]
    fn pages_written_after_the_newest_checkpoint_are_reused_once_readers_allow() {
        let mut free = FreeState::loaded(10, [], vec![], 5);
        free.begin_txn(None, |_| {});
        let page = free.allocate();
        free.commit_txn(6);
        free.begin_txn(None, |_| {});
        free.free(page, 6);
        free.commit_txn(7);
        let mut reused = Vec::new();
        free.begin_txn(Some(6), |page_id| reused.push(page_id));
        assert!(reused.is_empty(), "the reader at txn 6 still sees the page");
        free.abort_txn();
        free.begin_txn(Some(7), |page_id| reused.push(page_id));
        assert_eq!(
            reused,
            [page],
            "no checkpoint references it: reusable at once"
        );
        assert_eq!(free.allocate(), page);
        free.abort_txn();
        // Once a checkpoint of txn 8 begins, pages written up to it wait for a checkpoint.
        free.begin_txn(None, |_| {});
        let page = free.allocate();
        free.commit_txn(8);
        free.checkpoint_started(8);
        free.begin_txn(None, |_| {});
        free.free(page, 8);
        free.commit_txn(9);
        let mut reused = Vec::new();
        free.begin_txn(None, |page_id| reused.push(page_id));
        assert!(
            reused.is_empty(),
            "the checkpoint of txn 8 may reference it"
        );
        free.abort_txn();
        let _ = free.plan_checkpoint();
        free.finish_checkpoint(9);
        free.begin_txn(None, |page_id| reused.push(page_id));
        assert_eq!(reused, [page]);
    }

    #[test]
    fn failed_checkpoint_gives_back_chain_pages_past_the_high_water_mark() {
        let mut free = FreeState::loaded(10, [], vec![], 0);
        free.begin_txn(None, |_| {});
        free.free(4, 0);
        free.commit_txn(1);
        let plan = free.plan_checkpoint();
        assert_eq!(
            plan.pages,
            vec![10],
            "no free page yet: the chain grows the file"
        );
        free.abort_checkpoint();
        assert_eq!(free.page_count(), 10);
        assert_eq!(free.all_free(), vec![4]);
        assert_eq!(free.plan_checkpoint().pages, vec![10]);
        free.finish_checkpoint(1);
        assert_eq!(free.page_count(), 11);
    }

    #[test]
    fn abort_returns_every_allocation() {
        let mut free = FreeState::loaded(10, [3, 4, 5, 8], vec![], 0);
        free.begin_txn(None, |_| {});
        let run = free.allocate_run(3);
        assert_eq!(run, 3);
        let fresh = free.allocate_run(2);
        assert_eq!(fresh, 10);
        free.free(fresh, 0);
        free.free(9, 0);
        free.abort_txn();
        assert_eq!(free.page_count(), 10);
        assert_eq!(free.all_free(), vec![3, 4, 5, 8]);
    }
}
