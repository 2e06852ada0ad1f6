//! Helpers shared by the integration tests: opening databases, a seeded random number
//! generator, a reference model, and collecting ranges into plain vectors.
//!
//! Each test binary uses a different subset of these, so unused ones are allowed.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use northstar::{Cursor, Db, Keyspace, Options, Range, ReadTxn, WriteTxn};

/// Contents of one keyspace as the tests expect it to be.
pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Options every test uses: create, and run the validator after every commit.
pub fn verified() -> Options {
    Options::default().verify_every_commit(true)
}

/// A fresh temporary directory and a database opened in it with [`verified`] options.
pub fn temp_db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Db::open(dir.path(), verified()).expect("open new database");
    (dir, db)
}

/// The page file of the database in `dir`.
pub fn page_file(dir: &Path) -> PathBuf {
    dir.join("northstar.db")
}

/// Collects a range into owned pairs, panicking on the first error.
pub fn collect(range: Range<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
    range
        .map(|entry| entry.map(|(key, value)| (key.to_vec(), value.into_owned())))
        .collect::<Result<_, _>>()
        .expect("range")
}

/// Collects a range back to front.
pub fn collect_rev(range: Range<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
    collect_iter(range.rev())
}

/// Collects any iterator of entries.
pub fn collect_iter<'a>(
    entries: impl Iterator<Item = northstar::Result<(&'a [u8], northstar::Value<'a>)>>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    entries
        .map(|entry| entry.map(|(key, value)| (key.to_vec(), value.into_owned())))
        .collect::<Result<_, _>>()
        .expect("range")
}

/// Keys of a range, in the order the range yields them.
pub fn keys(range: Range<'_>) -> Vec<Vec<u8>> {
    collect(range).into_iter().map(|(key, _)| key).collect()
}

/// The model's entries within the bounds, in key order.
pub fn model_range(
    model: &Model,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let valid = match (start, end) {
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a), Bound::Excluded(b)) | (Bound::Excluded(a), Bound::Included(b)) => {
            a <= b
        }
        (Bound::Excluded(a), Bound::Excluded(b)) => a < b,
        _ => true,
    };
    if !valid {
        return Vec::new();
    }
    // `BTreeMap::range` panics on (Excluded(a), Excluded(a)); that range is empty anyway.
    if let (Bound::Excluded(a), Bound::Excluded(b)) = (start, end) {
        if a == b {
            return Vec::new();
        }
    }
    let owned = |bound: Bound<&[u8]>| bound.map(|key| key.to_vec());
    model
        .range::<Vec<u8>, _>((owned(start), owned(end)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The model's entries whose key starts with `prefix`.
pub fn model_prefix(model: &Model, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    model
        .range(prefix.to_vec()..)
        .take_while(|(key, _)| key.starts_with(prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// All of the model's entries.
pub fn model_entries(model: &Model) -> Vec<(Vec<u8>, Vec<u8>)> {
    model.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A small, fast, seeded generator (SplitMix64). Same seed, same sequence, on every
/// platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// An index in `0..len` (`len > 0`).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

/// The seed for a random test: `$NORTHSTAR_SEED` if set, else one from the clock. Printed
/// so a failing run can be repeated (`cargo test` shows it for failing tests).
pub fn seed(test: &str) -> u64 {
    let seed = match std::env::var("NORTHSTAR_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .expect("NORTHSTAR_SEED must be an unsigned integer"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    };
    println!("{test}: seed {seed} (repeat with NORTHSTAR_SEED={seed})");
    seed
}

/// A number from environment variable `name`, or `default`.
pub fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name).ok().map_or(default, |text| {
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number"))
    })
}

/// Reads the whole page file.
pub fn file_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(page_file(dir)).expect("read page file")
}

/// One read interface over everything that reads a tree (a read txn, the write txn, a
/// keyspace handle), so a check can be written once. Errors panic: these are tests.
pub trait Reads {
    /// The value under `key`, owned.
    fn fetch(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// Entries within the bounds.
    fn scan(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Range<'_>;
    /// Entries whose key starts with `prefix`.
    fn scan_prefix(&self, prefix: &[u8]) -> Range<'_>;
    /// An unpositioned cursor.
    fn open_cursor(&self) -> Cursor<'_>;
    /// Number of entries, as the tree's count says.
    fn count(&self) -> u64;
}

macro_rules! impl_reads {
    ($($reader:ty),*) => {$(
        impl Reads for $reader {
            fn fetch(&self, key: &[u8]) -> Option<Vec<u8>> {
                self.get(key).expect("get").map(|value| value.into_owned())
            }
            fn scan(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Range<'_> {
                self.range((start, end)).expect("range")
            }
            fn scan_prefix(&self, prefix: &[u8]) -> Range<'_> {
                self.prefix(prefix).expect("prefix")
            }
            fn open_cursor(&self) -> Cursor<'_> {
                self.cursor()
            }
            fn count(&self) -> u64 {
                self.len()
            }
        }
    )*};
}

impl_reads!(ReadTxn<'_>, WriteTxn<'_>, Keyspace<'_>);

/// Asserts that `reader` holds exactly `model`: count, every entry forwards and backwards,
/// first and last through a cursor.
pub fn assert_holds(reader: &impl Reads, model: &Model, context: &str) {
    assert_eq!(reader.count(), model.len() as u64, "{context}: entry count");
    let forward = collect(reader.scan(Bound::Unbounded, Bound::Unbounded));
    let expected = model_entries(model);
    if forward != expected {
        panic!(
            "{context}: contents differ: {}",
            describe_difference(&forward, &expected)
        );
    }
    let mut backward = collect_rev(reader.scan(Bound::Unbounded, Bound::Unbounded));
    backward.reverse();
    assert!(
        backward == expected,
        "{context}: reverse scan differs: {}",
        describe_difference(&backward, &expected)
    );
    let mut cursor = reader.open_cursor();
    assert_eq!(
        cursor.first().expect("first"),
        !model.is_empty(),
        "{context}: cursor first"
    );
    assert_eq!(
        cursor.key(),
        model.keys().next().map(Vec::as_slice),
        "{context}: first key"
    );
    assert_eq!(
        cursor.last().expect("last"),
        !model.is_empty(),
        "{context}: cursor last"
    );
    assert_eq!(
        cursor.key(),
        model.keys().next_back().map(Vec::as_slice),
        "{context}: last key"
    );
}

/// A short account of where two entry lists first differ (values can be 100 KiB long).
pub fn describe_difference(got: &[(Vec<u8>, Vec<u8>)], want: &[(Vec<u8>, Vec<u8>)]) -> String {
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let show = |entry: Option<&(Vec<u8>, Vec<u8>)>| {
        entry.map_or("nothing".to_string(), |(key, value)| {
            format!("key {} ({} bytes of value)", short(key), value.len())
        })
    };
    format!(
        "{} entries vs {} expected; first difference at {at}: got {}, want {}",
        got.len(),
        want.len(),
        show(got.get(at)),
        show(want.get(at))
    )
}

/// A key for messages: printable prefix and length.
pub fn short(key: &[u8]) -> String {
    let head: String = key
        .iter()
        .take(24)
        .flat_map(|byte| std::ascii::escape_default(*byte))
        .map(char::from)
        .collect();
    if key.len() > 24 {
        format!("\"{head}...\" ({} bytes)", key.len())
    } else {
        format!("\"{head}\"")
    }
}
