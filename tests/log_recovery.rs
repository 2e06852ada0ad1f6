//! Recovery from the commit log, one test per case of the decision table: a torn tail cut
//! at any byte, any flipped bit in the last record, junk after the last record, a damaged
//! record in the middle (refused with both files left as they were, or cut with
//! `LogRecovery::TruncateAtDamage`), a damaged record before the checkpoint (only reads that
//! replay it fail), a log ahead of the meta, a log shorter than its checkpoint, a damaged
//! log header, a missing log or another database's; and `northstar::replay` against the
//! model at every txn.
//!
//! Crash images are copies of a live database's page file and log (see
//! `common::crash_image`), damaged on purpose before they are opened.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{assert_state, empty_state, log_file, read_state, State};
use northstar::format::frame::{encode_record, LogHeader, Op, RecordBuilder, LOG_HEADER_SIZE};
use northstar::log::Scanner;
use northstar::{Db, Error, LogRecovery, Options, RecoveryReport};

/// Verified options with no automatic checkpoint: checkpoints happen where a test says.
fn manual_checkpoints() -> Options {
    common::verified().checkpoint_every(u64::MAX, u64::MAX, Duration::from_secs(3600))
}

/// A crash image of a small database: txns 1 to 6 in the log, the newest checkpoint at
/// txn [`CHECKPOINT`], so recovery replays txns 4 to 6.
struct Image {
    page_file: Vec<u8>,
    log: Vec<u8>,
    /// `states[t]`: every keyspace after txn `t`.
    states: Vec<State>,
    /// `ends[t]`: the log offset just past the record of txn `t` (`ends[0]` is the end of
    /// the file header).
    ends: Vec<u64>,
    database_id: [u8; 16],
}

const CHECKPOINT: u64 = 3;
const LAST: u64 = 6;

impl Image {
    /// Start and length of the log bytes of txn `txn_id`: from the end of the record
    /// before it (so any sector padding in front of the record is included) to its end.
    fn record(&self, txn_id: u64) -> (u64, u64) {
        let (start, end) = (self.ends[txn_id as usize - 1], self.ends[txn_id as usize]);
        (start, end - start)
    }

    /// Where the record of txn `txn_id` itself starts (after any sector padding).
    fn record_start(&self, txn_id: u64) -> u64 {
        Scanner::new(&self.log, LOG_HEADER_SIZE as u64, 1, self.database_id)
            .find(|(_, record)| record.header.txn_id == txn_id)
            .map(|(offset, _)| offset)
            .expect("the record is in the log")
    }

    fn state(&self, txn_id: u64) -> &State {
        &self.states[txn_id as usize]
    }
}

