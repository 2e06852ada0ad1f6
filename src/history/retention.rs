//! Retained snapshots: roots kept so AS OF reads start close to the txn they ask for.
//!
//! A retained snapshot holds its pages like a reader: pages freed after it are not reused
//! while it is retained. Kinds: the most recent txns (`Options::retain_recent`), every
//! n-th txn (`Options::retain_every`, the newest `Options::retain_periodic` of them), and
//! snapshots pinned by the user. Retention lives for the life of the handle; after a
//! reopen AS OF reads replay from the start of the commit log until new roots are retained.

use std::collections::{BTreeMap, VecDeque};

use crate::format::meta::Meta;
use crate::{Options, TxnId};

/// The retained snapshots of one open database.
#[derive(Debug, Default)]
pub struct Retention {
    recent: VecDeque<Meta>,
    periodic: VecDeque<Meta>,
    pinned: BTreeMap<TxnId, (Meta, usize)>,
}

impl Retention {
    /// Records a newly visible txn under the policy in `options`.
    pub fn on_publish(&mut self, meta: &Meta, options: &Options) {
        if options.retain_recent > 0 {
            self.recent.push_back(*meta);
            while self.recent.len() > options.retain_recent {
                self.recent.pop_front();
            }
        }
        if options.retain_every > 0
            && options.retain_periodic > 0
            && meta.txn_id.is_multiple_of(options.retain_every)
        {
            self.periodic.push_back(*meta);
            while self.periodic.len() > options.retain_periodic {
                self.periodic.pop_front();
            }
        }
    }

    fn all(&self) -> impl Iterator<Item = &Meta> {
        self.recent
            .iter()
            .chain(&self.periodic)
            .chain(self.pinned.values().map(|(meta, _)| meta))
    }

    /// The newest retained snapshot at or before `txn_id`.
    pub fn at_or_before(&self, txn_id: TxnId) -> Option<Meta> {
        self.all()
            .filter(|meta| meta.txn_id <= txn_id)
            .max_by_key(|meta| meta.txn_id)
            .copied()
    }

    /// The oldest retained snapshot's txn id.
    pub fn oldest(&self) -> Option<TxnId> {
        self.all().map(|meta| meta.txn_id).min()
    }

    /// Pins `meta`; pins nest.
    pub fn pin(&mut self, meta: Meta) {
        self.pinned.entry(meta.txn_id).or_insert((meta, 0)).1 += 1;
    }

    /// Releases one pin of `txn_id`; returns whether there was one.
    pub fn unpin(&mut self, txn_id: TxnId) -> bool {
        match self.pinned.get_mut(&txn_id) {
            Some((_, count)) if *count > 1 => {
                *count -= 1;
                true
            }
            Some(_) => {
                self.pinned.remove(&txn_id);
                true
            }
            None => false,
        }
    }
}
