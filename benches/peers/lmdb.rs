//! LMDB through heed with its default flags (a commit syncs the data file before it
//! returns), the unnamed database, and a map size large enough for the full-scale run.
//!
//! Invariant: `close` waits until heed has really closed the environment, so the next
//! `open` of the same directory opens it afresh.

use std::ops::Bound;
use std::path::Path;

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, RoTxn, RwTxn, WithTls};

use crate::engine::{Engine, FilePart, Reader, Writer};

/// Address space reserved for the map; the file grows only as pages are written.
const MAP_SIZE: usize = 16 << 30;

/// The unnamed database, usable for as long as the environment is open.
type Table = Database<'static, Bytes, Bytes>;

/// An open LMDB environment.
pub struct Lmdb {
    env: Env,
    db: Table,
}

/// A read transaction.
pub struct LmdbReader<'a> {
    txn: RoTxn<'a, WithTls>,
    db: Table,
}

/// The write transaction.
pub struct LmdbWriter<'a> {
    txn: RwTxn<'a>,
    db: Table,
}

impl Engine for Lmdb {
    type Reader<'a> = LmdbReader<'a>;
    type Writer<'a> = LmdbWriter<'a>;

    fn open(dir: &Path) -> Self {
        let mut options = EnvOpenOptions::new();
        options.map_size(MAP_SIZE);
        // SAFETY: each directory is opened by one environment of this process at a time,
        // and no other process touches the benchmark's temporary directories.
        let env = unsafe { options.open(dir) }.expect("LMDB open");
        let txn = env.read_txn().expect("LMDB read_txn");
        let existing = env
            .open_databases_and_commit(txn, |opener, txn| {
                opener
                    .open_database::<Bytes, Bytes>(txn, None)
                    .map(CommitOrAbort::<_, ()>::Commit)
            })
            .expect("LMDB open_database")
            .unwrap_commit();
        let db = existing.unwrap_or_else(|| {
            let txn = env.write_txn().expect("LMDB write_txn");
            env.create_databases_and_commit(txn, |opener, txn| {
                opener
                    .create_database::<Bytes, Bytes>(txn, None)
                    .map(CommitOrAbort::<_, ()>::Commit)
            })
            .expect("LMDB create_database")
            .unwrap_commit()
        });
        Lmdb { env, db }
    }

    fn close(self) {
        self.env.prepare_for_closing().wait();
    }

    fn read<T>(&self, work: impl FnOnce(&mut Self::Reader<'_>) -> T) -> T {
        let txn = self.env.read_txn().expect("LMDB read_txn");
        work(&mut LmdbReader { txn, db: self.db })
    }

    fn write<T>(&self, work: impl FnOnce(&mut Self::Writer<'_>) -> T) -> T {
        let txn = self.env.write_txn().expect("LMDB write_txn");
        let mut writer = LmdbWriter { txn, db: self.db };
        let result = work(&mut writer);
        writer.txn.commit().expect("LMDB commit");
        result
    }

    fn snapshot_open_close(&self) {
        drop(self.env.read_txn().expect("LMDB read_txn"));
    }

    fn file_parts(&self) -> Vec<FilePart> {
        let path = self.env.path().join("data.mdb");
        let size = std::fs::metadata(&path).expect("LMDB file size").len();
        vec![("", size)]
    }
}

impl Reader for LmdbReader<'_> {
    fn get(&mut self, key: &[u8]) -> Option<usize> {
        let value = self.db.get(&self.txn, key).expect("LMDB get");
        value.map(<[u8]>::len)
    }

    fn scan(&mut self, from: &[u8], count: usize) -> (usize, usize) {
        let mut visited = (0, 0);
        // LMDB rejects an empty key even as a bound; every key is at or after it anyway.
        let start = match from {
            [] => Bound::Unbounded,
            from => Bound::Included(from),
        };
        let bounds = (start, Bound::Unbounded);
        let range = self.db.range(&self.txn, &bounds).expect("LMDB range");
        for entry in range.take(count) {
            let (key, value) = entry.expect("LMDB range entry");
            visited = (visited.0 + 1, visited.1 + key.len() + value.len());
        }
        visited
    }
}

impl Writer for LmdbWriter<'_> {
    fn put(&mut self, key: &[u8], value: &[u8]) {
        self.db.put(&mut self.txn, key, value).expect("LMDB put");
    }

    fn remove(&mut self, key: &[u8]) -> bool {
        self.db.delete(&mut self.txn, key).expect("LMDB delete")
    }
}