/// Commits one txn made by `change`, which updates the model too; records the new state
/// and the log's length.
fn commit(
    db: &Db,
    states: &mut Vec<State>,
    ends: &mut Vec<u64>,
    change: impl FnOnce(&mut northstar::WriteTxn<'_>, &mut State),
) {
    let mut state = states.last().expect("state of txn 0").clone();
    let mut txn = db.begin_write().unwrap();
    change(&mut txn, &mut state);
    let txn_id = txn.commit().unwrap();
    assert_eq!(txn_id, states.len() as u64);
    assert_state(&read_state(db), &state, &format!("txn {txn_id}"));
    states.push(state);
    ends.push(common::log_len(db));
}

fn put(state: &mut State, keyspace: &str, key: &[u8], value: &[u8]) {
    state
        .get_mut(keyspace)
        .expect("keyspace")
        .insert(key.to_vec(), value.to_vec());
}

fn remove(state: &mut State, keyspace: &str, key: &[u8]) {
    state.get_mut(keyspace).expect("keyspace").remove(key);
}

/// Builds the [`Image`]: keyspaces created, overflow values, deletes in several keyspaces.
fn image() -> Image {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), manual_checkpoints()).unwrap();
    let mut states = vec![empty_state()];
    let mut ends = vec![common::log_len(&db)];
    assert_eq!(ends[0], LOG_HEADER_SIZE as u64);
    let big = common::test_value(20_000, 7);
    commit(&db, &mut states, &mut ends, |txn, state| {
        txn.put(b"a", b"1").unwrap();
        txn.put(b"b", b"2").unwrap();
        txn.create_keyspace("users").unwrap();
        txn.keyspace("users").unwrap().put(b"u1", b"ada").unwrap();
        put(state, "", b"a", b"1");
        put(state, "", b"b", b"2");
        state.insert("users".into(), Default::default());
        put(state, "users", b"u1", b"ada");
    });
    commit(&db, &mut states, &mut ends, |txn, state| {
        txn.put(b"big", &big).unwrap();
        txn.keyspace("users").unwrap().put(b"u2", b"bob").unwrap();
        put(state, "", b"big", &big);
        put(state, "users", b"u2", b"bob");
    });
    commit(&db, &mut states, &mut ends, |txn, state| {
        assert!(txn.delete(b"a").unwrap());
        txn.put(b"c", b"3").unwrap();
        remove(state, "", b"a");
        put(state, "", b"c", b"3");
    });
    db.checkpoint().unwrap();
    commit(&db, &mut states, &mut ends, |txn, state| {
        txn.create_keyspace("orders").unwrap();
        txn.keyspace("orders").unwrap().put(b"o1", b"x").unwrap();
        txn.put(b"d", b"4").unwrap();
        state.insert("orders".into(), Default::default());
        put(state, "orders", b"o1", b"x");
        put(state, "", b"d", b"4");
    });
    commit(&db, &mut states, &mut ends, |txn, state| {
        let value = common::test_value(40, 5);
        txn.put(b"e", &value).unwrap();
        assert!(txn.delete(b"b").unwrap());
        assert!(txn.keyspace("users").unwrap().delete(b"u1").unwrap());
        put(state, "", b"e", &value);
        remove(state, "", b"b");
        remove(state, "users", b"u1");
    });
    commit(&db, &mut states, &mut ends, |txn, state| {
        txn.put(b"f", b"6").unwrap();
        txn.keyspace("users").unwrap().put(b"u3", b"cy").unwrap();
        assert!(txn.delete(b"c").unwrap());
        put(state, "", b"f", b"6");
        put(state, "users", b"u3", b"cy");
        remove(state, "", b"c");
    });
    let crash = common::crash_image(&db);
    let image = Image {
        page_file: common::file_bytes(crash.path()),
        log: std::fs::read(log_file(crash.path())).unwrap(),
        states,
        ends,
        database_id: db.database_id(),
    };
    assert_eq!(image.log.len() as u64, image.ends[LAST as usize]);
    image
}

/// Opens `dir` holding `log` as its log, with `options`.
fn open_with(dir: &Path, image: &Image, log: &[u8], options: Options) -> northstar::Result<Db> {
    common::write_image(dir, &image.page_file, log);
    Db::open(dir, options)
}

/// Asserts that `db` is exactly at txn `txn_id` of the image, and valid.
fn assert_at(db: &Db, image: &Image, txn_id: u64, context: &str) {
    assert_eq!(db.last_txn_id(), txn_id, "{context}: last txn");
    assert_state(&read_state(db), image.state(txn_id), context);
    let report = db.check().unwrap();
    assert!(
        report.is_ok(),
        "{context}: validator: {:?}",
        report.problems
    );
}

/// Asserts the report of an open that cut the log at `offset`, removing `bytes`.
fn assert_cut(report: &RecoveryReport, offset: u64, bytes: u64, last_txn_id: u64, context: &str) {
    assert_eq!(
        report.checkpoint_txn_id, CHECKPOINT,
        "{context}: checkpoint"
    );
    assert_eq!(
        report.replayed_txns,
        last_txn_id - CHECKPOINT,
        "{context}: replayed"
    );
    assert_eq!(report.last_txn_id, last_txn_id, "{context}: last txn");
    match &report.log_truncated {
        Some((at, cut, _)) => assert_eq!((*at, *cut), (offset, bytes), "{context}: cut"),
        None => panic!("{context}: the report does not mention the cut"),
    }
}

