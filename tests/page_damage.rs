//! Every page of a small, cleanly closed database damaged in turn: a flipped bit, zeroed,
//! garbage, overwritten by another page (a misdirected write), and replaced by an older
//! version of itself (a lost write). After each, open either succeeds or fails with a typed
//! error naming the page; every key then reads either as its right value or as
//! `Error::Corrupt` naming the damaged page — never a wrong value, a panic or a hang (reads
//! run on a thread under a timeout); and the validator names every damaged page that was
//! reachable. Counts per damage kind are printed.
//!
//! The database holds branch, leaf, overflow, catalog (60 keyspaces with long names, so the
//! catalog has a branch) and freelist pages, free pages, and copies of the page file from
//! earlier checkpoints, where most page ids held other contents.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::{empty_state, Rng, State};
use northstar::format::freelist;
use northstar::format::meta::Meta;
use northstar::format::page::{self, PageKind};
use northstar::{Db, Error, Options, PAGE_SIZE};

/// A case that takes longer than this is a hang.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);
const NAMED_KEYSPACES: usize = 60;
const FILLED_KEYSPACES: [usize; 3] = [7, 30, 52];

/// What a page of the intact database is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Meta,
    Branch,
    Leaf,
    Overflow,
    CatalogBranch,
    CatalogLeaf,
    Freelist,
    /// Listed as free: nothing reads it.
    Free,
}

impl Role {
    fn is_reachable(self) -> bool {
        !matches!(self, Role::Meta | Role::Free)
    }
}

/// The intact database, built once and shared by the tests.
struct Built {
    page_file: Vec<u8>,
    log: Vec<u8>,
    /// Page files as they were after earlier checkpoints, oldest first.
    older: Vec<Vec<u8>>,
    state: State,
    roles: Vec<Role>,
}

fn keyspace_name(index: usize) -> String {
    // Long names fill the catalog; "ks-" appears in no other key.
    format!("ks-{index:03}-{}", "n".repeat(240))
}

fn default_key(n: u64) -> Vec<u8> {
    format!("key{n:05}").into_bytes()
}

fn page_bytes(file: &[u8], page_id: u64) -> &[u8] {
    &file[page_id as usize * PAGE_SIZE..(page_id as usize + 1) * PAGE_SIZE]
}

fn newest_meta(file: &[u8]) -> Meta {
    (0..2)
        .filter_map(|slot| {
            let bytes = page_bytes(file, slot);
            page::verify(bytes, slot).ok()?;
            Meta::decode_body(bytes).ok()
        })
        .max_by_key(|meta| meta.txn_id)
        .expect("a valid meta")
}

/// `min` to `min + spread - 1` random bytes.
fn random_bytes(rng: &mut Rng, min: usize, spread: u64) -> Vec<u8> {
    let len = min + rng.below(spread) as usize;
    rng.bytes(len)
}

/// Writes some changes to the model and the database in one txn.
fn commit_round(db: &Db, state: &mut State, rng: &mut Rng, round: u64) {
    let mut txn = db.begin_write().unwrap();
    let count = if round == 0 { 700 } else { 230 };
    for _ in 0..count {
        let n = if round == 0 {
            state[""].len() as u64
        } else {
            rng.below(700)
        };
        let value = random_bytes(rng, 40, 120);
        txn.put(default_key(n), &value).unwrap();
        state.get_mut("").unwrap().insert(default_key(n), value);
    }
    for large in 0..4u64 {
        if round == 0 || rng.below(4) == large {
            let key = format!("large-{large}").into_bytes();
            let value = random_bytes(rng, 20_000, 20_000);
            txn.put(&key, &value).unwrap();
            state.get_mut("").unwrap().insert(key, value);
        }
    }
    if round > 0 {
        for _ in 0..20 {
            let key = default_key(rng.below(700));
            let existed = txn.delete(&key).unwrap();
            assert_eq!(existed, state.get_mut("").unwrap().remove(&key).is_some());
        }
    }
    for index in 0..NAMED_KEYSPACES {
        let name = keyspace_name(index);
        if round == 0 {
            txn.create_keyspace(&name).unwrap();
            state.insert(name.clone(), Default::default());
        }
        if !FILLED_KEYSPACES.contains(&index) {
            continue;
        }
        let mut keyspace = txn.keyspace(&name).unwrap();
        for _ in 0..if round == 0 { 80 } else { 20 } {
            let key = format!("item{:03}", rng.below(120)).into_bytes();
            let value = random_bytes(rng, 50, 60);
            keyspace.put(&key, &value).unwrap();
            state.get_mut(&name).unwrap().insert(key, value);
        }
    }
    txn.commit().unwrap();
}

