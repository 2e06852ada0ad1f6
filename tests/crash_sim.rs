//! Crashes on the simulated disk: power loss at every I/O operation of a random workload,
//! torn meta writes, damaged log tails, and crashes during recovery itself.
//!
//! A power loss keeps, loses or garbles each sector written since its file's last sync
//! (see `northstar::io::sim`). Every image must open to a state the workload may have
//! left (`common::sim::check_recovery`): every durable commit, no commit that was never
//! attempted, a passing validator, AS OF reads equal to the model, and the same state on
//! a second open.
//!
//! Two outcomes these tests once found (see `common::sim::KnownIssue`) fail them; the
//! tests at the end reproduce each: a torn append garbling a sector of durable log bytes,
//! and unsynced records reaching the disk out of order.
//!
//! `NORTHSTAR_CRASH_LONG=1` runs many more workloads and power losses per crash point;
//! `NORTHSTAR_CRASH_WORKLOADS` and `NORTHSTAR_CRASH_SEEDS` set the two counts.

mod common;

use common::sim::{
    check_recovery, commit_random_txns, image_seed, manual_checkpoints, names_file, new_disk,
    record_spans, History, Recovered, Run, Tally, Workload, LOG_FILE, PAGE_BYTES, PAGE_FILE,
};
use common::{assert_state, empty_state, env_count, read_state, seed, Rng, State};
use northstar::io::sim::{FaultKind, SimDisk, SECTOR_SIZE};
use northstar::{Db, Durability, Error, LogRecovery};

/// Workloads per durability mode and power losses per crash point.
fn sweep_size() -> (usize, u64) {
    let long = std::env::var("NORTHSTAR_CRASH_LONG").is_ok_and(|value| value == "1");
    let workloads = env_count("NORTHSTAR_CRASH_WORKLOADS", if long { 20 } else { 2 });
    let seeds = env_count("NORTHSTAR_CRASH_SEEDS", if long { 10 } else { 3 });
    (workloads, seeds as u64)
}

/// Runs `workload` once per I/O operation it makes, the disk stopping at that operation
/// for good, and checks `seeds` power-loss images of each.
fn sweep(workload: &Workload, seeds: u64, tally: &mut Tally) {
    let probe_disk = new_disk();
    let probe = workload.run(&probe_disk);
    assert!(probe.error.is_none(), "clean run: {:?}", probe.error);
    let operations = probe_disk.operations();
    drop(probe);
    let options = workload.options();
    // The last point fails nothing: the power goes after the workload finished.
    for point in 1..=operations + 1 {
        let disk = new_disk();
        disk.fail_operation(point - 1, FaultKind::Io, true);
        let run = workload.run(&disk);
        assert!(
            point > operations || run.error.is_some(),
            "workload {}: op {point} of {operations} failed but the run went on",
            workload.seed
        );
        for index in 0..seeds {
            let seed = image_seed(workload.seed, point, index);
            let image = disk.power_loss(seed);
            let context = format!(
                "workload {} ({:?}; repeat with NORTHSTAR_SEED={} NORTHSTAR_CRASH_WORKLOADS=1), \
                 crash at op {point} of {operations}, power loss seed {seed}",
                workload.seed, workload.durability, workload.seed
            );
            // Full history and a replay of the log for one image per point.
            let history = if index == 0 {
                History::EveryTxn
            } else {
                History::Newest
            };
            tally.add(check_recovery(&image, &run, &options, history, &context));
        }
        tally.points += 1;
    }
}

#[test]
fn power_loss_at_every_operation_recovers_a_prefix_holding_every_durable_commit() {
    let base = seed("power_loss_at_every_operation");
    let (workloads, seeds) = sweep_size();
    let mut tally = Tally::default();
    for index in 0..workloads as u64 {
        let workload_seed = base.wrapping_add(index);
        let commits = 30 + (workload_seed % 31) as usize;
        for durability in [Durability::Immediate, Durability::Deferred] {
            let workload = Workload::random(workload_seed, durability, commits);
            sweep(&workload, seeds, &mut tally);
        }
    }
    println!("{tally}");
}

