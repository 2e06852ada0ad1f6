//! I/O failures on the simulated disk: EIO and ENOSPC at every operation of a commit, a
//! checkpoint and a recovery, once and from then on, and failed syncs.
//!
//! The contract: the error reaches the caller as `Error::Io` naming the file (a failed
//! sync as `Error::Io` or `Error::Poisoned`); after a failed write the txn or checkpoint
//! is undone and the database works again once the disk is healed (for ENOSPC: once
//! space is freed); after a failed sync the handle takes no more writes and never reports
//! the txn whose sync failed as committed; a crash afterwards recovers the last durable
//! commit (and maybe the failed one).

mod common;

use std::collections::BTreeSet;

use common::sim::{
    check_recovery, commit_random_txns, image_seed, manual_checkpoints, names_file, new_disk,
    record_spans, try_apply_change, History, Recovered, Run, Tally, LOG_FILE, PAGE_FILE,
};
use common::{empty_state, read_state, seed, Change, Rng, State};
use northstar::io::sim::{FaultKind, SimDisk};
use northstar::{Db, Durability, Error, Options};

/// Power losses checked after each failure.
const POWER_LOSSES: u64 = 2;

/// What failed, as the store reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Failed {
    /// A sync of the page file or the log.
    Sync,
    /// A write, growth or truncation.
    Write,
}

/// Classifies `error`, checking that it names one of the database's files and carries
/// the operating system's error for `kind` (a poisoned handle names the failed sync).
fn classify(error: &Error, kind: FaultKind, context: &str) -> Failed {
    assert!(
        names_file(error, PAGE_FILE) || names_file(error, LOG_FILE),
        "{context}: the error names no file of the database: {error}"
    );
    let code = match kind {
        FaultKind::Io => 5,
        FaultKind::NoSpace => 28,
    };
    match error {
        Error::Poisoned { detail, .. } => {
            assert!(detail.contains("fdatasync"), "{context}: {error}");
            Failed::Sync
        }
        Error::Io { op, source, .. } => {
            let os_error = source.raw_os_error().or_else(|| {
                // A txn whose earlier operation failed reports it at commit, in words.
                let text = source.to_string();
                text.contains(&format!("os error {code}")).then_some(code)
            });
            assert_eq!(os_error, Some(code), "{context}: {error}");
            if op == "fdatasync" {
                Failed::Sync
            } else {
                Failed::Write
            }
        }
        _ => panic!("{context}: expected Error::Io or Error::Poisoned, got {error}"),
    }
}

/// Asserts that `db` refuses every write after a failed sync, without touching the disk.
fn assert_poisoned(db: Db, disk: &SimDisk, context: &str) {
    let before = disk.operations();
    let refused = |result: northstar::Result<()>, what: &str| match result {
        Err(Error::Poisoned { .. }) => {}
        Err(error) => panic!("{context}: {what} after a failed sync: {error}"),
        Ok(()) => panic!("{context}: {what} succeeded after a failed sync"),
    };
    refused(db.begin_write().map(drop), "begin_write");
    refused(db.try_begin_write().map(drop), "try_begin_write");
    refused(db.checkpoint(), "checkpoint");
    drop(db);
    assert_eq!(
        disk.operations(),
        before,
        "{context}: the poisoned handle touched the disk (its close checkpoint included)"
    );
}

/// Opens a snapshot and power-loss images of `disk` and checks each against `run`,
/// counting them in `tally`.
fn check_images(disk: &SimDisk, run: &Run, options: &Options, context: &str, tally: &mut Tally) {
    let snapshot = disk.snapshot();
    let context_snapshot = format!("{context}: snapshot");
    tally.add(check_recovery(
        &snapshot,
        run,
        options,
        History::Newest,
        &context_snapshot,
    ));
    for index in 0..POWER_LOSSES {
        let seed = image_seed(run.last_txn_id(), tally.images, index);
        let image = disk.power_loss(seed);
        let context = format!("{context}: power loss seed {seed}");
        tally.add(check_recovery(
            &image,
            run,
            options,
            History::Newest,
            &context,
        ));
    }
}

