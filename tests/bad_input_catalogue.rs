//! A catalogue of bad input, each case with the typed error it must give and every file
//! left byte-for-byte as it was: the page file cut at every page boundary, the meta's page
//! size and format version changed, the log header and records of another version, a
//! second open from another process and from this one, keys and values of size 0, max and
//! max + 1, and O_DIRECT refused by the file system.
//!
//! Every test holds `common::child::hold_databases` while it has databases open, so the
//! helper process of the lock test never starts with a copy of their locks.
//!
//! `tests/bad_input.rs` has the single cases (random bytes, flipped bits per page kind, a
//! newer version in both metas); this file walks each kind of bad input through all its
//! values.

mod common;

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::child::{hold_databases, say, wait_for_stdin_to_close, Helper};
use common::{assert_state, empty_state, lock_file, log_file, page_file, read_state, State};
use northstar::format::frame::{LogHeader, LOG_HEADER_SIZE, LOG_VERSION};
use northstar::format::meta::FORMAT_VERSION;
use northstar::format::page;
use northstar::log::Scanner;
use northstar::{Db, Error, Options, KEY_SIZE_MAX, PAGE_SIZE, VALUE_SIZE_MAX};

const OFFSET_META_VERSION: usize = 40;
const OFFSET_META_PAGE_SIZE: usize = 44;
const OFFSET_LOG_VERSION: usize = 8;
const OFFSET_LOG_HEADER_SIZE: usize = 12;
const OFFSET_LOG_HEADER_CRC: usize = 60;
const OFFSET_RECORD_VERSION: usize = 4;

/// Both files of a database directory.
#[derive(PartialEq, Eq)]
struct Files {
    pages: Option<Vec<u8>>,
    log: Option<Vec<u8>>,
}

fn files(dir: &Path) -> Files {
    Files {
        pages: std::fs::read(page_file(dir)).ok(),
        log: std::fs::read(log_file(dir)).ok(),
    }
}

/// Opens `dir` expecting an error; checks neither file changed.
fn open_fails(dir: &Path, context: &str) -> Error {
    let before = files(dir);
    let error = match Db::open(dir, Options::default()) {
        Ok(db) => panic!("{context}: open succeeded at txn {}", db.last_txn_id()),
        Err(error) => error,
    };
    assert!(
        files(dir) == before,
        "{context}: a refused open changed a file"
    );
    error
}

fn key(n: u64) -> Vec<u8> {
    format!("key{n:05}").into_bytes()
}

/// A small closed database (a couple of leaves, a value in overflow pages, a named
/// keyspace) and its state.
fn small_database() -> (tempfile::TempDir, State) {
    let dir = tempfile::tempdir().unwrap();
    let mut state = empty_state();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut txn = db.begin_write().unwrap();
    for n in 0..300 {
        txn.put(key(n), vec![n as u8; 100]).unwrap();
        state
            .get_mut("")
            .unwrap()
            .insert(key(n), vec![n as u8; 100]);
    }
    txn.put(b"large", vec![7u8; 40_000]).unwrap();
    state
        .get_mut("")
        .unwrap()
        .insert(b"large".to_vec(), vec![7u8; 40_000]);
    txn.create_keyspace("named").unwrap();
    txn.keyspace("named").unwrap().put(b"k", b"v").unwrap();
    state.insert("named".into(), [(b"k".to_vec(), b"v".to_vec())].into());
    txn.commit().unwrap();
    db.close().unwrap();
    (dir, state)
}

fn meta_page_count(page_file: &[u8]) -> u64 {
    (0..2)
        .filter_map(|slot| {
            let bytes = &page_file[slot * PAGE_SIZE..(slot + 1) * PAGE_SIZE];
            page::verify(bytes, slot as u64).ok()?;
            northstar::format::meta::Meta::decode_body(bytes).ok()
        })
        .max_by_key(|meta| meta.txn_id)
        .expect("a valid meta")
        .page_count
}