/// Commits one more txn after recovery and checks that it survives a reopen.
fn assert_writable_after_recovery(dir: &Path, db: Db, image: &Image, txn_id: u64, context: &str) {
    let mut txn = db.begin_write().unwrap();
    txn.put(b"after", b"recovery").unwrap();
    assert_eq!(txn.commit().unwrap(), txn_id + 1, "{context}: next txn id");
    drop(db);
    let db = Db::open(dir, common::verified()).unwrap();
    assert_eq!(
        db.recovery_report().replayed_txns,
        0,
        "{context}: closed cleanly"
    );
    let mut expected = image.state(txn_id).clone();
    put(&mut expected, "", b"after", b"recovery");
    assert_eq!(db.last_txn_id(), txn_id + 1, "{context}: after reopen");
    assert_state(
        &read_state(&db),
        &expected,
        &format!("{context}: after reopen"),
    );
}

#[test]
fn log_cut_anywhere_inside_the_last_record_loses_only_that_record() {
    let image = image();
    let (start, length) = image.record(LAST);
    let work = tempfile::tempdir().unwrap();
    for cut in start + 1..start + length {
        let context = format!("log cut at {cut}");
        let db = open_with(
            work.path(),
            &image,
            &image.log[..cut as usize],
            manual_checkpoints(),
        )
        .unwrap_or_else(|error| panic!("{context}: {error}"));
        assert_cut(db.recovery_report(), start, cut - start, LAST - 1, &context);
        assert_at(&db, &image, LAST - 1, &context);
        assert_eq!(
            std::fs::metadata(log_file(work.path())).unwrap().len(),
            start,
            "{context}: the torn part is gone from the file"
        );
        assert_writable_after_recovery(work.path(), db, &image, LAST - 1, &context);
    }
}

#[test]
fn log_cut_at_a_record_boundary_after_the_checkpoint_opens_at_that_txn() {
    let image = image();
    let work = tempfile::tempdir().unwrap();
    for txn_id in CHECKPOINT..=LAST {
        let context = format!("log ending after txn {txn_id}");
        let end = image.ends[txn_id as usize] as usize;
        let db = open_with(work.path(), &image, &image.log[..end], manual_checkpoints())
            .unwrap_or_else(|error| panic!("{context}: {error}"));
        let report = db.recovery_report();
        assert_eq!(report.log_truncated, None, "{context}: nothing to cut");
        assert_eq!(
            report.replayed_txns,
            txn_id - CHECKPOINT,
            "{context}: replayed"
        );
        assert_at(&db, &image, txn_id, &context);
        assert_writable_after_recovery(work.path(), db, &image, txn_id, &context);
    }
}

#[test]
fn log_shorter_than_its_checkpoint_is_corrupt_naming_the_log() {
    let image = image();
    let work = tempfile::tempdir().unwrap();
    // The checkpoint synced the log up to its record first, so losing any of that is
    // damage, not a torn append.
    let checkpoint_end = image.ends[CHECKPOINT as usize];
    for cut in [checkpoint_end - 1, image.ends[1], LOG_HEADER_SIZE as u64] {
        let log = &image.log[..cut as usize];
        match open_with(work.path(), &image, log, manual_checkpoints()) {
            Err(Error::Corrupt {
                path,
                offset,
                detail,
                ..
            }) => {
                assert_eq!(path, log_file(work.path()), "cut at {cut}");
                assert_eq!(offset, Some(cut), "cut at {cut}");
                assert!(detail.contains("checkpoint"), "cut at {cut}: {detail}");
            }
            other => panic!("cut at {cut}: {:?}", other.map(|db| db.last_txn_id())),
        }
        assert_eq!(
            std::fs::read(log_file(work.path())).unwrap(),
            log,
            "log left as it was"
        );
    }
}

#[test]
fn flipped_bit_anywhere_in_the_last_record_recovers_the_txn_before_it() {
    let image = image();
    let (start, length) = image.record(LAST);
    let work = tempfile::tempdir().unwrap();
    for bit in start * 8..(start + length) * 8 {
        let context = format!("bit {} of byte {}", bit % 8, bit / 8);
        let mut log = image.log.clone();
        log[(bit / 8) as usize] ^= 1 << (bit % 8);
        let db = open_with(work.path(), &image, &log, manual_checkpoints())
            .unwrap_or_else(|error| panic!("{context}: {error}"));
        assert_cut(db.recovery_report(), start, length, LAST - 1, &context);
        assert_at(&db, &image, LAST - 1, &context);
    }
}