/// A database with a checkpoint and commits after it (some freeing pages), built the same
/// way on every disk; returns it with the state after every txn.
fn base_database(disk: &SimDisk, options: Options) -> (Db, Vec<State>) {
    let db = Db::open_on(disk, options).expect("open new database");
    let mut rng = Rng::new(7);
    let mut states = vec![empty_state()];
    commit_random_txns(&db, &mut states, &mut rng, 8);
    db.checkpoint().expect("checkpoint");
    commit_random_txns(&db, &mut states, &mut rng, 8);
    (db, states)
}

/// The changes of the txn under test: small and overflow values, a delete, a named
/// keyspace.
fn probe_changes() -> Vec<Change> {
    let put = |keyspace, key, value_len, seed| Change::Put {
        keyspace,
        key,
        value_len,
        seed,
    };
    vec![
        put(0, 30, 12, 1),
        put(0, 31, 20_000, 2),
        Change::Delete {
            keyspace: 0,
            key: 12,
        },
        Change::CreateKeyspace(3),
        put(3, 32, 40, 3),
        put(3, 33, 40_000, 4),
        put(0, 34, 900, 5),
    ]
}

/// Runs the probe txn; returns the state it makes, or the first error.
fn commit_probe(db: &Db, states: &[State]) -> northstar::Result<(u64, State)> {
    let mut next = states.last().expect("a state").clone();
    let mut txn = db.begin_write()?;
    for change in probe_changes() {
        try_apply_change(&mut txn, &mut next, &change)?;
    }
    Ok((txn.commit()?, next))
}

/// Runs `action` on a fresh copy of the base database; returns the operations it made
/// after `setup` and its result.
fn measure<T>(
    options: &Options,
    setup: impl Fn(&Db, &mut Vec<State>),
    action: impl Fn(&Db, &[State]) -> T,
) -> (u64, T) {
    let disk = new_disk();
    let (db, mut states) = base_database(&disk, options.clone());
    setup(&db, &mut states);
    let before = disk.operations();
    let result = action(&db, &states);
    (disk.operations() - before, result)
}

/// Every kind of failure, once and from then on.
const FAULTS: [(FaultKind, bool); 4] = [
    (FaultKind::Io, false),
    (FaultKind::Io, true),
    (FaultKind::NoSpace, false),
    (FaultKind::NoSpace, true),
];

#[test]
fn a_failed_operation_of_a_commit_rolls_it_back_or_poisons_the_handle() {
    let options = manual_checkpoints();
    let (commit_ops, (_, next)) = measure(
        &options,
        |_, _| {},
        |db, states| commit_probe(db, states).expect("probe commit"),
    );
    let mut tally = Tally::default();
    for (kind, persistent) in FAULTS {
        for at in 1..=commit_ops {
            let context = format!(
                "{kind:?} (persistent: {persistent}) at op {at} of {commit_ops} of a commit"
            );
            let disk = new_disk();
            let (db, mut states) = base_database(&disk, options.clone());
            let last = states.len() as u64 - 1;
            disk.fail_operation(at - 1, kind, persistent);
            let error = commit_probe(&db, &states).expect_err("the commit fails");
            let failed = classify(&error, kind, &context);
            assert_eq!(
                db.last_txn_id(),
                last,
                "{context}: readers see the failed txn"
            );
            assert!(
                read_state(&db) == states[last as usize],
                "{context}: rolled back"
            );
            if at == commit_ops {
                // The log sync, the commit's last operation.
                assert!(
                    matches!(error, Error::Poisoned { .. }) && names_file(&error, LOG_FILE),
                    "{context}: {error}"
                );
                assert_poisoned(db, &disk, &context);
                disk.heal();
                let mut run = Run::acknowledged(states, disk.file(LOG_FILE).expect("log"));
                run.in_flight = Some(next.clone());
                check_images(&disk, &run, &options, &context, &mut tally);
            } else {
                // Page writes (and growth), then the log append.
                assert_eq!(failed, Failed::Write, "{context}: {error}");
                let file = if at + 1 == commit_ops {
                    LOG_FILE
                } else {
                    PAGE_FILE
                };
                assert!(names_file(&error, file), "{context}: {error}");
                if persistent {
                    let again = commit_probe(&db, &states).expect_err("the disk still fails");
                    assert_eq!(classify(&again, kind, &context), Failed::Write);
                    disk.heal();
                }
                let (txn_id, state) = commit_probe(&db, &states)
                    .unwrap_or_else(|error| panic!("{context}: commit after heal: {error}"));
                assert_eq!(txn_id, last + 1, "{context}: txn id after the failure");
                assert!(state == next, "{context}: the retried txn");
                states.push(state);
                let report = db.check().expect("check");
                assert!(
                    report.is_ok(),
                    "{context}: validator: {:?}",
                    report.problems
                );
                let run = Run::acknowledged(states, disk.file(LOG_FILE).expect("log"));
                check_images(&disk, &run, &options, &context, &mut tally);
                drop(db);
            }
            tally.points += 1;
        }
    }
    println!("{tally}");
}