#[test]
fn page_file_cut_at_every_page_boundary_is_refused_until_every_page_in_use_is_there() {
    let _open = hold_databases();
    let (dir, state) = small_database();
    let full = common::file_bytes(dir.path());
    let page_count = meta_page_count(&full) as usize;
    let file_pages = full.len() / PAGE_SIZE;
    assert!(
        page_count > 4 && file_pages > page_count,
        "{page_count} of {file_pages}"
    );
    let mut cuts: Vec<usize> = (0..=file_pages).map(|page| page * PAGE_SIZE).collect();
    cuts.extend(
        (0..page_count).flat_map(|page| [page * PAGE_SIZE + 1, page * PAGE_SIZE + PAGE_SIZE / 2]),
    );
    let (mut refused, mut opened) = (0, 0);
    for len in cuts {
        let context = format!("page file cut at byte {len} ({page_count} pages in use)");
        std::fs::write(page_file(dir.path()), &full[..len]).unwrap();
        if len >= page_count * PAGE_SIZE {
            let before = files(dir.path());
            let db = Db::open(dir.path(), Options::default())
                .unwrap_or_else(|error| panic!("{context}: {error}"));
            assert_state(&read_state(&db), &state, &context);
            assert!(db.check().unwrap().is_ok(), "{context}");
            drop(db);
            assert!(
                files(dir.path()) == before,
                "{context}: a read-only session changed a file"
            );
            opened += 1;
            continue;
        }
        match open_fails(dir.path(), &context) {
            Error::NotADatabase { detail, .. } if len < PAGE_SIZE => {
                let expected = if len == 0 {
                    "empty"
                } else {
                    "shorter than one page"
                };
                assert!(detail.contains(expected), "{context}: {detail}");
            }
            Error::Corrupt {
                page: None, detail, ..
            } if len >= PAGE_SIZE => {
                assert!(detail.contains("truncated"), "{context}: {detail}")
            }
            other => panic!("{context}: {other:?}"),
        }
        refused += 1;
    }
    // Cut right after the last page in use: the next commit grows the file again.
    std::fs::write(page_file(dir.path()), &full[..page_count * PAGE_SIZE]).unwrap();
    let db = Db::open(dir.path(), common::verified()).unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.put(b"after the cut", vec![1u8; 50_000]).unwrap();
    txn.commit().unwrap();
    drop(db);
    let db = Db::open(dir.path(), common::verified()).unwrap();
    assert!(db
        .begin_read()
        .unwrap()
        .get(b"after the cut")
        .unwrap()
        .is_some());
    println!("page file cuts: {refused} refused, {opened} opened whole ({page_count} pages in use, {file_pages} in the file)");
}

/// The page file with `change` made to meta slots `slots`, each resealed.
fn with_meta_change(full: &[u8], slots: &[usize], change: impl Fn(&mut [u8])) -> Vec<u8> {
    let mut bytes = full.to_vec();
    for slot in slots {
        let meta = &mut bytes[slot * PAGE_SIZE..(slot + 1) * PAGE_SIZE];
        change(meta);
        page::seal(meta);
        assert!(page::verify(meta, *slot as u64).is_ok());
    }
    bytes
}

/// Meta slots: the one holding the newest meta first, then the other.
fn slots_newest_first(full: &[u8]) -> [usize; 2] {
    let txn = |slot: usize| {
        let bytes = &full[slot * PAGE_SIZE..(slot + 1) * PAGE_SIZE];
        northstar::format::meta::Meta::decode_body(bytes)
            .unwrap()
            .txn_id
    };
    if txn(0) >= txn(1) {
        [0, 1]
    } else {
        [1, 0]
    }
}

