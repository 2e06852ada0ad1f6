//! Helpers shared by the integration tests: opening databases, a seeded random number
//! generator, a reference model, and collecting ranges into plain vectors.
//!
//! Each test binary uses a different subset of these, so unused ones are allowed.
#![allow(dead_code)]

pub mod child;
pub mod mount;
pub mod sim;

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

/// Every keyspace of a database: `""` is the default keyspace, the other keys are the
/// named keyspaces (the shape of `northstar::Replayed::to_maps`).
pub type State = BTreeMap<String, Model>;

/// The state of a new database: an empty default keyspace and no named ones.
pub fn empty_state() -> State {
    State::from([(String::new(), Model::new())])
}

/// The newest committed state of `db`, read through a read txn.
pub fn read_state(db: &Db) -> State {
    let read = db.begin_read().expect("begin_read");
    let mut state = State::new();
    state.insert(
        String::new(),
        collect(read.iter().expect("iter")).into_iter().collect(),
    );
    for name in read.keyspaces().expect("keyspaces") {
        let keyspace = read.keyspace(&name).expect("listed keyspace");
        let entries = collect(keyspace.iter().expect("iter"))
            .into_iter()
            .collect();
        state.insert(name, entries);
    }
    state
}

/// A short account of where two states first differ.
pub fn describe_state_difference(got: &State, want: &State) -> String {
    let got_names: Vec<&String> = got.keys().collect();
    let want_names: Vec<&String> = want.keys().collect();
    if got_names != want_names {
        return format!("keyspaces {got_names:?}, expected {want_names:?}");
    }
    for (name, model) in want {
        if got[name] != *model {
            return format!(
                "keyspace {name:?}: {}",
                describe_difference(&model_entries(&got[name]), &model_entries(model))
            );
        }
    }
    "no difference".into()
}

/// Asserts that `got` equals `want`, naming the first difference.
pub fn assert_state(got: &State, want: &State, context: &str) {
    if got != want {
        panic!("{context}: {}", describe_state_difference(got, want));
    }
}

/// The commit log of the database in `dir`.
pub fn log_file(dir: &Path) -> PathBuf {
    dir.join("northstar.log")
}

/// Every entry of the default keyspace that `read` sees.
pub fn snapshot_entries(read: &ReadTxn<'_>) -> Model {
    read.iter()
        .unwrap()
        .map(|entry| {
            let (key, value) = entry.unwrap();
            (key.to_vec(), value.to_vec())
        })
        .collect()
}

/// One random change in `txn`, mirrored in `model`: a delete of a key below `key_space`
/// one time in `delete_one_in`, else a put of 1 to `value_len_max` bytes.
pub fn random_put_or_delete(
    txn: &mut WriteTxn<'_>,
    model: &mut Model,
    rng: &mut Rng,
    key_space: u64,
    value_len_max: u64,
    delete_one_in: u64,
) {
    let key = (rng.below(key_space) as u32).to_be_bytes().to_vec();
    if rng.below(delete_one_in) == 0 {
        txn.delete(&key).unwrap();
        model.remove(&key);
    } else {
        let value = vec![rng.below(256) as u8; 1 + rng.below(value_len_max) as usize];
        txn.put(&key, &value).unwrap();
        model.insert(key, value);
    }
}

/// Waits until the background checkpointer of `db` is idle (no checkpoint running, none
/// started for a while), so a test can reason about the newest checkpoint.
pub fn settle_checkpoints(db: &Db) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let before = db.checkpoint_stats();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let after = db.checkpoint_stats();
        if before == after && !after.in_progress {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the checkpointer never settled: {after:?}"
        );
    }
}

/// The lock file of the database in `dir`: what [`northstar::Error::Locked`] names.
pub fn lock_file(dir: &Path) -> PathBuf {
    dir.join("northstar.lock")
}

/// Every file in `dir` (recursively) with its contents, to check that a refused open
/// changed nothing: no file added, removed or altered.
pub fn directory_contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut contents = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read file");
                contents.insert(path, bytes);
            }
        }
    }
    contents
}