#[test]
fn flipped_bit_in_a_middle_record_is_refused_and_the_files_left_untouched() {
    let image = image();
    let damaged_txn = LAST - 1;
    let (start, length) = image.record(damaged_txn);
    let record_start = image.record_start(damaged_txn);
    let work = tempfile::tempdir().unwrap();
    for bit in start * 8..(start + length) * 8 {
        let context = format!("bit {} of byte {}", bit % 8, bit / 8);
        let mut log = image.log.clone();
        log[(bit / 8) as usize] ^= 1 << (bit % 8);
        // Damage in the sector padding before the record is found where the padding
        // starts; damage in the record, at the record.
        let expected_offset = if bit / 8 < record_start {
            start
        } else {
            record_start
        };
        match open_with(work.path(), &image, &log, manual_checkpoints()) {
            Err(Error::Corrupt {
                path,
                page,
                offset,
                detail,
            }) => {
                assert_eq!(path, log_file(work.path()), "{context}");
                assert_eq!(
                    (page, offset),
                    (None, Some(expected_offset)),
                    "{context}: {detail}"
                );
                assert!(
                    detail.contains(&format!("txn {damaged_txn}")),
                    "{context}: {detail}"
                );
            }
            other => panic!("{context}: {:?}", other.map(|db| db.last_txn_id())),
        }
        assert!(
            std::fs::read(log_file(work.path())).unwrap() == log,
            "{context}: log changed"
        );
        assert!(
            common::file_bytes(work.path()) == image.page_file,
            "{context}: a refused open wrote to the page file"
        );
    }
}

#[test]
fn refused_open_does_not_checkpoint_the_records_before_the_damage() {
    let image = image();
    let damaged_txn = LAST - 1;
    let (start, _) = image.record(damaged_txn);
    let mut log = image.log.clone();
    log[start as usize + 60] ^= 1;
    let work = tempfile::tempdir().unwrap();
    let refused = open_with(work.path(), &image, &log, manual_checkpoints());
    assert!(matches!(refused, Err(Error::Corrupt { .. })));
    // Opening again from what the refused open left must start from the same checkpoint.
    let options = manual_checkpoints().log_recovery(LogRecovery::TruncateAtDamage);
    let db = Db::open(work.path(), options).unwrap();
    let cut = image.log.len() as u64 - start;
    assert_cut(
        db.recovery_report(),
        start,
        cut,
        damaged_txn - 1,
        "second open",
    );
    assert_at(&db, &image, damaged_txn - 1, "second open");
}

#[test]
fn damaged_middle_record_is_cut_with_everything_after_it_when_asked() {
    let image = image();
    let damaged_txn = LAST - 1;
    let (start, length) = image.record(damaged_txn);
    let options = manual_checkpoints().log_recovery(LogRecovery::TruncateAtDamage);
    let work = tempfile::tempdir().unwrap();
    let cut = image.log.len() as u64 - start;
    for byte in start..start + length {
        let context = format!("byte {byte} flipped");
        let mut log = image.log.clone();
        log[byte as usize] ^= 0x10 << (byte % 4);
        let db = open_with(work.path(), &image, &log, options.clone())
            .unwrap_or_else(|error| panic!("{context}: {error}"));
        let report = db.recovery_report();
        assert_cut(report, start, cut, damaged_txn - 1, &context);
        let detail = &report.log_truncated.as_ref().unwrap().2;
        assert!(detail.contains("damaged"), "{context}: {detail}");
        assert_at(&db, &image, damaged_txn - 1, &context);
        assert_eq!(
            std::fs::metadata(log_file(work.path())).unwrap().len(),
            start
        );
        assert_writable_after_recovery(work.path(), db, &image, damaged_txn - 1, &context);
    }
}