#[test]
fn page_size_field_changed_in_both_metas_is_corrupt_and_in_one_recovers_from_the_other() {
    let _open = hold_databases();
    let (dir, state) = small_database();
    let full = common::file_bytes(dir.path());
    let [newest, older] = slots_newest_first(&full);
    for size in [0u32, 512, 4096, 8192, 16383, 16385, 32768, 65536, u32::MAX] {
        let context = format!("page size {size} in both metas");
        let set = |meta: &mut [u8]| {
            meta[OFFSET_META_PAGE_SIZE..OFFSET_META_PAGE_SIZE + 4]
                .copy_from_slice(&size.to_le_bytes())
        };
        std::fs::write(page_file(dir.path()), with_meta_change(&full, &[0, 1], set)).unwrap();
        match open_fails(dir.path(), &context) {
            Error::Corrupt {
                page: None, detail, ..
            } => assert!(
                detail.contains(&format!("page size {size}"))
                    && detail.contains("page 0")
                    && detail.contains("page 1"),
                "{context}: {detail}"
            ),
            other => panic!("{context}: {other:?}"),
        }
        // One slot only: the other meta and the log hold everything.
        for slot in [newest, older] {
            let context = format!("page size {size} in meta {slot}");
            std::fs::write(page_file(dir.path()), with_meta_change(&full, &[slot], set)).unwrap();
            let db = Db::open(dir.path(), Options::default())
                .unwrap_or_else(|error| panic!("{context}: {error}"));
            assert_state(&read_state(&db), &state, &context);
            drop(db);
        }
    }
}

#[test]
fn other_format_versions_are_unsupported_in_either_meta() {
    let _open = hold_databases();
    let (dir, _) = small_database();
    let full = common::file_bytes(dir.path());
    let [newest, older] = slots_newest_first(&full);
    // Version 0 (before page references carried their writer txn) included.
    let versions = [0u32, 1, 2, 3, 0x0100, u32::MAX];
    for version in versions
        .into_iter()
        .filter(|version| *version != FORMAT_VERSION)
    {
        for (which, slots) in [
            ("both metas", vec![0, 1]),
            ("the newest meta", vec![newest]),
            ("the older meta", vec![older]),
        ] {
            let context = format!("format version {version} in {which}");
            let set = |meta: &mut [u8]| {
                meta[OFFSET_META_VERSION..OFFSET_META_VERSION + 4]
                    .copy_from_slice(&version.to_le_bytes())
            };
            std::fs::write(page_file(dir.path()), with_meta_change(&full, &slots, set)).unwrap();
            match open_fails(dir.path(), &context) {
                Error::UnsupportedVersion {
                    path,
                    found,
                    supported,
                } => {
                    assert_eq!((found, supported), (version, FORMAT_VERSION), "{context}");
                    assert_eq!(path, page_file(dir.path()), "{context}");
                }
                other => panic!("{context}: {other:?}"),
            }
        }
    }
}

/// A change to the bytes of a log.
type LogChange = Box<dyn Fn(&mut Vec<u8>)>;

fn reseal_log_header(log: &mut [u8]) {
    let crc = crc32c(&log[..OFFSET_LOG_HEADER_CRC]);
    log[OFFSET_LOG_HEADER_CRC..OFFSET_LOG_HEADER_CRC + 4].copy_from_slice(&crc.to_le_bytes());
}