/// Each page's role in the closed database `file`.
fn roles(file: &[u8]) -> Vec<Role> {
    let meta = newest_meta(file);
    let mut roles: Vec<Option<Role>> = vec![None; meta.page_count as usize];
    roles[0] = Some(Role::Meta);
    roles[1] = Some(Role::Meta);
    let mut next = meta.freelist_head.id;
    while next != 0 {
        let bytes = page_bytes(file, next);
        let header = page::verify(bytes, next).expect("intact freelist page");
        roles[next as usize] = Some(Role::Freelist);
        let (following, ids) = freelist::decode(bytes, header.count).expect("freelist page");
        for id in ids {
            roles[id as usize] = Some(Role::Free);
        }
        next = following;
    }
    let is_catalog = |bytes: &[u8]| bytes.windows(4).any(|window| window == b"ks-0");
    for (page_id, role) in roles.iter_mut().enumerate().skip(2) {
        if role.is_some() {
            continue;
        }
        let bytes = page_bytes(file, page_id as u64);
        let header = page::verify(bytes, page_id as u64).expect("intact page");
        *role = Some(match PageKind::from_byte(header.kind) {
            Some(PageKind::Branch) if is_catalog(bytes) => Role::CatalogBranch,
            Some(PageKind::Leaf) if is_catalog(bytes) => Role::CatalogLeaf,
            Some(PageKind::Branch) => Role::Branch,
            Some(PageKind::Leaf) => Role::Leaf,
            Some(PageKind::Overflow) => Role::Overflow,
            other => panic!("page {page_id} in use is a {other:?} page"),
        });
    }
    roles
        .into_iter()
        .map(|role| role.expect("every page has a role"))
        .collect()
}

fn build() -> Built {
    let dir = tempfile::tempdir().unwrap();
    let options =
        Options::default().checkpoint_every(1_000_000, u64::MAX, Duration::from_secs(3600));
    let db = Db::open(dir.path(), options).unwrap();
    let mut rng = Rng::new(0x5EED);
    let mut state = empty_state();
    let mut older = Vec::new();
    for round in 0..6 {
        commit_round(&db, &mut state, &mut rng, round);
        db.checkpoint().unwrap();
        older.push(common::file_bytes(dir.path()));
    }
    commit_round(&db, &mut state, &mut rng, 6);
    db.close().unwrap();
    let page_file = common::file_bytes(dir.path());
    let log = std::fs::read(common::log_file(dir.path())).unwrap();
    let roles = roles(&page_file);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(
        report.trees[0].depth >= 2 && report.trees[1].depth >= 2,
        "{:?}",
        report.trees
    );
    common::assert_state(&common::read_state(&db), &state, "built database");
    drop(db);
    assert!(
        common::file_bytes(dir.path()) == page_file,
        "a clean open changed the file"
    );
    for role in [
        Role::Branch,
        Role::Leaf,
        Role::Overflow,
        Role::CatalogBranch,
        Role::CatalogLeaf,
        Role::Freelist,
        Role::Free,
    ] {
        assert!(
            roles.contains(&role),
            "the database has no {role:?} page: {roles:?}"
        );
    }
    Built {
        page_file,
        log,
        older,
        state,
        roles,
    }
}

fn built() -> Arc<Built> {
    static BUILT: OnceLock<Arc<Built>> = OnceLock::new();
    BUILT.get_or_init(|| Arc::new(build())).clone()
}

/// How a page is damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Damage {
    BitFlip,
    Zeroed,
    Garbage,
    /// Another page's bytes written here.
    Misdirected,
    /// The bytes this page id held after an earlier checkpoint.
    OlderVersion,
}

