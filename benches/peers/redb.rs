//! redb with `Durability::Immediate` (its default, set explicitly) and its default cache,
//! one table of byte-string keys and values in one file.

use std::path::{Path, PathBuf};

use redb::{Database, Durability, ReadOnlyTable, ReadableDatabase, Table, TableDefinition};

use crate::engine::{Engine, FilePart, Reader, Writer};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

/// An open redb database.
pub struct Redb {
    db: Database,
    path: PathBuf,
}

/// A read transaction's view of the table.
pub struct RedbReader {
    table: ReadOnlyTable<&'static [u8], &'static [u8]>,
}

/// The write transaction's table.
pub struct RedbWriter<'a> {
    table: Table<'a, &'static [u8], &'static [u8]>,
}

impl Redb {
    fn begin_write(&self) -> redb::WriteTransaction {
        let mut txn = self.db.begin_write().expect("redb begin_write");
        txn.set_durability(Durability::Immediate)
            .expect("redb set_durability");
        txn
    }
}

impl Engine for Redb {
    type Reader<'a> = RedbReader;
    type Writer<'a> = RedbWriter<'a>;

    fn open(dir: &Path) -> Self {
        let path = dir.join("db.redb");
        let created = !path.exists();
        let db = Database::create(&path).expect("redb open");
        let redb = Redb { db, path };
        if created {
            // Reads need the table to exist.
            let txn = redb.begin_write();
            txn.open_table(TABLE).expect("redb create table");
            txn.commit().expect("redb commit");
        }
        redb
    }

    fn close(self) {
        drop(self.db);
    }

    fn read<T>(&self, work: impl FnOnce(&mut Self::Reader<'_>) -> T) -> T {
        let txn = self.db.begin_read().expect("redb begin_read");
        let table = txn.open_table(TABLE).expect("redb open_table");
        work(&mut RedbReader { table })
    }

    fn write<T>(&self, work: impl FnOnce(&mut Self::Writer<'_>) -> T) -> T {
        let txn = self.begin_write();
        let result = {
            let table = txn.open_table(TABLE).expect("redb open_table");
            work(&mut RedbWriter { table })
        };
        txn.commit().expect("redb commit");
        result
    }

    fn snapshot_open_close(&self) {
        drop(self.db.begin_read().expect("redb begin_read"));
    }

    fn file_parts(&self) -> Vec<FilePart> {
        let size = std::fs::metadata(&self.path).expect("redb file size").len();
        vec![("", size)]
    }
}

impl Reader for RedbReader {
    fn get(&mut self, key: &[u8]) -> Option<usize> {
        let value = self.table.get(key).expect("redb get");
        value.map(|value| value.value().len())
    }

    fn scan(&mut self, from: &[u8], count: usize) -> (usize, usize) {
        let mut visited = (0, 0);
        for entry in self.table.range(from..).expect("redb range").take(count) {
            let (key, value) = entry.expect("redb range entry");
            visited = (
                visited.0 + 1,
                visited.1 + key.value().len() + value.value().len(),
            );
        }
        visited
    }
}

impl Writer for RedbWriter<'_> {
    fn put(&mut self, key: &[u8], value: &[u8]) {
        self.table.insert(key, value).expect("redb insert");
    }

    fn remove(&mut self, key: &[u8]) -> bool {
        self.table.remove(key).expect("redb remove").is_some()
    }
}