/// A database on a fresh disk: checkpoints in both meta slots, then `tail` commits that no
/// checkpoint covers. Returns a clean image of it (taken while it was open, so the close
/// did not checkpoint them) and the state after every txn.
fn database_image(rng: &mut Rng, tail: usize) -> (SimDisk, Vec<State>) {
    let disk = new_disk();
    let mut states = vec![empty_state()];
    let db = Db::open_on(&disk, manual_checkpoints()).expect("open new database");
    commit_random_txns(&db, &mut states, rng, 6);
    db.checkpoint().expect("checkpoint");
    commit_random_txns(&db, &mut states, rng, 6);
    db.checkpoint().expect("checkpoint");
    commit_random_txns(&db, &mut states, rng, tail);
    let image = disk.snapshot();
    drop(db);
    (image, states)
}

/// `page` of a page file's bytes.
fn page(file: &[u8], page_id: usize) -> &[u8] {
    &file[page_id * PAGE_BYTES..(page_id + 1) * PAGE_BYTES]
}

/// A copy of `disk` with file `name` replaced by `bytes`.
fn with_file(disk: &SimDisk, name: &str, bytes: &[u8]) -> SimDisk {
    let copy = disk.snapshot();
    copy.put_file(name, bytes);
    copy
}

/// The page file of a checkpoint stopped right before its meta write, and the meta page
/// it was about to write: two identical copies of a database run the same commits, the
/// checkpoint completes on one and fails from the meta write on, for good, on the other.
/// With `flip`, one more checkpoint first, so the meta goes to the other slot.
struct StoppedCheckpoint {
    /// The disk after the failure (everything before the meta write was synced).
    disk: SimDisk,
    /// The meta slot the checkpoint was writing.
    slot: usize,
    /// The meta page it was writing.
    new_meta: Vec<u8>,
    /// The txn of the checkpoint in the other slot.
    old_checkpoint: u64,
    /// The state after every txn.
    states: Vec<State>,
}

fn stop_checkpoint_at_meta_write(seed: u64, flip: bool) -> StoppedCheckpoint {
    let mut rng = Rng::new(seed);
    let (image, mut states) = database_image(&mut rng, 6);
    let (complete, failing) = (image.snapshot(), image.snapshot());
    let complete_db = Db::open_on(&complete, manual_checkpoints()).expect("open");
    let failing_db = Db::open_on(&failing, manual_checkpoints()).expect("open");
    let mut failing_states = states.clone();
    if flip {
        commit_random_txns(&complete_db, &mut states, &mut rng.clone(), 1);
        commit_random_txns(&failing_db, &mut failing_states, &mut rng, 1);
        complete_db.checkpoint().expect("checkpoint");
        failing_db.checkpoint().expect("checkpoint");
    }
    let old_checkpoint = complete_db.last_txn_id();
    commit_random_txns(&complete_db, &mut states, &mut rng.clone(), 5);
    commit_random_txns(&failing_db, &mut failing_states, &mut rng, 5);
    assert!(states == failing_states, "the two copies committed alike");
    let before = complete.operations();
    complete_db.checkpoint().expect("checkpoint");
    let checkpoint_ops = complete.operations() - before;
    // A checkpoint ends with the meta write and its sync.
    failing.fail_operation(checkpoint_ops - 2, FaultKind::Io, true);
    let error = failing_db.checkpoint().expect_err("the meta write fails");
    let slot = match &error {
        Error::Io { op, .. } if names_file(&error, PAGE_FILE) => op
            .strip_prefix("write page ")
            .and_then(|page_id| page_id.parse::<usize>().ok())
            .filter(|page_id| *page_id < 2)
            .unwrap_or_else(|| panic!("expected the meta write to fail, got {error}")),
        _ => panic!("expected an I/O error on the page file, got {error}"),
    };
    let disk = failing.power_loss(seed);
    drop(failing_db);
    let new_file = complete.file(PAGE_FILE).expect("page file");
    drop(complete_db);
    let old_file = disk.file(PAGE_FILE).expect("page file");
    assert_eq!(new_file.len(), old_file.len(), "page file length");
    for page_id in 0..old_file.len() / PAGE_BYTES {
        let same = page(&new_file, page_id) == page(&old_file, page_id);
        assert_eq!(same, page_id != slot, "page {page_id} after the checkpoint");
    }
    StoppedCheckpoint {
        disk,
        slot,
        new_meta: page(&new_file, slot).to_vec(),
        old_checkpoint,
        states,
    }
}

