//! NorthstarDB with `Options::default()`: durable commits (the commit log is synced before
//! `commit` returns, shared by commits that wait together), the default keyspace. The
//! direct-I/O column is the same with `IoMode::Direct` and a 1 GiB cache of clean pages
//! (buffered where the file system refuses `O_DIRECT`).
//!
//! Invariant: `file_parts` checkpoints first, so the page file holds every commit and the
//! figure is the settled size; the log is reported as a second part.

use std::path::{Path, PathBuf};

use northstar::{Db, IoMode, Options, ReadTxn, WriteTxn};

use crate::engine::{Engine, FilePart, Reader, Writer};

/// An open NorthstarDB database; `DIRECT` picks direct I/O for the page file.
pub struct Northstar<const DIRECT: bool = false> {
    db: Db,
}

/// NorthstarDB with direct I/O.
pub type NorthstarDirect = Northstar<true>;

/// A read snapshot.
pub struct NorthstarReader<'a> {
    txn: ReadTxn<'a>,
}

/// The write txn.
pub struct NorthstarWriter<'a> {
    txn: WriteTxn<'a>,
}

fn database_path(dir: &Path) -> PathBuf {
    dir.join("northstar")
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("size of {}: {error}", path.display()))
        .len()
}

impl<const DIRECT: bool> Engine for Northstar<DIRECT> {
    type Reader<'a> = NorthstarReader<'a>;
    type Writer<'a> = NorthstarWriter<'a>;

    fn open(dir: &Path) -> Self {
        let options = if DIRECT {
            Options::default()
                .io_mode(IoMode::Direct)
                .direct_io_fallback(true)
                .cache_size(1 << 30)
        } else {
            Options::default()
        };
        let db = Db::open(database_path(dir), options).expect("NorthstarDB open");
        Northstar { db }
    }

    fn close(self) {
        self.db.close().expect("NorthstarDB close");
    }

    fn read<T>(&self, work: impl FnOnce(&mut Self::Reader<'_>) -> T) -> T {
        let txn = self.db.begin_read().expect("NorthstarDB begin_read");
        work(&mut NorthstarReader { txn })
    }

    fn write<T>(&self, work: impl FnOnce(&mut Self::Writer<'_>) -> T) -> T {
        let txn = self.db.begin_write().expect("NorthstarDB begin_write");
        let mut writer = NorthstarWriter { txn };
        let result = work(&mut writer);
        writer.txn.commit().expect("NorthstarDB commit");
        result
    }

    fn snapshot_open_close(&self) {
        drop(self.db.begin_read().expect("NorthstarDB begin_read"));
    }

    fn file_parts(&self) -> Vec<FilePart> {
        self.db.checkpoint().expect("NorthstarDB checkpoint");
        vec![
            ("", file_size(self.db.page_file_path())),
            ("log", file_size(self.db.log_path())),
        ]
    }
}

impl Reader for NorthstarReader<'_> {
    fn get(&mut self, key: &[u8]) -> Option<usize> {
        let value = self.txn.get(key).expect("NorthstarDB get");
        value.map(|value| value.len())
    }

    fn scan(&mut self, from: &[u8], count: usize) -> (usize, usize) {
        let mut visited = (0, 0);
        for entry in self
            .txn
            .range(from..)
            .expect("NorthstarDB range")
            .take(count)
        {
            let (key, value) = entry.expect("NorthstarDB range entry");
            visited = (visited.0 + 1, visited.1 + key.len() + value.len());
        }
        visited
    }
}

impl Writer for NorthstarWriter<'_> {
    fn put(&mut self, key: &[u8], value: &[u8]) {
        self.txn.put(key, value).expect("NorthstarDB put");
    }

    fn remove(&mut self, key: &[u8]) -> bool {
        self.txn.delete(key).expect("NorthstarDB delete")
    }
}