/// Commits one txn that frees pages (so the checkpoint writes a freelist).
fn commit_freeing_txn(db: &Db, states: &mut Vec<State>) {
    let mut next = states.last().expect("a state").clone();
    let mut txn = db.begin_write().expect("begin_write");
    for key in 0..48 {
        try_apply_change(&mut txn, &mut next, &Change::Delete { keyspace: 0, key })
            .expect("delete");
    }
    let changes = [Change::Put {
        keyspace: 0,
        key: 40,
        value_len: 30_000,
        seed: 9,
    }];
    for change in &changes {
        try_apply_change(&mut txn, &mut next, change).expect("put");
    }
    txn.commit().expect("commit");
    states.push(next);
}

#[test]
fn a_failed_operation_of_a_checkpoint_undoes_it_or_poisons_the_handle() {
    let options = manual_checkpoints();
    let (checkpoint_ops, ()) = measure(&options, commit_freeing_txn, |db, _| {
        db.checkpoint().expect("checkpoint")
    });
    let (mut tally, mut seen) = (Tally::default(), BTreeSet::new());
    for (kind, persistent) in FAULTS {
        for at in 1..=checkpoint_ops {
            let context = format!(
                "{kind:?} (persistent: {persistent}) at op {at} of {checkpoint_ops} of a checkpoint"
            );
            let disk = new_disk();
            let (db, mut states) = base_database(&disk, options.clone());
            commit_freeing_txn(&db, &mut states);
            disk.fail_operation(at - 1, kind, persistent);
            let error = db.checkpoint().expect_err("the checkpoint fails");
            let failed = classify(&error, kind, &context);
            seen.insert(operation_name(&error));
            assert!(names_file(&error, PAGE_FILE), "{context}: {error}");
            assert!(
                read_state(&db) == *states.last().unwrap(),
                "{context}: state"
            );
            if failed == Failed::Sync {
                assert_poisoned(db, &disk, &context);
                disk.heal();
            } else {
                // A retry before the heal would fail its first sync and poison the handle.
                disk.heal();
                db.checkpoint()
                    .unwrap_or_else(|error| panic!("{context}: checkpoint after heal: {error}"));
                commit_random_txns(&db, &mut states, &mut Rng::new(at), 2);
                let report = db.check().expect("check");
                assert!(
                    report.is_ok(),
                    "{context}: validator: {:?}",
                    report.problems
                );
                drop(db);
            }
            let run = Run::acknowledged(states, disk.file(LOG_FILE).expect("log"));
            check_images(&disk, &run, &options, &context, &mut tally);
            tally.points += 1;
        }
    }
    for expected in ["sync", "freelist write", "meta write"] {
        assert!(seen.contains(expected), "no {expected} failed: {seen:?}");
    }
    println!("{tally}; failed operations: {seen:?}");
}

/// What the failed operation was: a sync, a meta write, a freelist or node write, growth.
fn operation_name(error: &Error) -> &'static str {
    match error {
        Error::Poisoned { .. } => "sync",
        Error::Io { op, .. } if op == "fdatasync" => "sync",
        Error::Io { op, .. } if op == "write page 0" || op == "write page 1" => "meta write",
        Error::Io { op, .. } if op.starts_with("write page") => "freelist write",
        Error::Io { op, .. } if op == "grow" => "grow",
        _ => "other",
    }
}