/// Meta pages a torn write could leave: the new sectors up to each boundary and old ones
/// after it, the reverse, and the new page with one sector garbled.
fn torn_metas(old_meta: &[u8], new_meta: &[u8], rng: &mut Rng) -> Vec<(String, Vec<u8>)> {
    let sector_size = SECTOR_SIZE as usize;
    let sectors = PAGE_BYTES / sector_size;
    let sector = |meta: &[u8], index: usize| meta[index * sector_size..][..sector_size].to_vec();
    let mut metas = Vec::new();
    for boundary in 0..=sectors {
        let pick = |new_first: bool| -> Vec<u8> {
            (0..sectors)
                .flat_map(|index| {
                    let new = (index < boundary) == new_first;
                    sector(if new { new_meta } else { old_meta }, index)
                })
                .collect()
        };
        metas.push((format!("new sectors before {boundary}"), pick(true)));
        metas.push((format!("new sectors from {boundary}"), pick(false)));
    }
    for index in 0..sectors {
        let mut garbled = new_meta.to_vec();
        garbled[index * sector_size..][..sector_size].copy_from_slice(&rng.bytes(sector_size));
        metas.push((format!("new meta with sector {index} garbled"), garbled));
    }
    metas
}

#[test]
fn torn_meta_write_at_every_sector_boundary_opens_with_every_durable_commit() {
    let seed = seed("torn_meta_write");
    let mut rng = Rng::new(seed);
    let (mut slots, mut images) = (Vec::new(), 0);
    for flip in [false, true] {
        let stopped = stop_checkpoint_at_meta_write(seed, flip);
        let (slot, new_meta) = (stopped.slot, &stopped.new_meta);
        slots.push(slot);
        let old_file = stopped.disk.file(PAGE_FILE).expect("page file");
        let old_meta = page(&old_file, slot);
        let last = stopped.states.len() as u64 - 1;
        let log = stopped.disk.file(LOG_FILE).expect("log");
        let run = Run::acknowledged(stopped.states, log);
        for (shape, meta) in torn_metas(old_meta, new_meta, &mut rng) {
            let mut file = old_file.clone();
            file[slot * PAGE_BYTES..][..PAGE_BYTES].copy_from_slice(&meta);
            let torn = with_file(&stopped.disk, PAGE_FILE, &file);
            let context = format!("seed {seed}: meta slot {slot}: {shape}");
            let expected_checkpoint = if meta == *new_meta {
                last
            } else {
                stopped.old_checkpoint
            };
            let db = Db::open_on(&torn.snapshot(), manual_checkpoints())
                .unwrap_or_else(|error| panic!("{context}: open: {error}"));
            assert_eq!(
                db.recovery_report().checkpoint_txn_id,
                expected_checkpoint,
                "{context}: the checkpoint open starts from"
            );
            drop(db);
            let recovered = check_recovery(
                &torn,
                &run,
                &manual_checkpoints(),
                History::Newest,
                &context,
            );
            assert_eq!(recovered, Recovered::Txn(last), "{context}");
            images += 1;
        }
    }
    assert!(slots[0] != slots[1], "both meta slots torn: {slots:?}");
    println!("2 crash points (a meta write to each slot), {images} damaged images checked");
}

