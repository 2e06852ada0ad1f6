//! Bad input: files that are not databases, damaged or truncated page files, newer format
//! versions, locked databases, oversize keys and values, bad keyspace names. Each gives a
//! typed error, and opening a damaged file never changes a byte of it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{file_bytes, page_file, Model, Rng};
use northstar::format::meta::Meta;
use northstar::format::node::{CellValue, NodePage};
use northstar::format::page;
use northstar::{
    Db, Error, Options, KEYSPACE_NAME_SIZE_MAX, KEY_SIZE_MAX, PAGE_SIZE, VALUE_SIZE_MAX,
};

const OFFSET_META_VERSION: usize = 40;

/// Opens `dir` expecting an error; checks the page file is byte-for-byte unchanged.
fn open_fails(dir: &Path) -> Error {
    let before = std::fs::read(page_file(dir)).ok();
    let error = match Db::open(dir, Options::default()) {
        Ok(_) => panic!("open of {} succeeded", dir.display()),
        Err(error) => error,
    };
    assert_eq!(
        std::fs::read(page_file(dir)).ok(),
        before,
        "a failed open changed the page file"
    );
    error
}

/// Bytes of page `page_id` of a page file image.
fn page_of(bytes: &[u8], page_id: u64) -> &[u8] {
    &bytes[page_id as usize * PAGE_SIZE..(page_id as usize + 1) * PAGE_SIZE]
}

/// The newest valid meta of a page file image.
fn newest_meta(bytes: &[u8]) -> Meta {
    (0..2)
        .filter_map(|slot| {
            let page = page_of(bytes, slot);
            page::verify(page, slot).ok()?;
            Meta::decode_body(page).ok()
        })
        .max_by_key(|meta| meta.txn_id)
        .expect("a valid meta")
}

fn flip_bit(dir: &Path, page_id: u64, byte: usize) {
    let mut bytes = file_bytes(dir);
    bytes[page_id as usize * PAGE_SIZE + byte] ^= 0x10;
    std::fs::write(page_file(dir), bytes).unwrap();
}

fn key(n: u64) -> Vec<u8> {
    format!("key{n:06}").into_bytes()
}

/// A database whose default keyspace has `count` keys with 100-byte values (two levels
/// for a couple of thousand keys).
fn database_with_keys(count: u64) -> (tempfile::TempDir, Model) {
    let (dir, db) = common::temp_db();
    let mut model = Model::new();
    let mut txn = db.begin_write().unwrap();
    for n in 0..count {
        let value = vec![n as u8; 100];
        txn.put(key(n), &value).unwrap();
        model.insert(key(n), value);
    }
    txn.commit().unwrap();
    (dir, model)
}

fn expect_corrupt_page(result: northstar::Result<impl std::fmt::Debug>, page_id: u64, what: &str) {
    match result {
        Err(Error::Corrupt {
            page: Some(page),
            detail,
            ..
        }) => {
            assert_eq!(page, page_id, "{what}: wrong page named ({detail})")
        }
        other => panic!("{what}: expected Corrupt naming page {page_id}, got {other:?}"),
    }
}

#[test]
fn path_that_is_a_regular_file_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain.txt");
    std::fs::write(&file, b"just some text\n").unwrap();
    let error = Db::open(&file, Options::default())
        .err()
        .expect("open of a regular file");
    assert!(matches!(error, Error::NotADatabase { .. }), "{error:?}");
    assert_eq!(std::fs::read(&file).unwrap(), b"just some text\n");
}

#[test]
fn page_file_of_random_bytes_is_not_a_database() {
    let mut rng = Rng::new(7);
    for len in [100, PAGE_SIZE, 3 * PAGE_SIZE + 5] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(page_file(dir.path()), rng.bytes(len)).unwrap();
        let error = open_fails(dir.path());
        assert!(
            matches!(error, Error::NotADatabase { .. }),
            "{len} random bytes: {error:?}"
        );
    }
}

#[test]
fn page_file_of_one_foreign_page_is_not_a_database() {
    // Page 1 does not exist, so it carries no magic either: the file is not ours, rather
    // than a database with two damaged metas.
    for page in [vec![0u8; PAGE_SIZE], Rng::new(1).bytes(PAGE_SIZE)] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(page_file(dir.path()), page).unwrap();
        let error = open_fails(dir.path());
        assert!(matches!(error, Error::NotADatabase { .. }), "{error:?}");
    }
}