/// CRC32C (Castagnoli), bitwise: the tests reseal headers without the store's code.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn log_header_of_another_version_size_magic_or_database_is_corrupt_at_offset_zero() {
    let _open = hold_databases();
    let (dir, _) = small_database();
    let log = std::fs::read(log_file(dir.path())).unwrap();
    let set_u32 = |offset: usize, value: u32| {
        move |log: &mut Vec<u8>| log[offset..offset + 4].copy_from_slice(&value.to_le_bytes())
    };
    let cases: Vec<(&str, &str, LogChange)> = vec![
        (
            "the next log version",
            "version",
            Box::new(set_u32(OFFSET_LOG_VERSION, LOG_VERSION + 1)),
        ),
        (
            "log version u32::MAX",
            "version",
            Box::new(set_u32(OFFSET_LOG_VERSION, u32::MAX)),
        ),
        (
            "header size 128",
            "header size 128",
            Box::new(set_u32(OFFSET_LOG_HEADER_SIZE, 128)),
        ),
        (
            "header size 0",
            "header size 0",
            Box::new(set_u32(OFFSET_LOG_HEADER_SIZE, 0)),
        ),
        (
            "another magic",
            "magic",
            Box::new(|log: &mut Vec<u8>| log[..8].copy_from_slice(b"NSLOG\0\0\x01")),
        ),
    ];
    for (what, says, change) in cases {
        let mut damaged = log.clone();
        change(&mut damaged);
        reseal_log_header(&mut damaged);
        std::fs::write(log_file(dir.path()), &damaged).unwrap();
        match open_fails(dir.path(), what) {
            Error::Corrupt {
                path,
                offset,
                detail,
                ..
            } => {
                assert_eq!((path, offset), (log_file(dir.path()), Some(0)), "{what}");
                assert!(detail.contains(says), "{what}: {detail}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

/// A crash image whose log holds three records after the checkpoint, and the offsets of
/// those records (found by the store's own scanner: the layout between records is the log
/// format's business).
fn image_with_three_records_to_replay() -> (tempfile::TempDir, Vec<usize>) {
    let (_live, db) = common::temp_db();
    for n in 0..3u8 {
        let mut txn = db.begin_write().unwrap();
        txn.put([n], [n; 10]).unwrap();
        txn.commit().unwrap();
    }
    let image = common::crash_image(&db);
    drop(db);
    let log = std::fs::read(log_file(image.path())).unwrap();
    let header = LogHeader::decode(&log).unwrap();
    let offsets: Vec<usize> = Scanner::new(
        &log,
        LOG_HEADER_SIZE as u64,
        header.first_txn_id,
        header.database_id,
    )
    .map(|(offset, _)| offset as usize)
    .collect();
    assert_eq!(offsets.len(), 3);
    (image, offsets)
}

/// A record version no build writes yet. The version byte is read first: a reader cannot
/// know where a record of an unknown version keeps its checksum, so none is resealed.
const FUTURE_RECORD_VERSION: u8 = 127;

#[test]
fn log_record_of_another_version_before_the_last_is_refused_naming_its_offset() {
    let _open = hold_databases();
    let (image, offsets) = image_with_three_records_to_replay();
    let mut log = std::fs::read(log_file(image.path())).unwrap();
    log[offsets[1] + OFFSET_RECORD_VERSION] = FUTURE_RECORD_VERSION;
    std::fs::write(log_file(image.path()), &log).unwrap();
    match open_fails(image.path(), "record of a future version in the middle") {
        Error::Corrupt {
            path,
            offset,
            detail,
            ..
        } => {
            assert_eq!(
                (path, offset),
                (log_file(image.path()), Some(offsets[1] as u64))
            );
            assert!(detail.contains("version"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

/// A log never holds records newer than its header's version (a newer format bumps the
/// header, which this build refuses up front), so an unknown record version in a log this
/// build reads is damage: at the end, a torn tail that is cut and reported.
#[test]
fn log_record_of_an_unknown_version_at_the_end_is_damage_and_cut() {
    let _open = hold_databases();
    let (image, offsets) = image_with_three_records_to_replay();
    let mut log = std::fs::read(log_file(image.path())).unwrap();
    log[offsets[2] + OFFSET_RECORD_VERSION] = FUTURE_RECORD_VERSION;
    std::fs::write(log_file(image.path()), &log).unwrap();
    let db = Db::open(image.path(), Options::default()).expect("open cuts the damaged tail");
    let report = db.recovery_report().clone();
    let (offset, _, detail) = report.log_truncated.expect("the cut is reported");
    assert!(
        offset <= offsets[2] as u64,
        "cut at {offset}, record at {}",
        offsets[2]
    );
    assert!(detail.contains("version"), "{detail}");
    assert!(db.check().unwrap().is_ok());
}

/// Environment variable that turns [`helper_process_holds_a_database_open_for_the_catalogue`]
/// into the other process of [`second_open_from_another_process_or_this_one_is_locked`].
const HOLDER_DIR_ENV: &str = "NORTHSTAR_CATALOGUE_HOLDER_DIR";

/// Does nothing in a normal run. In a helper process: opens the database, says so, and
/// holds it until stdin closes.
#[test]
fn helper_process_holds_a_database_open_for_the_catalogue() {
    let Ok(dir) = std::env::var(HOLDER_DIR_ENV) else {
        return;
    };
    let db = Db::open(&dir, Options::default()).expect("helper opens the database");
    say(&format!("opened {}", db.last_txn_id()));
    wait_for_stdin_to_close();
}

fn expect_locked(dir: &Path, options: Options, context: &str) {
    let before = files(dir);
    match Db::open(dir, options) {
        Err(Error::Locked { path }) => assert_eq!(path, lock_file(dir), "{context}"),
        other => panic!("{context}: {:?}", other.map(|db| db.last_txn_id())),
    }
    assert!(
        files(dir) == before,
        "{context}: a refused open changed a file"
    );
}

#[test]
fn second_open_from_another_process_or_this_one_is_locked() {
    let open = hold_databases();
    let (dir, state) = small_database();
    // This process, with the first handle idle, and with its write txn open.
    let db = Db::open(dir.path(), Options::default()).unwrap();
    expect_locked(
        dir.path(),
        Options::default(),
        "second handle in this process",
    );
    expect_locked(
        dir.path(),
        Options::default().create(false),
        "second handle, create(false)",
    );
    let mut txn = db.begin_write().unwrap();
    txn.put(b"during", b"the refused open").unwrap();
    expect_locked(
        dir.path(),
        Options::default(),
        "second handle while a write txn is open",
    );
    txn.commit()
        .expect("the first handle goes on after the refused opens");
    drop(db);
    drop(open);

    // Another process.
    let scratch = tempfile::tempdir().unwrap();
    let stderr = scratch.path().join("helper.stderr");
    let mut helper = Helper::spawn(
        "helper_process_holds_a_database_open_for_the_catalogue",
        &[(HOLDER_DIR_ENV, dir.path().display().to_string())],
        &stderr,
    );
    helper.expect_line("opened", Duration::from_secs(60));
    let _open = hold_databases();
    expect_locked(dir.path(), Options::default(), "held by another process");
    expect_locked(
        dir.path(),
        Options::default().create(false),
        "held by another process, create(false)",
    );
    helper.finish();
    let db = Db::open(dir.path(), Options::default()).expect("open once the other process ended");
    let mut expected = state;
    expected
        .get_mut("")
        .unwrap()
        .insert(b"during".to_vec(), b"the refused open".to_vec());
    assert_state(&read_state(&db), &expected, "after the locked opens");
}

#[test]
fn keys_and_values_of_size_zero_and_max_work_and_max_plus_one_is_refused_untouched() {
    let _open = hold_databases();
    let (dir, db) = common::temp_db();
    let before = files(dir.path());
    let mut txn = db.begin_write().unwrap();
    let over_key = vec![b'k'; KEY_SIZE_MAX + 1];
    for (what, result) in [
        ("put", txn.put(&over_key, b"v")),
        ("delete", txn.delete(&over_key).map(drop)),
    ] {
        match result {
            Err(Error::KeyTooLarge { len, max }) => {
                assert_eq!((len, max), (KEY_SIZE_MAX + 1, KEY_SIZE_MAX), "{what}")
            }
            other => panic!("{what} of a key of max + 1 bytes: {other:?}"),
        }
    }
    // Lazily zeroed by the allocator: costs address space, not memory.
    let over_value = vec![0u8; VALUE_SIZE_MAX + 1];
    match txn.put(b"k", &over_value) {
        Err(Error::ValueTooLarge { len, max }) => {
            assert_eq!((len, max), (VALUE_SIZE_MAX + 1, VALUE_SIZE_MAX))
        }
        other => panic!("put of a value of max + 1 bytes: {other:?}"),
    }
    drop(over_value);
    txn.abort();
    assert!(files(dir.path()) == before, "refused puts wrote to a file");

    let max_key = vec![0xEE; KEY_SIZE_MAX];
    let mut txn = db.begin_write().unwrap();
    txn.put(b"", b"").unwrap();
    txn.put(&max_key, b"").unwrap();
    txn.put(b"empty value", b"").unwrap();
    txn.commit().unwrap();
    drop(db);
    let db = Db::open(dir.path(), common::verified()).unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.get(b"").unwrap().as_deref(), Some(&b""[..]));
    assert_eq!(read.get(&max_key).unwrap().as_deref(), Some(&b""[..]));
    assert_eq!(read.get(b"empty value").unwrap().as_deref(), Some(&b""[..]));
    assert!(matches!(
        read.get(&over_key),
        Ok(None) | Err(Error::KeyTooLarge { .. })
    ));
}

#[test]
fn value_of_exactly_the_maximum_size_is_accepted() {
    let _open = hold_databases();
    let (_dir, db) = common::temp_db();
    // 1 GiB of zeros the allocator maps lazily; the put writes its 65,601 overflow pages
    // and copies the value into the txn's commit record (1 GiB of memory until the end of
    // the txn). Reading it back or committing would cost another GiB or two; the accepted
    // put is the point here.
    let max_value = vec![0u8; VALUE_SIZE_MAX];
    let mut txn = db.begin_write().unwrap();
    txn.put(b"max", &max_value)
        .expect("a value of VALUE_SIZE_MAX bytes is accepted");
    assert_eq!(txn.len(), 1);
    txn.abort();
    drop(max_value);
    let mut txn = db.begin_write().unwrap();
    txn.put(b"after", b"the abort").unwrap();
    txn.commit().unwrap();
    assert!(db.check().unwrap().is_ok());
}

/// O_DIRECT's flag value on Linux (it differs between architectures).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
const O_DIRECT: Option<i32> = Some(0o40000);
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
const O_DIRECT: Option<i32> = Some(0o200000);
#[cfg(not(any(
    target_arch = "x86",
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "arm"
)))]
const O_DIRECT: Option<i32> = None;

/// Opens `path` for direct I/O, reporting a refusal as an error naming the file. The
/// store's O_DIRECT backend, when it comes, will make this same check before using it.
fn open_direct(path: &Path, flag: i32) -> northstar::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(flag)
        .open(path)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            op: "open for direct I/O (O_DIRECT)".into(),
            source,
        })
}

/// Where direct I/O is refused here: tmpfs (`/dev/shm`) on kernels before 6.6, else a
/// ramfs if this test may mount one.
fn refusing_file_system(flag: i32) -> Option<(PathBuf, Option<common::mount::Mount>)> {
    let shm = PathBuf::from(format!("/dev/shm/northstar-direct-{}", std::process::id()));
    match open_direct(&shm, flag) {
        Err(_) if Path::new("/dev/shm").is_dir() => return Some((shm, None)),
        Ok(_) => {
            std::fs::remove_file(&shm).unwrap();
            println!("/dev/shm accepts O_DIRECT on this kernel (tmpfs has supported it since 6.6)");
        }
        Err(error) => println!("no /dev/shm: {error}"),
    }
    match common::mount::Mount::new("ramfs", "mode=0700") {
        Ok(mount) => Some((mount.path().join("direct"), Some(mount))),
        Err(why) => {
            println!("skipped: no file system here refuses O_DIRECT ({why})");
            None
        }
    }
}

#[test]
fn o_direct_refused_by_the_file_system_is_an_error_naming_the_file() {
    let Some(flag) = O_DIRECT else {
        println!("skipped: O_DIRECT's value is not known for this architecture");
        return;
    };
    let Some((path, _mount)) = refusing_file_system(flag) else {
        return;
    };
    let error = open_direct(&path, flag).expect_err("the file system refuses O_DIRECT");
    match &error {
        Error::Io {
            path: named,
            source,
            ..
        } => {
            assert_eq!(named, &path);
            // EINVAL: the file system has no direct I/O.
            assert_eq!(source.raw_os_error(), Some(22), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    let _ = std::fs::remove_file(&path);
    println!("O_DIRECT refused as expected: {error}");
}