#[test]
fn zeros_or_garbage_after_the_last_record_are_cut_and_every_commit_kept() {
    let seed = seed("log_tail_garbage");
    let mut rng = Rng::new(seed);
    let (image, states) = database_image(&mut rng, 5);
    let log = image.file(LOG_FILE).expect("log");
    let spans = record_spans(&log);
    let (last_offset, last_length) = *spans.last().expect("records");
    let last_record = log[last_offset as usize..(last_offset + last_length) as usize].to_vec();
    let mut tails: Vec<(String, Vec<u8>)> = Vec::new();
    for length in [1, 7, 8, 47, 48, 511, 512, 4096, 40_000] {
        tails.push((format!("{length} zero bytes"), vec![0; length]));
        tails.push((format!("{length} garbage bytes"), rng.bytes(length)));
    }
    tails.push(("a copy of the last record".into(), last_record.clone()));
    tails.push((
        "the last record cut short".into(),
        last_record[..last_record.len() - 9].to_vec(),
    ));
    let last = states.len() as u64 - 1;
    let run = Run::acknowledged(states, log.clone());
    for (shape, tail) in &tails {
        let context = format!("seed {seed}: log followed by {shape}");
        let damaged = with_file(&image, LOG_FILE, &[&log[..], tail].concat());
        {
            let db = Db::open_on(&damaged.snapshot(), manual_checkpoints())
                .unwrap_or_else(|error| panic!("{context}: open: {error}"));
            let cut = db.recovery_report().log_truncated.clone();
            assert_eq!(
                cut.map(|(offset, bytes, _)| (offset, bytes)),
                Some((log.len() as u64, tail.len() as u64)),
                "{context}: the cut reported"
            );
        }
        let recovered = check_recovery(
            &damaged,
            &run,
            &manual_checkpoints(),
            History::EveryTxn,
            &context,
        );
        assert_eq!(recovered, Recovered::Txn(last), "{context}");
        assert_eq!(
            damaged.file(LOG_FILE).as_deref(),
            Some(&log[..]),
            "{context}: log after open"
        );
    }
    println!("0 crash points, {} damaged images checked", tails.len());
}

#[test]
fn log_cut_at_every_byte_of_its_last_records_opens_at_the_last_whole_record() {
    let seed = seed("log_cut_at_every_byte");
    let mut rng = Rng::new(seed);
    let disk = new_disk();
    let mut states = vec![empty_state()];
    let db = Db::open_on(&disk, manual_checkpoints()).expect("open");
    commit_random_txns(&db, &mut states, &mut rng, 8);
    db.checkpoint().expect("checkpoint");
    let checkpoint = states.len() as u64 - 1;
    // Small records, so a cut at every byte stays cheap.
    for n in 0..3u8 {
        let mut txn = db.begin_write().expect("begin_write");
        let mut state = states.last().expect("state").clone();
        let (key, value) = (vec![b'z', n], vec![n; 40]);
        txn.put(&key, &value).expect("put");
        state
            .get_mut("")
            .expect("default keyspace")
            .insert(key, value);
        txn.commit().expect("commit");
        states.push(state);
    }
    let image = disk.snapshot();
    drop(db);
    let log = image.file(LOG_FILE).expect("log");
    let spans = record_spans(&log);
    let run = Run::acknowledged(states, log.clone());
    let first_cut = spans[checkpoint as usize - 1].0 + spans[checkpoint as usize - 1].1;
    let mut images = 0;
    for cut in first_cut..log.len() as u64 {
        let whole = spans
            .iter()
            .filter(|(offset, length)| offset + length <= cut)
            .count() as u64;
        let context = format!("seed {seed}: log cut at byte {cut} of {}", log.len());
        let damaged = with_file(&image, LOG_FILE, &log[..cut as usize]);
        let cut_run = Run::acknowledged(run.states[..=whole as usize].to_vec(), log.clone());
        let recovered = check_recovery(
            &damaged,
            &cut_run,
            &manual_checkpoints(),
            History::Newest,
            &context,
        );
        assert_eq!(recovered, Recovered::Txn(whole), "{context}");
        images += 1;
    }
    println!("0 crash points, {images} damaged images checked");
}

