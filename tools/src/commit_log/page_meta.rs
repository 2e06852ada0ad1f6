//! The checkpoint a page file records, read straight from its two meta pages without
//! opening the engine (no lock taken, nothing written), so a commit log can be checked
//! against the page file beside it.
//!
//! Invariant: a meta page is used only once its page checksum, page id and body check
//! out; of two valid metas the one with the higher txn id wins, as at open.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use northstar::format::meta::Meta;
use northstar::format::page::{self, PageKind};
use northstar::{PageId, PAGE_SIZE};

/// The newest valid meta of the page file at `path`; `None` when the file cannot be read
/// or neither meta page is valid.
pub fn newest_meta(path: &Path) -> Option<Meta> {
    let file = File::open(path).ok()?;
    (0..2)
        .filter_map(|slot| read_slot(&file, slot))
        .max_by_key(|meta| meta.txn_id)
}

fn read_slot(file: &File, slot: PageId) -> Option<Meta> {
    let mut bytes = vec![0u8; PAGE_SIZE];
    file.read_exact_at(&mut bytes, slot * PAGE_SIZE as u64)
        .ok()?;
    let header = page::verify(&bytes, slot).ok()?;
    if header.kind != PageKind::Meta as u8 {
        return None;
    }
    Meta::decode_body(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_meta_of_a_database_names_its_last_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let db = northstar::Db::open(dir.path(), northstar::Options::default()).unwrap();
        let mut txn = db.begin_write().unwrap();
        txn.put("k", "v").unwrap();
        txn.commit().unwrap();
        db.checkpoint().unwrap();
        let database_id = db.database_id();
        drop(db);
        let meta = newest_meta(&dir.path().join("northstar.db")).unwrap();
        assert_eq!(meta.txn_id, 1);
        assert_eq!(meta.database_id, database_id);
        assert!(newest_meta(&dir.path().join("missing")).is_none());
    }
}