#[test]
fn empty_page_file_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(page_file(dir.path()), b"").unwrap();
    match open_fails(dir.path()) {
        Error::NotADatabase { detail, .. } => assert!(detail.contains("empty"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_database_without_create_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    match Db::open(&missing, Options::default().create(false)) {
        Err(Error::Io { source, .. }) => assert_eq!(source.kind(), std::io::ErrorKind::NotFound),
        other => panic!("{:?}", other.err()),
    }
    assert!(
        !missing.exists(),
        "create(false) must not create the directory"
    );
}

#[test]
fn truncated_page_file_is_corrupt_and_says_truncated() {
    let (dir, _) = database_with_keys(3000);
    let full = file_bytes(dir.path());
    let page_count = newest_meta(&full).page_count as usize;
    assert!(page_count > 10);
    for (what, len) in [
        ("cut after the metas", 2 * PAGE_SIZE),
        ("cut mid-file", page_count / 2 * PAGE_SIZE),
        ("cut mid-page", (page_count - 1) * PAGE_SIZE + 100),
    ] {
        std::fs::write(page_file(dir.path()), &full[..len]).unwrap();
        match open_fails(dir.path()) {
            Error::Corrupt { detail, .. } => {
                assert!(detail.contains("truncated"), "{what}: {detail}")
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    std::fs::write(page_file(dir.path()), &full).unwrap();
    assert!(Db::open(dir.path(), Options::default())
        .unwrap()
        .check()
        .unwrap()
        .is_ok());
}

#[test]
fn flipped_bit_in_a_leaf_fails_reads_of_that_leaf_only() {
    let (dir, model) = database_with_keys(2000);
    let bytes = file_bytes(dir.path());
    let root = NodePage::new(page_of(&bytes, newest_meta(&bytes).default_root.id), false);
    assert!(root.count() > 3, "the test needs a two-level tree");
    let leaf_id = root.child(1).id;
    let leaf = NodePage::new(page_of(&bytes, leaf_id), true);
    let damaged_key = leaf.key(leaf.count() / 2).to_vec();
    let healthy_key = NodePage::new(page_of(&bytes, root.child(2).id), true)
        .key(0)
        .to_vec();
    flip_bit(dir.path(), leaf_id, PAGE_SIZE / 2);
    let damaged_file = file_bytes(dir.path());

    let db = Db::open(dir.path(), Options::default()).unwrap();
    let read = db.begin_read().unwrap();
    expect_corrupt_page(read.get(&damaged_key), leaf_id, "get in the damaged leaf");
    assert_eq!(
        read.get(&healthy_key).unwrap().as_deref(),
        model.get(&healthy_key).map(Vec::as_slice)
    );
    assert_eq!(
        read.get(key(0)).unwrap().as_deref(),
        model.get(&key(0)).map(Vec::as_slice)
    );
    let first_error = read.iter().unwrap().find_map(Result::err);
    expect_corrupt_page(first_error.map_or(Ok(()), Err), leaf_id, "full scan");
    let report = db.check().unwrap();
    assert!(!report.is_ok());
    assert!(
        report
            .problems
            .iter()
            .any(|problem| problem.page == Some(leaf_id)),
        "{:?}",
        report.problems
    );
    // The writer meets the damage as an error too, and cannot commit a change through it.
    let mut txn = db.begin_write().unwrap();
    expect_corrupt_page(
        txn.put(&damaged_key, b"x"),
        leaf_id,
        "put into the damaged leaf",
    );
    assert!(
        txn.commit().is_err(),
        "a txn that met corruption must not commit"
    );
    drop(read);
    drop(db);
    assert!(
        file_bytes(dir.path()) == damaged_file,
        "reading a damaged file changed it"
    );
}

/// Keys of 1000 equal bytes and a counter make separators about 1000 bytes long, so a
/// couple of thousand keys build a three-level tree.
fn long_key(n: u64) -> Vec<u8> {
    let mut key = vec![b'p'; 1000];
    key.extend_from_slice(format!("{n:06}").as_bytes());
    key
}

fn three_level_database() -> tempfile::TempDir {
    let (dir, db) = common::temp_db();
    let mut txn = db.begin_write().unwrap();
    for n in 0..2500 {
        txn.put(long_key(n), n.to_le_bytes()).unwrap();
    }
    txn.commit().unwrap();
    let depth = db.check().unwrap().trees[0].depth;
    assert!(
        depth >= 3,
        "the test needs a tree of three levels or more, not {depth}"
    );
    dir
}

#[test]
fn flipped_bit_in_a_branch_fails_reads_below_it_only() {
    let dir = three_level_database();
    let bytes = file_bytes(dir.path());
    let root = NodePage::new(page_of(&bytes, newest_meta(&bytes).default_root.id), false);
    assert!(root.count() >= 2);
    let branch_id = root.child(1).id;
    flip_bit(dir.path(), branch_id, 100);
    let damaged_file = file_bytes(dir.path());

    let db = Db::open(dir.path(), Options::default()).unwrap();
    let read = db.begin_read().unwrap();
    let (mut below, mut elsewhere) = (0, 0);
    for n in (0..2500).step_by(7) {
        let key = long_key(n);
        if root.child_index(&key) == 1 {
            expect_corrupt_page(read.get(&key), branch_id, "get below the damaged branch");
            below += 1;
        } else {
            assert_eq!(
                read.get(&key).unwrap().as_deref(),
                Some(&n.to_le_bytes()[..])
            );
            elsewhere += 1;
        }
    }
    assert!(below > 0 && elsewhere > 0);
    let report = db.check().unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|problem| problem.page == Some(branch_id)),
        "{:?}",
        report.problems
    );
    drop(read);
    drop(db);
    assert!(file_bytes(dir.path()) == damaged_file);
}

#[test]
fn flipped_bit_in_the_root_fails_every_read_naming_the_root() {
    let (dir, _) = database_with_keys(2000);
    let bytes = file_bytes(dir.path());
    let root_id = newest_meta(&bytes).default_root.id;
    flip_bit(dir.path(), root_id, 40);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let read = db.begin_read().unwrap();
    expect_corrupt_page(read.get(key(5)), root_id, "get");
    expect_corrupt_page(read.range(key(1)..key(9)).map(|_| ()), root_id, "range");
    expect_corrupt_page(read.cursor().last(), root_id, "cursor");
    assert!(db
        .check()
        .unwrap()
        .problems
        .iter()
        .any(|problem| problem.page == Some(root_id)));
}

#[test]
fn flipped_bit_in_an_overflow_page_fails_reads_of_that_value_only() {
    let (dir, db) = common::temp_db();
    let large = vec![0x5A; 50_000];
    let mut txn = db.begin_write().unwrap();
    txn.put(b"large", &large).unwrap();
    txn.put(b"small", b"s").unwrap();
    txn.commit().unwrap();
    drop(db);
    let bytes = file_bytes(dir.path());
    let leaf = NodePage::new(page_of(&bytes, newest_meta(&bytes).default_root.id), true);
    let CellValue::Overflow { first_page, len } = leaf.value(0) else {
        panic!("a 50 KB value lives in overflow pages")
    };
    assert_eq!(len, 50_000);
    let damaged_page = first_page.id + 2;
    flip_bit(dir.path(), damaged_page, 1000);

    let db = Db::open(dir.path(), Options::default()).unwrap();
    let read = db.begin_read().unwrap();
    expect_corrupt_page(read.get(b"large"), damaged_page, "get of the damaged value");
    assert_eq!(read.get(b"small").unwrap().as_deref(), Some(&b"s"[..]));
    let mut cursor = read.cursor();
    assert!(cursor.first().unwrap());
    assert_eq!(
        cursor.key(),
        Some(&b"large"[..]),
        "the key itself is still readable"
    );
    expect_corrupt_page(cursor.value(), damaged_page, "cursor value");
    let report = db.check().unwrap();
    assert!(report
        .problems
        .iter()
        .any(|problem| problem.page == Some(damaged_page)));
}

#[test]
fn flipped_bit_in_the_freelist_fails_open_naming_the_page() {
    let (dir, db) = common::temp_db();
    for round in 0..3u8 {
        let mut txn = db.begin_write().unwrap();
        for n in 0..500 {
            txn.put(key(n), vec![round; 200]).unwrap();
        }
        txn.commit().unwrap();
    }
    drop(db);
    let bytes = file_bytes(dir.path());
    let freelist_head = newest_meta(&bytes).freelist_head.id;
    assert_ne!(freelist_head, 0, "rewrites leave free pages");
    flip_bit(dir.path(), freelist_head, 100);
    match open_fails(dir.path()) {
        Error::Corrupt { page, .. } => assert_eq!(page, Some(freelist_head)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn page_file_that_is_a_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(page_file(dir.path())).unwrap();
    let error = Db::open(dir.path(), Options::default())
        .err()
        .expect("open");
    assert!(
        matches!(error, Error::Io { .. } | Error::NotADatabase { .. }),
        "{error:?}"
    );
}

/// Two commits: txn 1 puts `a = 1`; txn 2 puts `a = 2` and `b = 2`.
fn database_with_two_commits() -> tempfile::TempDir {
    let (dir, db) = common::temp_db();
    let mut txn = db.begin_write().unwrap();
    txn.put(b"a", b"1").unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.put(b"a", b"2").unwrap();
    txn.put(b"b", b"2").unwrap();
    txn.commit().unwrap();
    dir
}

#[test]
fn flipped_bit_in_the_newest_meta_recovers_every_commit_from_the_log() {
    let dir = database_with_two_commits();
    // Closing checkpointed txn 2 into meta page 0 (a new database holds txn 0 in both
    // slots and opens from page 1, so the first checkpoint goes to page 0).
    flip_bit(dir.path(), 0, 60);
    {
        let db = Db::open(dir.path(), common::verified()).unwrap();
        let report = db.recovery_report().clone();
        assert_eq!(
            report.checkpoint_txn_id, 0,
            "the damaged meta lost to the older one"
        );
        assert_eq!(report.replayed_txns, 2, "the log holds both commits");
        assert_eq!(db.last_txn_id(), 2);
        let read = db.begin_read().unwrap();
        assert_eq!(read.get(b"a").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(read.get(b"b").unwrap().as_deref(), Some(&b"2"[..]));
        drop(read);
        assert!(db.check().unwrap().is_ok());
    }
    // Recovery checkpointed into the damaged slot, replacing it.
    let db = Db::open(dir.path(), common::verified()).unwrap();
    assert_eq!(db.recovery_report().checkpoint_txn_id, 2);
    assert_eq!(db.recovery_report().replayed_txns, 0);
    let report = db.check().unwrap();
    assert!(report.is_ok() && report.warnings.is_empty(), "{report:?}");
}

#[test]
fn flipped_bit_in_the_older_meta_changes_nothing() {
    let dir = database_with_two_commits();
    flip_bit(dir.path(), 1, 200);
    let db = Db::open(dir.path(), common::verified()).unwrap();
    assert_eq!(db.last_txn_id(), 2);
    assert_eq!(
        db.begin_read().unwrap().get(b"b").unwrap().as_deref(),
        Some(&b"2"[..])
    );
}

#[test]
fn flipped_bits_in_both_metas_are_corrupt_naming_both() {
    let dir = database_with_two_commits();
    flip_bit(dir.path(), 0, 60);
    flip_bit(dir.path(), 1, 60);
    match open_fails(dir.path()) {
        Error::Corrupt {
            page: None, detail, ..
        } => {
            assert!(
                detail.contains("page 0") && detail.contains("page 1"),
                "{detail}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn newer_format_version_is_unsupported() {
    let dir = database_with_two_commits();
    let mut bytes = file_bytes(dir.path());
    for slot in 0..2 {
        let page = &mut bytes[slot * PAGE_SIZE..(slot + 1) * PAGE_SIZE];
        page[OFFSET_META_VERSION..OFFSET_META_VERSION + 4].copy_from_slice(&2u32.to_le_bytes());
        page::seal(page);
        assert!(page::verify(page, slot as u64).is_ok());
    }
    std::fs::write(page_file(dir.path()), &bytes).unwrap();
    match open_fails(dir.path()) {
        Error::UnsupportedVersion {
            found, supported, ..
        } => assert_eq!((found, supported), (2, 1)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn second_open_in_the_same_process_is_locked() {
    let (dir, db) = common::temp_db();
    match Db::open(dir.path(), Options::default()) {
        Err(Error::Locked { path }) => assert_eq!(path, common::lock_file(dir.path())),
        other => panic!("{:?}", other.err()),
    }
    drop(db);
    Db::open(dir.path(), Options::default()).expect("open after the first handle closed");
}

/// Environment variable that turns [`helper_process_holds_a_database_open`] into the
/// other process of [`open_held_by_another_process_is_locked`].
const HOLD_DIR_ENV: &str = "NORTHSTAR_TEST_HOLD_DB";
const HOLDING: &str = "northstar-helper-is-holding-the-database";

/// Does nothing in a normal run. Run by [`open_held_by_another_process_is_locked`] in a
/// child process: opens the database, says so, and holds it until stdin closes.
#[test]
fn helper_process_holds_a_database_open() {
    let Ok(dir) = std::env::var(HOLD_DIR_ENV) else {
        return;
    };
    let db = Db::open(dir, Options::default()).unwrap();
    println!("\n{HOLDING}");
    std::io::stdout().flush().unwrap();
    let mut rest = String::new();
    let _ = std::io::stdin().read_line(&mut rest);
    drop(db);
}

/// Kills the child if the test fails before it ends on its own.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn open_held_by_another_process_is_locked() {
    let (dir, db) = common::temp_db();
    drop(db);
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_process_holds_a_database_open",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLD_DIR_ENV, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the helper process");
    let mut child = ChildGuard(child);
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    let holding = lines.by_ref().map_while(Result::ok).any(|line| {
        said.push(line.clone());
        line.contains(HOLDING)
    });
    assert!(
        holding,
        "the helper process did not open the database: {said:?}"
    );
    match Db::open(dir.path(), Options::default()) {
        Err(Error::Locked { .. }) => {}
        other => panic!(
            "open while another process holds the database: {:?}",
            other.err()
        ),
    }
    // Closing its stdin lets the helper finish; read its output to the end so it never
    // writes to a closed pipe.
    drop(child.0.stdin.take());
    lines.for_each(drop);
    assert!(child.0.wait().unwrap().success());
    Db::open(dir.path(), Options::default()).expect("open after the other process ended");
}

#[test]
fn oversize_key_is_rejected_and_the_largest_and_empty_keys_work() {
    let (dir, db) = common::temp_db();
    let largest = vec![0xEE; KEY_SIZE_MAX];
    let mut txn = db.begin_write().unwrap();
    let oversize = vec![b'k'; KEY_SIZE_MAX + 1];
    match txn.put(&oversize, b"v") {
        Err(Error::KeyTooLarge { len, max }) => {
            assert_eq!((len, max), (KEY_SIZE_MAX + 1, KEY_SIZE_MAX))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        txn.delete(&oversize),
        Err(Error::KeyTooLarge { .. })
    ));
    txn.create_keyspace("named").unwrap();
    assert!(matches!(
        txn.keyspace("named").unwrap().put(&oversize, b""),
        Err(Error::KeyTooLarge { .. })
    ));
    // A rejected key does not spoil the txn.
    txn.put(&largest, b"largest").unwrap();
    txn.put(b"", b"empty").unwrap();
    txn.put(b"middle", b"m").unwrap();
    txn.keyspace("named")
        .unwrap()
        .put(&largest, vec![3; 20_000])
        .unwrap();
    txn.keyspace("named").unwrap().put(b"", b"").unwrap();
    txn.commit().unwrap();
    drop(db);

    let db = Db::open(dir.path(), common::verified()).unwrap();
    let read = db.begin_read().unwrap();
    assert!(matches!(
        read.get(&oversize),
        Ok(None) | Err(Error::KeyTooLarge { .. })
    ));
    assert_eq!(
        read.get(&largest).unwrap().as_deref(),
        Some(&b"largest"[..])
    );
    assert_eq!(read.get(b"").unwrap().as_deref(), Some(&b"empty"[..]));
    assert_eq!(
        common::keys(read.iter().unwrap()),
        [b"".to_vec(), b"middle".to_vec(), largest.clone()]
    );
    assert_eq!(read.first().unwrap().unwrap().0, b"");
    assert_eq!(read.last().unwrap().unwrap().0, &largest[..]);
    assert_eq!(common::keys(read.range(..=&largest[..]).unwrap()).len(), 3);
    assert_eq!(common::keys(read.prefix(&largest).unwrap()).len(), 1);
    let named = read.keyspace("named").unwrap();
    assert_eq!(
        named.get(&largest).unwrap().as_deref(),
        Some(&[3; 20_000][..])
    );
    assert_eq!(named.get(b"").unwrap().as_deref(), Some(&b""[..]));
    drop(read);

    let mut txn = db.begin_write().unwrap();
    assert!(txn.delete(&largest).unwrap());
    assert!(txn.delete(b"").unwrap());
    assert!(txn.keyspace("named").unwrap().delete(&largest).unwrap());
    txn.commit().unwrap();
    assert_eq!(
        common::keys(db.begin_read().unwrap().iter().unwrap()),
        [b"middle".to_vec()]
    );
}

#[test]
fn oversize_value_is_rejected() {
    let (_dir, db) = common::temp_db();
    // Zeroed memory from the allocator: the pages are never touched, so this costs no RAM.
    let oversize = vec![0u8; VALUE_SIZE_MAX + 1];
    let mut txn = db.begin_write().unwrap();
    match txn.put(b"k", &oversize) {
        Err(Error::ValueTooLarge { len, max }) => {
            assert_eq!((len, max), (VALUE_SIZE_MAX + 1, VALUE_SIZE_MAX))
        }
        other => panic!("{other:?}"),
    }
    txn.put(b"k", b"small").unwrap();
    txn.commit().unwrap();
    assert_eq!(db.begin_read().unwrap().len(), 1);
}

#[test]
fn value_of_64_mib_round_trips() {
    let (dir, db) = common::temp_db();
    let len = 64 << 20;
    let value: Vec<u8> = Rng::new(64).bytes(len);
    let mut txn = db.begin_write().unwrap();
    txn.put(b"big", &value).unwrap();
    txn.put(b"after", b"small").unwrap();
    assert!(
        *txn.get(b"big").unwrap().unwrap() == value[..],
        "the writer reads its own large value"
    );
    txn.commit().unwrap();
    drop(db);

    let db = Db::open(dir.path(), common::verified()).unwrap();
    let read = db.begin_read().unwrap();
    assert!(*read.get(b"big").unwrap().unwrap() == value[..]);
    let report = db.check().unwrap();
    assert!(report.trees[0].overflow_pages >= (len / (PAGE_SIZE - 32)) as u64);
    drop(read);
    let pages = report.page_count;

    let mut txn = db.begin_write().unwrap();
    assert!(txn.delete(b"big").unwrap());
    txn.commit().unwrap();
    // Once freed and checkpointed, the run is reused for the next large value instead of
    // growing the file.
    db.checkpoint().unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.put(b"big again", &value[..len / 2]).unwrap();
    txn.commit().unwrap();
    let report = db.check().unwrap();
    assert!(
        report.page_count <= pages + 4,
        "{} pages, {pages} before",
        report.page_count
    );
    assert!(*db.begin_read().unwrap().get(b"big again").unwrap().unwrap() == value[..len / 2]);
}

#[test]
fn bad_keyspace_names_are_rejected() {
    let (dir, db) = common::temp_db();
    let mut txn = db.begin_write().unwrap();
    assert!(
        matches!(txn.create_keyspace(""), Err(Error::InvalidKeyspaceName(name)) if name.is_empty())
    );
    let too_long = "n".repeat(KEYSPACE_NAME_SIZE_MAX + 1);
    assert!(matches!(
        txn.create_keyspace(&too_long),
        Err(Error::InvalidKeyspaceName(_))
    ));
    let longest = "n".repeat(KEYSPACE_NAME_SIZE_MAX);
    txn.create_keyspace(&longest).unwrap();
    txn.create_keyspace("ünïcödé ✓").unwrap();
    assert!(
        matches!(txn.create_keyspace(&longest), Err(Error::KeyspaceExists(name)) if name == longest)
    );
    assert!(
        matches!(txn.keyspace("missing").err(), Some(Error::KeyspaceNotFound(name)) if name == "missing")
    );
    assert!(!txn.drop_keyspace("missing").unwrap());
    txn.keyspace(&longest).unwrap().put(b"k", b"v").unwrap();
    // None of the errors spoiled the txn.
    txn.commit().unwrap();
    drop(db);

    let db = Db::open(dir.path(), common::verified()).unwrap();
    let read = db.begin_read().unwrap();
    let mut names = vec![longest.clone(), "ünïcödé ✓".to_string()];
    names.sort();
    assert_eq!(read.keyspaces().unwrap(), names);
    assert!(matches!(
        read.keyspace("missing").err(),
        Some(Error::KeyspaceNotFound(_))
    ));
    assert!(matches!(
        read.keyspace("").err(),
        Some(Error::KeyspaceNotFound(_))
    ));
    assert_eq!(
        read.keyspace(&longest)
            .unwrap()
            .get(b"k")
            .unwrap()
            .as_deref(),
        Some(&b"v"[..])
    );
    let mut txn = db.begin_write().unwrap();
    assert!(matches!(
        txn.create_keyspace("ünïcödé ✓"),
        Err(Error::KeyspaceExists(_))
    ));
}