#[test]
fn bad_checksum_in_a_middle_record_followed_by_good_ones_is_corrupt_and_nothing_is_cut() {
    let seed = seed("log_bad_middle_record");
    let mut rng = Rng::new(seed);
    let tail = 6;
    let (image, states) = database_image(&mut rng, tail);
    let log = image.file(LOG_FILE).expect("log");
    let spans = record_spans(&log);
    // Damage after the checkpoint, where open scans, and before the last record.
    let checkpoint = states.len() - 1 - tail;
    let mut images = 0;
    for txn_id in checkpoint + 1..spans.len() {
        let (offset, length) = spans[txn_id - 1];
        let (offset, length) = (offset as usize, length as usize);
        for (part, byte) in [
            ("header", offset + 20),
            ("payload", offset + 50),
            ("trailer", offset + length - 14),
        ] {
            let context = format!("seed {seed}: txn {txn_id} record {part} damaged");
            let mut damaged_log = log.clone();
            damaged_log[byte] ^= 0x40;
            let damaged = with_file(&image, LOG_FILE, &damaged_log);
            let page_file = damaged.file(PAGE_FILE);
            match Db::open_on(&damaged, manual_checkpoints()) {
                Err(ref error @ Error::Corrupt { offset: at, .. })
                    if names_file(error, LOG_FILE) =>
                {
                    assert_eq!(at, Some(offset as u64), "{context}: offset named")
                }
                Err(error) => panic!("{context}: expected Corrupt on the log, got {error}"),
                Ok(_) => panic!("{context}: open succeeded"),
            }
            assert!(
                damaged.file(LOG_FILE) == Some(damaged_log.clone()),
                "{context}: log changed"
            );
            assert!(
                damaged.file(PAGE_FILE) == page_file,
                "{context}: page file changed"
            );
            let truncating = manual_checkpoints().log_recovery(LogRecovery::TruncateAtDamage);
            let db = Db::open_on(&damaged, truncating)
                .unwrap_or_else(|error| panic!("{context}: truncating open: {error}"));
            assert_eq!(
                db.last_txn_id(),
                txn_id as u64 - 1,
                "{context}: txn after the cut"
            );
            assert_state(&read_state(&db), &states[txn_id - 1], &context);
            let cut = db
                .recovery_report()
                .log_truncated
                .clone()
                .map(|(at, _, _)| at);
            // The cut goes where the valid records end: at the damaged record, or before
            // the sector padding in front of it.
            assert!(
                cut.is_some_and(|at| at <= offset as u64 && offset as u64 - at < 512),
                "{context}: cut reported at {cut:?}, damaged record at {offset}"
            );
            assert!(db.check().expect("check").is_ok(), "{context}: validator");
            images += 1;
        }
    }
    println!("0 crash points, {images} damaged images checked");
}

#[test]
fn repeated_crashes_during_recovery_never_lose_a_durable_commit() {
    let seed = seed("crash_during_recovery");
    let mut rng = Rng::new(seed);
    let long = std::env::var("NORTHSTAR_CRASH_LONG").is_ok_and(|value| value == "1");
    let disk = new_disk();
    let mut states = vec![empty_state()];
    let db = Db::open_on(&disk, manual_checkpoints()).expect("open");
    commit_random_txns(&db, &mut states, &mut rng, 5);
    db.checkpoint().expect("checkpoint");
    commit_random_txns(&db, &mut states, &mut rng, 30);
    // Unsynced page writes of the commits may be lost or garbled; the log is synced.
    let image = disk.power_loss(rng.next_u64());
    drop(db);
    let run = Run::acknowledged(states, image.file(LOG_FILE).expect("log"));
    let recovery_ops = {
        let probe = image.snapshot();
        let db = Db::open_on(&probe, manual_checkpoints()).expect("clean recovery");
        assert_eq!(db.recovery_report().replayed_txns, 30);
        probe.operations()
    };
    let stride = if long { 1 } else { 2 };
    let (mut points, mut images) = (0, 0);
    for first in (1..=recovery_ops).step_by(stride) {
        let context = format!("seed {seed}: recovery stopped at op {first} of {recovery_ops}");
        let mut current = image.snapshot();
        // Crash during recovery, then during the recovery of what survived, then open.
        for (round, fail_at) in [first, 1 + rng.below(recovery_ops)].into_iter().enumerate() {
            let kind = if rng.chance(1, 2) {
                FaultKind::Io
            } else {
                FaultKind::NoSpace
            };
            current.fail_operation(fail_at - 1, kind, true);
            match Db::open_on(&current, manual_checkpoints()) {
                Ok(db) => {
                    assert!(round > 0, "{context}: recovery succeeded past its failure");
                    drop(db);
                }
                Err(error) => assert!(
                    names_file(&error, PAGE_FILE) || names_file(&error, LOG_FILE),
                    "{context}: round {round}: {kind:?} at op {fail_at} gave {error}"
                ),
            }
            current = current.power_loss(rng.next_u64());
            points += 1;
        }
        let history = if first % 10 == 1 {
            History::EveryTxn
        } else {
            History::Newest
        };
        let recovered = check_recovery(&current, &run, &manual_checkpoints(), history, &context);
        assert_eq!(recovered, Recovered::Txn(run.last_txn_id()), "{context}");
        images += 1;
    }
    println!("{points} crash points, {images} damaged images checked");
}