/// The damaged bytes for page `page_id`, or `None` when this damage cannot be made (no
/// older version differs).
fn damaged_page(built: &Built, page_id: u64, damage: Damage, rng: &mut Rng) -> Option<Vec<u8>> {
    let intact = page_bytes(&built.page_file, page_id);
    let page_count = built.roles.len() as u64;
    Some(match damage {
        Damage::BitFlip => {
            let mut bytes = intact.to_vec();
            let bit = rng.index(PAGE_SIZE * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            bytes
        }
        Damage::Zeroed => vec![0; PAGE_SIZE],
        Damage::Garbage => rng.bytes(PAGE_SIZE),
        Damage::Misdirected => {
            let other = (page_id + 1 + rng.below(page_count - 1)) % page_count;
            page_bytes(&built.page_file, other).to_vec()
        }
        Damage::OlderVersion => built.older.iter().rev().find_map(|file| {
            let old = page_bytes(file, page_id);
            (old != intact && page::verify(old, page_id).is_ok()).then(|| old.to_vec())
        })?,
    })
}

/// What one damaged database did.
#[derive(Debug, Default)]
struct Outcome {
    open_refused: Option<String>,
    keys_right: u64,
    keys_corrupt: u64,
    check_named_page: bool,
    violations: Vec<String>,
}

fn expect_corrupt_page(error: &Error, page_id: u64, what: &str, outcome: &mut Outcome) {
    match error {
        Error::Corrupt {
            page: Some(page), ..
        } if *page == page_id => {}
        other => outcome.violations.push(format!(
            "{what}: expected Corrupt naming page {page_id}, got {other}"
        )),
    }
}

/// Opens the damaged database in `dir` and reads everything; `page_id` was damaged.
fn inspect(dir: &Path, state: &State, page_id: u64) -> Outcome {
    let mut outcome = Outcome::default();
    let db = match Db::open(dir, Options::default()) {
        Ok(db) => db,
        Err(error) => {
            match &error {
                Error::Corrupt {
                    page: Some(page), ..
                } if *page == page_id => {}
                other => outcome.violations.push(format!(
                    "open failed without naming page {page_id}: {other}"
                )),
            }
            outcome.open_refused = Some(error.to_string());
            return outcome;
        }
    };
    let read = db.begin_read().unwrap();
    match read.keyspaces() {
        Ok(names) => {
            let expected: Vec<&String> = state.keys().filter(|name| !name.is_empty()).collect();
            if names.iter().collect::<Vec<_>>() != expected {
                outcome
                    .violations
                    .push(format!("keyspaces listed wrong: {} names", names.len()));
            }
        }
        Err(error) => expect_corrupt_page(&error, page_id, "list keyspaces", &mut outcome),
    }
    for (name, model) in state {
        let keyspace = if name.is_empty() {
            None
        } else {
            match read.keyspace(name) {
                Ok(keyspace) => Some(keyspace),
                Err(error) => {
                    expect_corrupt_page(&error, page_id, "open keyspace", &mut outcome);
                    outcome.keys_corrupt += model.len() as u64;
                    continue;
                }
            }
        };
        for (key, value) in model {
            let got = match &keyspace {
                None => read.get(key),
                Some(keyspace) => keyspace.get(key),
            };
            match got {
                Ok(Some(got)) if *got == value[..] => outcome.keys_right += 1,
                Ok(Some(_)) => outcome.violations.push(format!(
                    "WRONG VALUE for {} in {:.6}",
                    common::short(key),
                    name
                )),
                Ok(None) => outcome.violations.push(format!(
                    "key {} in {:.6} read as absent",
                    common::short(key),
                    name
                )),
                Err(error) => {
                    outcome.keys_corrupt += 1;
                    expect_corrupt_page(&error, page_id, "get", &mut outcome);
                }
            }
        }
        let scan = match &keyspace {
            None => read.iter(),
            Some(keyspace) => keyspace.iter(),
        };
        let mut expected = model.iter();
        let entries = scan.map(|range| range.take(model.len() + 1).collect::<Vec<_>>());
        for entry in entries.unwrap_or_else(|error| vec![Err(error)]) {
            match entry {
                Ok((key, value)) => {
                    if expected.next().map(|(k, v)| (&k[..], &v[..])) != Some((key, &value[..])) {
                        outcome.violations.push(format!(
                            "scan of {name:.6} yields a wrong entry at {}",
                            common::short(key)
                        ));
                        break;
                    }
                }
                Err(error) => {
                    expect_corrupt_page(&error, page_id, "scan", &mut outcome);
                    break;
                }
            }
        }
    }
    drop(read);
    match db.check() {
        Ok(report) => {
            outcome.check_named_page = report
                .problems
                .iter()
                .chain(&report.warnings)
                .any(|problem| problem.page == Some(page_id))
        }
        Err(error) => outcome.violations.push(format!("check failed: {error}")),
    }
    outcome
}

/// Runs [`inspect`] on a thread; a panic or a hang is a violation.
fn inspect_guarded(dir: &Path, built: &Arc<Built>, page_id: u64) -> Outcome {
    let (sender, receiver) = mpsc::channel();
    let (dir, built) = (dir.to_path_buf(), built.clone());
    let worker = std::thread::spawn(move || {
        let _ = sender.send(inspect(&dir, &built.state, page_id));
    });
    match receiver.recv_timeout(CASE_TIMEOUT) {
        Ok(outcome) => {
            worker.join().unwrap();
            outcome
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Outcome {
            violations: vec![format!("PANIC: {:?}", worker.join().err())],
            ..Outcome::default()
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("HANG: page {page_id} took over {CASE_TIMEOUT:?}")
        }
    }
}

/// What damage to a page of `role` requires beyond sound reads, when it is not met.
fn unmet_expectation(role: Role, outcome: &Outcome, total_keys: u64) -> Option<String> {
    let reported = outcome.open_refused.is_some() || outcome.check_named_page;
    match role {
        // The other meta and the log (or nobody at all) stand in for it: nothing is lost.
        Role::Meta | Role::Free => {
            (outcome.open_refused.is_some() || outcome.keys_right != total_keys).then(|| {
                format!(
                    "open refused {:?}, {} of {total_keys} keys right",
                    outcome.open_refused, outcome.keys_right
                )
            })
        }
        _ => (!reported).then(|| "neither refused at open nor named by the validator".to_string()),
    }
}

/// Counts for one damage kind, per role.
#[derive(Debug, Default)]
struct Tally {
    pages: u64,
    open_refused: u64,
    keys_right: u64,
    keys_corrupt: u64,
    reachable: u64,
    check_named: u64,
}

fn damage_every_page(damage: Damage) {
    let seed = common::seed(&format!("page damage {damage:?}"));
    let mut rng = Rng::new(seed);
    let built = built();
    let mut tallies: BTreeMap<Role, Tally> = BTreeMap::new();
    let mut violations = Vec::new();
    let mut unavailable = 0;
    let dir = tempfile::tempdir().unwrap();
    for (page_id, role) in built.roles.iter().enumerate() {
        let page_id = page_id as u64;
        let Some(bytes) = damaged_page(&built, page_id, damage, &mut rng) else {
            unavailable += 1;
            continue;
        };
        let mut file = built.page_file.clone();
        file[page_id as usize * PAGE_SIZE..(page_id as usize + 1) * PAGE_SIZE]
            .copy_from_slice(&bytes);
        common::write_image(dir.path(), &file, &built.log);
        let outcome = inspect_guarded(dir.path(), &built, page_id);
        let mut problems = outcome.violations.clone();
        let total_keys: u64 = built.state.values().map(|model| model.len() as u64).sum();
        problems.extend(unmet_expectation(*role, &outcome, total_keys));
        let tally = tallies.entry(*role).or_default();
        tally.pages += 1;
        tally.open_refused += u64::from(outcome.open_refused.is_some());
        tally.keys_right += outcome.keys_right;
        tally.keys_corrupt += outcome.keys_corrupt;
        tally.reachable += u64::from(role.is_reachable());
        tally.check_named += u64::from(outcome.check_named_page);
        if let Some(first) = problems.first() {
            violations.push(format!(
                "page {page_id} ({role:?}): {} violations, the first: {first}",
                problems.len()
            ));
        }
    }
    let keys: u64 = built.state.values().map(|model| model.len() as u64).sum();
    println!(
        "{damage:?} (seed {seed}): {} pages, {keys} keys; no such damage for {unavailable} pages",
        built.roles.len()
    );
    for (role, tally) in &tallies {
        println!(
            "  {role:?}: {} pages, open refused {}, validator named the page {}/{}; keys read right {}, reported corrupt {}",
            tally.pages, tally.open_refused, tally.check_named, tally.reachable, tally.keys_right, tally.keys_corrupt
        );
    }
    assert!(
        violations.is_empty(),
        "{damage:?}: damaged pages with violations (seed {seed}):\n{}",
        violations.join("\n")
    );
}

#[test]
fn every_page_with_a_flipped_bit_is_reported_never_read_as_data() {
    damage_every_page(Damage::BitFlip);
}

#[test]
fn every_page_zeroed_is_reported_never_read_as_data() {
    damage_every_page(Damage::Zeroed);
}

#[test]
fn every_page_of_garbage_is_reported_never_read_as_data() {
    damage_every_page(Damage::Garbage);
}

#[test]
fn every_page_overwritten_by_another_page_is_reported_never_read_as_data() {
    damage_every_page(Damage::Misdirected);
}

#[test]
fn every_page_replaced_by_an_older_version_of_itself_is_reported_never_read_as_data() {
    damage_every_page(Damage::OlderVersion);
}

#[test]
fn built_database_holds_every_kind_of_page() {
    let built = built();
    let mut counts: BTreeMap<Role, usize> = BTreeMap::new();
    for role in &built.roles {
        *counts.entry(*role).or_default() += 1;
    }
    println!(
        "{} pages ({} KiB): {counts:?}; {} earlier page files",
        built.roles.len(),
        built.roles.len() * PAGE_SIZE / 1024,
        built.older.len()
    );
}