#[test]
fn zeros_or_garbage_after_the_last_record_are_cut_and_nothing_is_lost() {
    let image = image();
    let mut rng = common::Rng::new(7);
    let (start, length) = image.record(LAST);
    let last_record = image.log[start as usize..(start + length) as usize].to_vec();
    let next = encode_record(
        LAST + 1,
        &image.database_id,
        &[Op::Put {
            keyspace: 0,
            key: b"g",
            value: b"7",
        }],
    );
    let mut tails: Vec<(&str, Vec<u8>)> = Vec::new();
    for len in [1, 7, 8, 47, 48, 4096] {
        tails.push(("zeros", vec![0; len]));
        tails.push(("garbage", rng.bytes(len)));
    }
    // An append of the next record cut short, and a stray copy of the last one.
    tails.push(("torn next record", next[..next.len() - 1].to_vec()));
    tails.push(("torn next header", next[..20].to_vec()));
    tails.push(("repeated last record", last_record));
    let work = tempfile::tempdir().unwrap();
    for (what, tail) in tails {
        let context = format!("{what} ({} bytes) appended", tail.len());
        let mut log = image.log.clone();
        log.extend_from_slice(&tail);
        let db = open_with(work.path(), &image, &log, manual_checkpoints())
            .unwrap_or_else(|error| panic!("{context}: {error}"));
        assert_cut(
            db.recovery_report(),
            image.log.len() as u64,
            tail.len() as u64,
            LAST,
            &context,
        );
        assert_at(&db, &image, LAST, &context);
        assert_writable_after_recovery(work.path(), db, &image, LAST, &context);
    }
}

#[test]
fn garbage_followed_by_a_valid_record_is_damage_not_a_torn_tail() {
    let image = image();
    // The record after the garbage says the log was durable past the garbage when it was
    // appended: the garbage sits where durable bytes were, so this is damage.
    let mut builder = RecordBuilder::default();
    builder.push(&Op::Put {
        keyspace: 0,
        key: b"g",
        value: b"7",
    });
    let garbage_end = image.log.len() as u64 + 64;
    let next = builder
        .finish(LAST + 1, &image.database_id, garbage_end)
        .to_vec();
    let mut log = image.log.clone();
    log.extend_from_slice(&[0xA5; 64]);
    log.extend_from_slice(&next);
    let work = tempfile::tempdir().unwrap();
    match open_with(work.path(), &image, &log, manual_checkpoints()) {
        Err(Error::Corrupt { path, offset, .. }) => {
            assert_eq!(path, log_file(work.path()));
            assert_eq!(offset, Some(image.log.len() as u64));
        }
        other => panic!("{:?}", other.map(|db| db.last_txn_id())),
    }
    assert!(std::fs::read(log_file(work.path())).unwrap() == log);
}

#[test]
fn log_ahead_of_the_meta_is_replayed_in_full() {
    let seed = common::seed("log_ahead_of_the_meta_is_replayed_in_full");
    let mut rng = common::Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), manual_checkpoints().verify_every_commit(false)).unwrap();
    let mut state = empty_state();
    for _ in 0..150 {
        let count = 1 + rng.index(6);
        state = common::commit_random(&db, &state, &mut rng, count).0;
    }
    let last = db.last_txn_id();
    db.sync().unwrap();
    let image = common::crash_image(&db);
    drop(db);
    let db = Db::open(image.path(), common::verified()).unwrap();
    let report = db.recovery_report().clone();
    assert_eq!(report.checkpoint_txn_id, 0, "no checkpoint ever ran");
    assert_eq!(report.replayed_txns, last);
    assert_eq!(report.last_txn_id, last);
    assert_eq!(report.log_truncated, None);
    assert_state(&read_state(&db), &state, "after replay");
    assert!(db.check().unwrap().is_ok());
    drop(db);
    // Recovery ended with a checkpoint: nothing is replayed twice.
    let db = Db::open(image.path(), common::verified()).unwrap();
    assert_eq!(db.recovery_report().checkpoint_txn_id, last);
    assert_eq!(db.recovery_report().replayed_txns, 0);
    assert_state(&read_state(&db), &state, "after second open");
}