#[test]
fn a_failed_operation_during_recovery_fails_the_open_and_a_healed_open_keeps_every_commit() {
    let options = manual_checkpoints();
    let built = new_disk();
    let (db, mut states) = base_database(&built, options.clone());
    commit_freeing_txn(&db, &mut states);
    let image = built.snapshot();
    drop(db);
    let recovery_ops = {
        let probe = image.snapshot();
        let db = Db::open_on(&probe, options.clone()).expect("clean recovery");
        assert!(db.recovery_report().replayed_txns > 0);
        probe.operations()
    };
    let run = Run::acknowledged(states, image.file(LOG_FILE).expect("log"));
    let mut tally = Tally::default();
    for (kind, persistent) in FAULTS {
        for at in 1..=recovery_ops {
            let context = format!(
                "{kind:?} (persistent: {persistent}) at op {at} of {recovery_ops} of a recovery"
            );
            let disk = image.snapshot();
            disk.fail_operation(at - 1, kind, persistent);
            match Db::open_on(&disk, options.clone()) {
                Ok(_) => panic!("{context}: open succeeded"),
                Err(error) => {
                    classify(&error, kind, &context);
                }
            }
            disk.heal();
            let recovered = check_recovery(&disk, &run, &options, History::Newest, &context);
            assert_eq!(recovered, Recovered::Txn(run.last_txn_id()), "{context}");
            tally.add(recovered);
            tally.points += 1;
        }
    }
    println!("{tally}");
}

#[test]
fn no_space_fails_the_commit_whole_and_it_works_again_once_space_is_freed() {
    let options = manual_checkpoints();
    let bulk = |db: &Db, states: &[State]| -> northstar::Result<(u64, State)> {
        let mut next = states.last().expect("a state").clone();
        let mut txn = db.begin_write()?;
        for key in 0..48 {
            let value_len = if key % 4 == 0 { 30_000 } else { 100 };
            let change = Change::Put {
                keyspace: 0,
                key,
                value_len,
                seed: 77,
            };
            try_apply_change(&mut txn, &mut next, &change)?;
        }
        Ok((txn.commit()?, next))
    };
    let (commit_ops, (_, next)) = measure(
        &options,
        |_, _| {},
        |db, states| bulk(db, states).expect("bulk commit"),
    );
    let mut tally = Tally::default();
    // Every operation but the log sync (a failed sync poisons the handle instead).
    for at in 1..commit_ops {
        let context = format!("no space from op {at} of {commit_ops} of a bulk commit");
        let disk = new_disk();
        let (db, mut states) = base_database(&disk, options.clone());
        let reader = db.begin_read().expect("begin_read");
        disk.fail_operation(at - 1, FaultKind::NoSpace, true);
        let error = bulk(&db, &states).expect_err("no space");
        assert_eq!(
            classify(&error, FaultKind::NoSpace, &context),
            Failed::Write
        );
        assert!(
            read_state(&db) == *states.last().unwrap(),
            "{context}: nothing committed"
        );
        assert_eq!(reader.len(), states.last().unwrap()[""].len() as u64);
        drop(reader);
        disk.heal();
        let (txn_id, state) =
            bulk(&db, &states).unwrap_or_else(|error| panic!("{context}: after heal: {error}"));
        assert_eq!(txn_id, states.len() as u64, "{context}: txn id");
        assert!(state == next, "{context}: state");
        states.push(state);
        drop(db);
        let run = Run::acknowledged(states, disk.file(LOG_FILE).expect("log"));
        let recovered = check_recovery(&disk.snapshot(), &run, &options, History::Newest, &context);
        assert_eq!(recovered, Recovered::Txn(run.last_txn_id()), "{context}");
        tally.add(recovered);
        tally.points += 1;
    }
    println!("{tally}");
}

#[test]
fn a_failed_sync_with_deferred_durability_poisons_the_handle_and_keeps_the_synced_commits() {
    let seed = seed("deferred_failed_sync");
    let mut rng = Rng::new(seed);
    let options = manual_checkpoints().durability(Durability::Deferred);
    let mut tally = Tally::default();
    for round in 0..6 {
        let disk = new_disk();
        let db = Db::open_on(&disk, options.clone()).expect("open");
        let mut states = vec![empty_state()];
        commit_random_txns(&db, &mut states, &mut rng, 4);
        db.sync().expect("sync");
        let synced = states.len() as u64 - 1;
        commit_random_txns(&db, &mut states, &mut rng, 1 + round);
        disk.fail_sync(0);
        let context = format!("seed {seed}: round {round}");
        let error = db.sync().expect_err("the sync fails");
        assert!(
            matches!(error, Error::Poisoned { .. }) && names_file(&error, LOG_FILE),
            "{context}: {error}"
        );
        assert!(
            db.sync().is_err(),
            "{context}: a second sync is refused, not retried"
        );
        assert_poisoned(db, &disk, &context);
        disk.heal();
        let mut run = Run::acknowledged(states, disk.file(LOG_FILE).expect("log"));
        run.durability = Durability::Deferred;
        run.durable = synced;
        check_images(&disk, &run, &options, &context, &mut tally);
        tally.points += 1;
    }
    println!("{tally}");
}

