//! SQLite through rusqlite (bundled build): WAL journal, `synchronous=FULL`, one table
//! `kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID`, other settings at their defaults.
//!
//! Invariants:
//! - A connection is used by one thread at a time: each `read`/`write` takes an idle one
//!   from the pool (opening a new one when none is idle) and gives it back afterwards, so
//!   concurrent readers and writers each have their own, as SQLite expects.
//! - Writes begin with `BEGIN IMMEDIATE`, so waiting writers queue on the busy timeout
//!   instead of failing to upgrade a read lock.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{CachedStatement, Connection, OptionalExtension};

use crate::engine::{Engine, FilePart, Reader, Writer};

/// How long a connection waits for the write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(600);

/// An open SQLite database and its idle connections.
pub struct Sqlite {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// Prepared reads inside one read transaction.
pub struct SqliteReader<'a> {
    get: CachedStatement<'a>,
    scan: CachedStatement<'a>,
}

/// Prepared writes inside the write transaction.
pub struct SqliteWriter<'a> {
    insert: CachedStatement<'a>,
    delete: CachedStatement<'a>,
}

fn connect(path: &Path) -> Connection {
    let connection = Connection::open(path).expect("SQLite open");
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .expect("SQLite busy_timeout");
    let mode: String = connection
        .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
        .expect("SQLite journal_mode");
    assert_eq!(mode, "wal", "SQLite refused WAL mode");
    connection
        .pragma_update(None, "synchronous", "FULL")
        .expect("SQLite synchronous");
    connection
}

impl Sqlite {
    fn with_connection<T>(&self, work: impl FnOnce(&Connection) -> T) -> T {
        let idle = self.idle.lock().expect("SQLite pool").pop();
        let connection = idle.unwrap_or_else(|| connect(&self.path));
        let result = work(&connection);
        self.idle.lock().expect("SQLite pool").push(connection);
        result
    }
}

fn run(connection: &Connection, sql: &str) {
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| statement.execute([]))
        .unwrap_or_else(|error| panic!("SQLite {sql}: {error}"));
}

fn prepare<'a>(connection: &'a Connection, sql: &str) -> CachedStatement<'a> {
    connection
        .prepare_cached(sql)
        .unwrap_or_else(|error| panic!("SQLite prepare {sql}: {error}"))
}

impl Engine for Sqlite {
    type Reader<'a> = SqliteReader<'a>;
    type Writer<'a> = SqliteWriter<'a>;

    fn open(dir: &Path) -> Self {
        let path = dir.join("db.sqlite");
        let connection = connect(&path);
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID",
            )
            .expect("SQLite create table");
        Sqlite {
            path,
            idle: Mutex::new(vec![connection]),
        }
    }

    fn close(self) {
        // The last connection to close checkpoints the WAL into the database.
        drop(self.idle.into_inner().expect("SQLite pool"));
    }

    fn read<T>(&self, work: impl FnOnce(&mut Self::Reader<'_>) -> T) -> T {
        self.with_connection(|connection| {
            run(connection, "BEGIN");
            let result = work(&mut SqliteReader {
                get: prepare(connection, "SELECT v FROM kv WHERE k = ?1"),
                scan: prepare(
                    connection,
                    "SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2",
                ),
            });
            run(connection, "COMMIT");
            result
        })
    }

    fn write<T>(&self, work: impl FnOnce(&mut Self::Writer<'_>) -> T) -> T {
        self.with_connection(|connection| {
            run(connection, "BEGIN IMMEDIATE");
            let result = work(&mut SqliteWriter {
                insert: prepare(
                    connection,
                    "INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)",
                ),
                delete: prepare(connection, "DELETE FROM kv WHERE k = ?1"),
            });
            run(connection, "COMMIT");
            result
        })
    }

    fn snapshot_open_close(&self) {
        self.with_connection(|connection| {
            run(connection, "BEGIN");
            // A WAL read snapshot starts at the first read; reading the schema cookie takes
            // it without touching the table.
            let version: i64 = prepare(connection, "PRAGMA schema_version")
                .query_row([], |row| row.get(0))
                .expect("SQLite schema_version");
            std::hint::black_box(version);
            run(connection, "COMMIT");
        });
    }

    fn file_parts(&self) -> Vec<FilePart> {
        let size = |path: &Path| std::fs::metadata(path).map_or(0, |metadata| metadata.len());
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        vec![("", size(&self.path)), ("wal", size(Path::new(&wal)))]
    }
}

impl Reader for SqliteReader<'_> {
    fn get(&mut self, key: &[u8]) -> Option<usize> {
        self.get
            .query_row([key], |row| Ok(row.get_ref(0)?.as_blob()?.len()))
            .optional()
            .expect("SQLite get")
    }

    fn scan(&mut self, from: &[u8], count: usize) -> (usize, usize) {
        let mut rows = self
            .scan
            .query(rusqlite::params![from, count as i64])
            .expect("SQLite scan");
        let mut visited = (0, 0);
        while let Some(row) = rows.next().expect("SQLite scan row") {
            let key = row.get_ref(0).and_then(|key| Ok(key.as_blob()?.len()));
            let value = row.get_ref(1).and_then(|value| Ok(value.as_blob()?.len()));
            let bytes = key.expect("SQLite key") + value.expect("SQLite value");
            visited = (visited.0 + 1, visited.1 + bytes);
        }
        visited
    }
}

impl Writer for SqliteWriter<'_> {
    fn put(&mut self, key: &[u8], value: &[u8]) {
        self.insert
            .execute(rusqlite::params![key, value])
            .expect("SQLite insert");
    }

    fn remove(&mut self, key: &[u8]) -> bool {
        self.delete.execute([key]).expect("SQLite delete") == 1
    }
}