/// Copies the page file and the commit log of a live database into a fresh directory:
/// what a crash right now would leave if the operating system kept every write. The live
/// database keeps running.
pub fn crash_image(db: &Db) -> tempfile::TempDir {
    let image = tempfile::tempdir().expect("temporary directory");
    std::fs::copy(db.page_file_path(), page_file(image.path())).expect("copy page file");
    std::fs::copy(db.log_path(), log_file(image.path())).expect("copy log");
    image
}

/// Writes a database directory holding exactly these page file and log bytes, replacing
/// whatever `dir` held (an earlier open may have cut the log or written a checkpoint).
pub fn write_image(dir: &Path, page_file_bytes: &[u8], log_bytes: &[u8]) {
    std::fs::write(page_file(dir), page_file_bytes).expect("write page file");
    std::fs::write(log_file(dir), log_bytes).expect("write log");
}

/// Length of the commit log of a live database: the offset just past its last record.
pub fn log_len(db: &Db) -> u64 {
    std::fs::metadata(db.log_path()).expect("stat log").len()
}

/// Names of the named keyspaces random histories use; keyspace `n > 0` is
/// `KEYSPACE_NAMES[n - 1]`, keyspace 0 the default one.
pub const KEYSPACE_NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

/// The model key for `keyspace` in a [`State`].
pub fn keyspace_name(keyspace: u8) -> String {
    match keyspace {
        0 => String::new(),
        n => KEYSPACE_NAMES[usize::from(n - 1) % KEYSPACE_NAMES.len()].to_string(),
    }
}

/// Key number `index` of a small key set with the edge cases ranges and prefixes trip on:
/// the empty key, 0x00 and 0xff bytes, keys that are prefixes of each other.
pub fn test_key(index: u8) -> Vec<u8> {
    match index % 48 {
        0 => Vec::new(),
        1 => vec![0x00],
        2 => vec![0xff],
        3 => vec![0xff, 0xff, 0x00],
        4 => b"a".to_vec(),
        5 => b"ab".to_vec(),
        6 => b"abc".to_vec(),
        7 => b"abd".to_vec(),
        8 => b"b".to_vec(),
        9 => b"ba".to_vec(),
        n => format!("k{n:02}").into_bytes(),
    }
}

/// Prefixes worth scanning over keys from [`test_key`].
pub const TEST_PREFIXES: [&[u8]; 8] = [b"", b"a", b"ab", b"k", b"k1", b"k4", b"\xff", b"zz"];

/// A value of `len` bytes that differs with `seed`.
pub fn test_value(len: u32, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31).wrapping_add(u32::from(seed) * 7) % 251) as u8)
        .collect()
}

/// One change of a random history.
#[derive(Debug, Clone)]
pub enum Change {
    /// Put [`test_key`]`(key)` = [`test_value`]`(value_len, seed)`.
    Put {
        keyspace: u8,
        key: u8,
        value_len: u32,
        seed: u8,
    },
    /// Delete [`test_key`]`(key)`, present or not.
    Delete { keyspace: u8, key: u8 },
    /// Create a named keyspace (refused if it exists).
    CreateKeyspace(u8),
    /// Drop a named keyspace (a no-op if it does not exist).
    DropKeyspace(u8),
}

/// Value sizes of random histories: mostly small, a few in runs of overflow pages.
pub fn random_value_len(rng: &mut Rng) -> u32 {
    match rng.below(20) {
        0 => 5_000 + rng.below(30_000) as u32,
        1 => 0,
        2 => 600 + rng.below(3_000) as u32,
        _ => 1 + rng.below(60) as u32,
    }
}