/// A closed database with a few commits.
fn closed_database(key: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), common::verified()).unwrap();
    for n in 0..3u8 {
        let mut txn = db.begin_write().unwrap();
        txn.put(key, [n]).unwrap();
        txn.commit().unwrap();
    }
    db.close().unwrap();
    dir
}

#[test]
fn log_of_another_database_is_refused_naming_both_files() {
    let ours = closed_database(b"ours");
    let theirs = closed_database(b"theirs");
    std::fs::copy(log_file(theirs.path()), log_file(ours.path())).unwrap();
    let before = common::directory_contents(ours.path());
    match Db::open(ours.path(), common::verified()) {
        Err(Error::DatabaseMismatch {
            page_file,
            log,
            page_file_database_id,
            log_database_id,
        }) => {
            assert_eq!(page_file, common::page_file(ours.path()));
            assert_eq!(log, log_file(ours.path()));
            assert_ne!(page_file_database_id, log_database_id);
        }
        other => panic!("{:?}", other.map(|db| db.last_txn_id())),
    }
    assert!(common::directory_contents(ours.path()) == before);
}

#[test]
fn log_header_with_another_database_id_is_refused_naming_both_files() {
    let dir = closed_database(b"key");
    let mut log = std::fs::read(log_file(dir.path())).unwrap();
    let mut header = LogHeader::decode(&log).unwrap();
    header.database_id[0] ^= 0xFF;
    log[..LOG_HEADER_SIZE].copy_from_slice(&header.encode());
    std::fs::write(log_file(dir.path()), &log).unwrap();
    let before = common::directory_contents(dir.path());
    match Db::open(dir.path(), common::verified()) {
        Err(error @ Error::DatabaseMismatch { .. }) => {
            let text = error.to_string();
            assert!(
                text.contains("northstar.db") && text.contains("northstar.log"),
                "{text}"
            );
        }
        other => panic!("{:?}", other.map(|db| db.last_txn_id())),
    }
    assert!(common::directory_contents(dir.path()) == before);
}

#[test]
fn missing_log_after_a_checkpoint_is_a_clear_error() {
    let dir = closed_database(b"key");
    std::fs::remove_file(log_file(dir.path())).unwrap();
    let before = common::directory_contents(dir.path());
    match Db::open(dir.path(), common::verified()) {
        Err(error @ Error::MissingFile { .. }) => {
            let Error::MissingFile { path, detail } = &error else {
                unreachable!()
            };
            assert_eq!(*path, log_file(dir.path()));
            assert!(detail.contains("page file"), "{error}");
        }
        other => panic!("{:?}", other.map(|db| db.last_txn_id())),
    }
    assert!(
        common::directory_contents(dir.path()) == before,
        "open must not make up an empty log or touch the page file"
    );
}

#[test]
fn replay_of_the_log_equals_the_model_at_every_txn() {
    let seed = common::seed("replay_of_the_log_equals_the_model_at_every_txn");
    let mut rng = common::Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    // Checkpoints now and then: replay reads the log alone, whatever the page file holds.
    let options = common::verified().checkpoint_every(17, u64::MAX, Duration::from_secs(3600));
    let db = Db::open(dir.path(), options).unwrap();
    let mut states = vec![empty_state()];
    while states.len() < 120 {
        let count = 1 + rng.index(8);
        let (state, txn_id) = common::commit_random(&db, states.last().unwrap(), &mut rng, count);
        if txn_id == states.len() as u64 {
            assert_state(&read_state(&db), &state, &format!("tree at txn {txn_id}"));
            states.push(state);
        } else {
            assert_state(&state, states.last().unwrap(), "a txn without records");
        }
    }
    let last = db.last_txn_id();
    let check_all = |path: &Path, context: &str| {
        for (txn_id, state) in states.iter().enumerate() {
            let replayed = northstar::replay(path, txn_id as u64)
                .unwrap_or_else(|error| panic!("{context}: replay to {txn_id}: {error}"));
            assert_eq!(replayed.txn_id(), txn_id as u64);
            let names: Vec<String> = state
                .keys()
                .filter(|name| !name.is_empty())
                .cloned()
                .collect();
            assert_eq!(
                replayed.keyspaces(),
                names,
                "{context}: keyspaces at {txn_id}"
            );
            assert_state(
                &replayed.to_maps(),
                state,
                &format!("{context}: replay to txn {txn_id}"),
            );
        }
        match northstar::replay(path, last + 1) {
            Err(Error::FutureTxn { requested, latest }) => {
                assert_eq!((requested, latest), (last + 1, last))
            }
            other => panic!(
                "{context}: replay past the end: {:?}",
                other.map(|r| r.txn_id())
            ),
        }
    };
    check_all(dir.path(), "open database");
    drop(db);
    check_all(&log_file(dir.path()), "closed database, log file path");
}