/// Power losses of `disk` for seeds 0..256: every image a crash there can leave.
fn images(disk: &SimDisk) -> impl Iterator<Item = (u64, SimDisk)> + '_ {
    (0..256).map(|seed| (seed, disk.power_loss(seed)))
}

/// Commits `key = value` in one txn.
fn put_one(db: &Db, key: &[u8], value: &[u8]) -> northstar::Result<u64> {
    let mut txn = db.begin_write()?;
    txn.put(key, value)?;
    txn.commit()
}

#[test]
fn an_unsynced_append_never_destroys_the_durable_record_before_it() {
    let disk = new_disk();
    let db = Db::open_on(&disk, manual_checkpoints()).expect("open");
    // Txn 1 ends inside a sector past the log header's.
    assert_eq!(put_one(&db, b"durable", &[1; 1000]).expect("commit"), 1);
    let durable_end = disk.file(LOG_FILE).expect("log").len();
    let sector = SECTOR_SIZE as usize;
    assert!(
        durable_end > sector && !durable_end.is_multiple_of(sector),
        "txn 1 ends at {durable_end}"
    );
    disk.fail_sync(0);
    let error = put_one(&db, b"in flight", &[2; 100]).expect_err("its log sync fails");
    assert!(matches!(error, Error::Poisoned { .. }), "{error}");
    let written = disk.file(LOG_FILE).expect("log");
    for (seed, image) in images(&disk) {
        let log = image.file(LOG_FILE).expect("log");
        assert_eq!(
            log.get(..durable_end),
            Some(&written[..durable_end]),
            "seed {seed}: durable bytes garbled"
        );
        let db = Db::open_on(&image, manual_checkpoints())
            .unwrap_or_else(|error| panic!("power loss seed {seed}: open: {error}"));
        assert!(
            db.last_txn_id() >= 1,
            "power loss seed {seed}: acknowledged txn 1 was lost (recovery report {:?})",
            db.recovery_report()
        );
    }
}

#[test]
fn an_unsynced_first_append_never_destroys_the_log_header() {
    let disk = new_disk();
    let db = Db::open_on(&disk, manual_checkpoints()).expect("open");
    disk.fail_sync(0);
    let error = put_one(&db, b"in flight", &[2; 100]).expect_err("its log sync fails");
    assert!(matches!(error, Error::Poisoned { .. }), "{error}");
    let written = disk.file(LOG_FILE).expect("log");
    let header = &written[..64];
    for (seed, image) in images(&disk) {
        assert_eq!(
            image.file(LOG_FILE).expect("log").get(..64),
            Some(header),
            "seed {seed}"
        );
        let opened = Db::open_on(&image, manual_checkpoints());
        assert!(
            opened.is_ok(),
            "power loss seed {seed}: a database with no durable commit cannot be opened: {:?}",
            opened.err()
        );
    }
}

#[test]
fn unsynced_records_that_reached_the_disk_out_of_order_are_cut_not_refused() {
    let disk = new_disk();
    let options = manual_checkpoints().durability(Durability::Deferred);
    let db = Db::open_on(&disk, options.clone()).expect("open");
    put_one(&db, b"synced", &[1; 300]).expect("commit");
    db.sync().expect("sync");
    put_one(&db, b"unsynced 2", &[2; 700]).expect("commit");
    put_one(&db, b"unsynced 3", &[3; 300]).expect("commit");
    let written = disk.file(LOG_FILE).expect("log");
    let spans = record_spans(&written);
    let bytes = |(offset, length): (u64, u64)| offset as usize..(offset + length) as usize;
    let (first, second, third) = (bytes(spans[0]), bytes(spans[1]), bytes(spans[2]));
    let (seed, image) = images(&disk)
        .find(|(_, image)| {
            let log = image.file(LOG_FILE).expect("log");
            log.len() == written.len()
                && log[..first.end] == written[..first.end]
                && log[second.clone()] != written[second.clone()]
                && log[third.clone()] == written[third.clone()]
        })
        .expect("a power loss that lost txn 2 and kept txn 3");
    let opened = Db::open_on(&image, options);
    assert!(
        opened.as_ref().is_ok_and(|db| db.last_txn_id() >= 1),
        "power loss seed {seed}: txn 2 lost, txn 3 kept: {:?}",
        opened.err()
    );
}