#[test]
fn a_failed_log_sync_fails_every_commit_that_waited_on_it() {
    const THREADS: u64 = 4;
    /// Far more commits than the failing sync can be away: every thread meets it.
    const COMMITS_MAX: u64 = 10_000;
    let seed = seed("group_commit_failed_sync");
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    for round in 0..4 {
        let disk = new_disk();
        let db = Db::open_on(&disk, manual_checkpoints()).expect("open");
        disk.fail_sync(5 + rng.below(40));
        let results: Vec<(u64, northstar::Result<u64>)> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..THREADS)
                .map(|thread| {
                    let db = &db;
                    scope.spawn(move || {
                        let mut results = Vec::new();
                        for n in 0..COMMITS_MAX {
                            let result = db.begin_write().and_then(|mut txn| {
                                txn.put(format!("t{thread}/{n:05}"), [0u8; 100])?;
                                txn.commit()
                            });
                            let failed = result.is_err();
                            results.push((thread, result));
                            if failed {
                                break;
                            }
                        }
                        results
                    })
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|thread| thread.join().expect("thread"))
                .collect()
        });
        let context = format!("seed {seed}: round {round}");
        let acknowledged = results
            .iter()
            .filter_map(|(_, result)| result.as_ref().ok().copied())
            .max()
            .unwrap_or(0);
        for (thread, result) in &results {
            if let Err(error) = result {
                assert!(
                    matches!(error, Error::Poisoned { .. }),
                    "{context}: thread {thread}: {error}"
                );
            }
        }
        let failures = results.iter().filter(|(_, result)| result.is_err()).count();
        assert_eq!(failures as u64, THREADS, "{context}: every thread stopped");
        let log = disk.file(LOG_FILE).expect("log");
        let spans = record_spans(&log);
        let needed = match acknowledged {
            0 => 0,
            txn_id => spans[txn_id as usize - 1].0 + spans[txn_id as usize - 1].1,
        };
        // A power loss keeps every synced byte, and may lose any unsynced growth: a txn
        // reported committed must never lie past what survives.
        for index in 0..8 {
            let image = disk.power_loss(image_seed(seed, round, index));
            let survived = image.file(LOG_FILE).expect("log").len() as u64;
            assert!(
                survived >= needed,
                "{context}: txn {acknowledged} was reported committed but the log kept only {survived} of its {needed} bytes"
            );
            tally.images += 1;
        }
        drop(db);
        tally.points += 1;
    }
    println!("{tally}");
}

#[test]
fn a_failed_page_write_during_replay_is_an_io_error_not_a_damaged_log() {
    let options = manual_checkpoints();
    let built = new_disk();
    let db = Db::open_on(&built, options.clone()).expect("open");
    let mut states = vec![empty_state()];
    commit_random_txns(&db, &mut states, &mut Rng::new(3), 3);
    db.checkpoint().expect("checkpoint");
    // Replaying this record writes the value's overflow pages while applying the put.
    let mut next = states.last().expect("a state").clone();
    let mut txn = db.begin_write().expect("begin_write");
    let big = Change::Put {
        keyspace: 0,
        key: 9,
        value_len: 50_000,
        seed: 1,
    };
    try_apply_change(&mut txn, &mut next, &big).expect("put");
    txn.commit().expect("commit");
    states.push(next);
    let image = built.snapshot();
    drop(db);
    // Op 1 syncs the log at open; the replayed put's page writes follow.
    image.fail_operation(1, FaultKind::Io, false);
    let error = match Db::open_on(&image, options.clone()) {
        Ok(_) => panic!("open succeeded though a replayed page write failed"),
        Err(error) => error,
    };
    assert!(
        matches!(&error, Error::Io { .. }) && names_file(&error, PAGE_FILE),
        "a failed write while replaying is reported as: {error}"
    );
    let run = Run::acknowledged(states, image.file(LOG_FILE).expect("log"));
    let recovered = check_recovery(
        &image,
        &run,
        &options,
        History::EveryTxn,
        "after the failure",
    );
    assert_eq!(recovered, Recovered::Txn(run.last_txn_id()));
}