/// A random change; keyspace changes are rarer than puts and deletes.
pub fn random_change(rng: &mut Rng) -> Change {
    let keyspace = if rng.chance(1, 2) {
        0
    } else {
        1 + rng.below(3) as u8
    };
    let key = rng.below(48) as u8;
    match rng.below(40) {
        0 => Change::CreateKeyspace(1 + rng.below(3) as u8),
        1 => Change::DropKeyspace(1 + rng.below(3) as u8),
        2..=13 => Change::Delete { keyspace, key },
        _ => Change::Put {
            keyspace,
            key,
            value_len: random_value_len(rng),
            seed: rng.next_u64() as u8,
        },
    }
}

/// Applies `change` to the write txn and to `state` alike, checking that the store and the
/// model agree on its outcome (keyspace found or not, key present or not).
pub fn apply_change(txn: &mut WriteTxn<'_>, state: &mut State, change: &Change) {
    match *change {
        Change::Put {
            keyspace,
            key,
            value_len,
            seed,
        } => {
            let (key, value) = (test_key(key), test_value(value_len, seed));
            let name = keyspace_name(keyspace);
            let Some(model) = state.get_mut(&name) else {
                assert_absent(txn, &name);
                return;
            };
            if keyspace == 0 {
                txn.put(&key, &value).expect("put");
            } else {
                let mut handle = txn.keyspace(&name).expect("keyspace in the model");
                handle.put(&key, &value).expect("put");
            }
            model.insert(key, value);
        }
        Change::Delete { keyspace, key } => {
            let key = test_key(key);
            let name = keyspace_name(keyspace);
            let Some(model) = state.get_mut(&name) else {
                assert_absent(txn, &name);
                return;
            };
            let existed = if keyspace == 0 {
                txn.delete(&key).expect("delete")
            } else {
                let mut handle = txn.keyspace(&name).expect("keyspace in the model");
                handle.delete(&key).expect("delete")
            };
            assert_eq!(
                existed,
                model.remove(&key).is_some(),
                "delete {}",
                short(&key)
            );
        }
        Change::CreateKeyspace(keyspace) => {
            let name = keyspace_name(keyspace.max(1));
            match txn.create_keyspace(&name) {
                Ok(()) => assert!(
                    state.insert(name.clone(), Model::new()).is_none(),
                    "created {name}, which the model has"
                ),
                Err(northstar::Error::KeyspaceExists(_)) => {
                    assert!(state.contains_key(&name), "{name} exists only in the store")
                }
                Err(error) => panic!("create_keyspace({name}): {error}"),
            }
        }
        Change::DropKeyspace(keyspace) => {
            let name = keyspace_name(keyspace.max(1));
            let dropped = txn.drop_keyspace(&name).expect("drop_keyspace");
            assert_eq!(dropped, state.remove(&name).is_some(), "drop {name}");
        }
    }
}

fn assert_absent(txn: &mut WriteTxn<'_>, name: &str) {
    match txn.keyspace(name) {
        Err(northstar::Error::KeyspaceNotFound(_)) => {}
        Ok(_) => panic!("keyspace {name} exists in the store but not in the model"),
        Err(error) => panic!("keyspace({name}): {error}"),
    }
}

/// Commits one txn of `count` random changes; returns the state after it and the txn id
/// (the same id when the changes changed nothing the log records).
pub fn commit_random(db: &Db, state: &State, rng: &mut Rng, count: usize) -> (State, u64) {
    let mut next = state.clone();
    let mut txn = db.begin_write().expect("begin_write");
    for _ in 0..count {
        apply_change(&mut txn, &mut next, &random_change(rng));
    }
    let txn_id = txn.commit().expect("commit");
    (next, txn_id)
}

/// Everything an AS OF view shows, as a [`State`].
pub fn as_of_state(view: &northstar::AsOfTxn<'_>) -> State {
    let mut state = State::new();
    state.insert(
        String::new(),
        collect_iter(view.iter().expect("iter"))
            .into_iter()
            .collect(),
    );
    for name in view.keyspaces() {
        let keyspace = view.keyspace(&name).expect("listed keyspace");
        let entries = collect_iter(keyspace.iter().expect("iter"))
            .into_iter()
            .collect();
        state.insert(name, entries);
    }
    state
}