#[test]
fn as_of_across_a_damaged_record_before_the_checkpoint_names_its_offset() {
    let image = image();
    let damaged_txn = 2;
    let (start, _) = image.record(damaged_txn);
    let mut log = image.log.clone();
    log[start as usize + 50] ^= 4;
    let work = tempfile::tempdir().unwrap();
    // Recovery starts at the checkpoint of txn 3 and never reads the damaged record.
    let db = open_with(work.path(), &image, &log, manual_checkpoints()).unwrap();
    assert_at(&db, &image, LAST, "open");
    let view = db.begin_read_at(damaged_txn - 1).unwrap();
    assert_state(&common::as_of_state(&view), image.state(1), "AS OF txn 1");
    drop(view);
    for txn_id in [damaged_txn, LAST - 1] {
        match db.begin_read_at(txn_id) {
            Err(Error::Corrupt {
                path,
                offset,
                detail,
                ..
            }) => {
                assert_eq!(path, log_file(work.path()), "AS OF {txn_id}");
                assert_eq!(offset, Some(start), "AS OF {txn_id}: {detail}");
                assert!(detail.contains("txn 2"), "AS OF {txn_id}: {detail}");
            }
            other => panic!("AS OF {txn_id}: {:?}", other.map(|view| view.txn_id())),
        }
    }
    match northstar::replay(work.path(), LAST) {
        Err(Error::Corrupt { offset, .. }) => assert_eq!(offset, Some(start)),
        other => panic!("replay: {:?}", other.map(|replayed| replayed.txn_id())),
    }
}

#[test]
fn damaged_or_short_log_header_is_corrupt_at_offset_zero() {
    let dir = closed_database(b"key");
    let log = std::fs::read(log_file(dir.path())).unwrap();
    let page_file = common::file_bytes(dir.path());
    let mut flipped = log.clone();
    flipped[20] ^= 1;
    for (what, damaged) in [
        ("flipped bit", flipped),
        ("short header", log[..10].to_vec()),
    ] {
        common::write_image(dir.path(), &page_file, &damaged);
        match Db::open(dir.path(), common::verified()) {
            Err(Error::Corrupt { path, offset, .. }) => {
                assert_eq!(path, log_file(dir.path()), "{what}");
                assert_eq!(offset, Some(0), "{what}");
            }
            other => panic!("{what}: {:?}", other.map(|db| db.last_txn_id())),
        }
        assert!(
            std::fs::read(log_file(dir.path())).unwrap() == damaged,
            "{what}"
        );
    }
}

#[test]
fn junk_after_the_log_of_a_closed_database_is_cut_and_nothing_is_lost() {
    let dir = closed_database(b"key");
    let log_len = std::fs::metadata(log_file(dir.path())).unwrap().len();
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(log_file(dir.path()))
        .unwrap();
    std::io::Write::write_all(&mut log, &[0; 100]).unwrap();
    drop(log);
    let db = Db::open(dir.path(), common::verified()).unwrap();
    let report = db.recovery_report();
    assert_eq!((report.checkpoint_txn_id, report.replayed_txns), (3, 0));
    assert_eq!(
        report
            .log_truncated
            .as_ref()
            .map(|(at, cut, _)| (*at, *cut)),
        Some((log_len, 100))
    );
    assert_eq!(
        db.begin_read().unwrap().get(b"key").unwrap().as_deref(),
        Some(&[2u8][..])
    );
}
