//! When commits become durable: group commit across threads, deferred durability and what
//! a crash before `sync` may lose, the checkpoint triggers that bound recovery's replay,
//! and pages freed after a checkpoint staying untouched until the next one.
//!
//! Crash images are copies of a live database's page file and log (see
//! `common::crash_image`); a crash that lost unsynced log writes is modelled by cutting or
//! zeroing the copied log's tail after the last sync.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{assert_state, empty_state, log_file, read_state, Rng, State};
use northstar::{Db, Durability, Options};

/// No automatic checkpoints: tests that want one say where.
fn manual_checkpoints(options: Options) -> Options {
    options.checkpoint_every(u64::MAX, u64::MAX, Duration::from_secs(3600))
}

/// Commits `count` random txns on top of `states`, recording each new txn's state and the
/// log length after it in `ends` (indexed by txn id).
fn commit_many(db: &Db, states: &mut Vec<State>, ends: &mut Vec<u64>, rng: &mut Rng, count: usize) {
    let goal = states.len() + count;
    while states.len() < goal {
        let changes = 1 + rng.index(5);
        let (state, txn_id) = common::commit_random(db, states.last().unwrap(), rng, changes);
        if txn_id == states.len() as u64 {
            states.push(state);
            ends.push(common::log_len(db));
        }
    }
}

/// Opens a crash image and checks that it holds exactly `states[txn_id]`, valid.
fn assert_image_at(dir: &Path, states: &[State], txn_id: u64, context: &str) -> Db {
    let db = Db::open(dir, Options::default())
        .unwrap_or_else(|error| panic!("{context}: open: {error}"));
    assert_eq!(db.last_txn_id(), txn_id, "{context}: last txn");
    assert_state(&read_state(&db), &states[txn_id as usize], context);
    let report = db.check().unwrap();
    assert!(
        report.is_ok(),
        "{context}: validator: {:?}",
        report.problems
    );
    db
}

#[test]
fn concurrent_durable_commits_all_land_and_share_log_syncs() {
    const THREADS: u64 = 4;
    const COMMITS: u64 = 200;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let syncs_before = db.log_sync_count();
    let mut txn_ids: Vec<u64> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|thread| {
                let db = &db;
                scope.spawn(move || {
                    (0..COMMITS)
                        .map(|n| {
                            let mut txn = db.begin_write().unwrap();
                            txn.put(format!("t{thread}/{n:03}"), n.to_le_bytes())
                                .unwrap();
                            txn.commit().unwrap()
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|thread| thread.join().unwrap())
            .collect()
    });
    txn_ids.sort_unstable();
    let commits = THREADS * COMMITS;
    assert!(
        txn_ids.iter().copied().eq(1..=commits),
        "every commit got its own txn id"
    );
    let syncs = db.log_sync_count() - syncs_before;
    println!(
        "{commits} durable commits, {syncs} log syncs ({:.2} commits per sync)",
        commits as f64 / syncs as f64
    );
    assert!(syncs <= commits, "{syncs} syncs for {commits} commits");
    let read = db.begin_read().unwrap();
    assert_eq!(read.len(), commits);
    for thread in 0..THREADS {
        for n in 0..COMMITS {
            let value = read.get(format!("t{thread}/{n:03}")).unwrap();
            assert_eq!(
                value.as_deref(),
                Some(&n.to_le_bytes()[..]),
                "t{thread}/{n:03}"
            );
        }
    }
    drop(read);
    assert!(db.check().unwrap().is_ok());
    // Every acknowledged commit is in the log: a crash now loses none of them.
    let image = common::crash_image(&db);
    let recovered = Db::open(image.path(), Options::default()).unwrap();
    assert_eq!(recovered.last_txn_id(), commits);
    assert_eq!(recovered.begin_read().unwrap().len(), commits);
}

#[test]
fn deferred_commits_are_visible_at_once_and_durable_after_sync() {
    let seed = common::seed("deferred_commits_are_visible_at_once_and_durable_after_sync");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let options = manual_checkpoints(Options::default().durability(Durability::Deferred));
    let db = Db::open(dir.path(), options).unwrap();
    let syncs_before = db.log_sync_count();
    let mut states = vec![empty_state()];
    let mut ends = vec![common::log_len(&db)];
    for _ in 0..40 {
        commit_many(&db, &mut states, &mut ends, &mut rng, 1);
        let txn_id = states.len() as u64 - 1;
        assert_eq!(db.last_txn_id(), txn_id);
        assert_eq!(db.begin_read().unwrap().txn_id(), txn_id, "visible at once");
        assert_state(&read_state(&db), states.last().unwrap(), "visible at once");
    }
    assert_eq!(
        db.log_sync_count(),
        syncs_before,
        "deferred commits do not sync the log"
    );
    db.sync().unwrap();
    assert!(db.log_sync_count() > syncs_before, "sync syncs the log");
    let image = common::crash_image(&db);
    let recovered = assert_image_at(image.path(), &states, 40, "crash after sync");
    assert_eq!(recovered.recovery_report().replayed_txns, 40);
}

#[test]
fn crash_before_sync_loses_only_a_suffix_of_deferred_commits() {
    let seed = common::seed("crash_before_sync_loses_only_a_suffix_of_deferred_commits");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let options = manual_checkpoints(Options::default().durability(Durability::Deferred));
    let db = Db::open(dir.path(), options).unwrap();
    let mut states = vec![empty_state()];
    let mut ends = vec![common::log_len(&db)];
    commit_many(&db, &mut states, &mut ends, &mut rng, 8);
    db.checkpoint().unwrap();
    commit_many(&db, &mut states, &mut ends, &mut rng, 12);
    db.sync().unwrap();
    let synced = states.len() as u64 - 1;
    commit_many(&db, &mut states, &mut ends, &mut rng, 25);
    let image = common::crash_image(&db);
    let page_file = common::file_bytes(image.path());
    let log = std::fs::read(log_file(image.path())).unwrap();
    assert_eq!(log.len() as u64, *ends.last().unwrap());

    // Whatever part of the unsynced tail reached the disk: cut at a record boundary, just
    // after one, in the middle of a record, or zeroed where the file grew but the data
    // did not arrive.
    let mut cuts = Vec::new();
    for txn_id in synced as usize..states.len() {
        let (start, end) = (ends[txn_id], ends.get(txn_id + 1).copied());
        cuts.push(start);
        if let Some(end) = end {
            cuts.push(start + 8);
            cuts.push(start + (end - start) / 2 + rng.below((end - start) / 2));
        }
    }
    let work = tempfile::tempdir().unwrap();
    for &cut in &cuts {
        for zeroed in [false, true] {
            let context = format!("log cut at {cut} (zeroed tail: {zeroed})");
            let mut damaged = log.clone();
            if zeroed {
                damaged[cut as usize..].fill(0);
            } else {
                damaged.truncate(cut as usize);
            }
            // The newest txn whose record survived whole (zeroing bytes that were zero,
            // such as the high bytes of a trailer's length, leaves a record intact).
            let kept = ends
                .iter()
                .rposition(|end| damaged.get(..*end as usize) == Some(&log[..*end as usize]))
                .unwrap() as u64;
            assert!(kept >= synced);
            common::write_image(work.path(), &page_file, &damaged);
            let db = assert_image_at(work.path(), &states, kept, &context);
            assert!(
                db.last_txn_id() >= synced,
                "{context}: lost a synced commit"
            );
        }
    }
    drop(db);
}

#[test]
fn checkpoint_every_n_commits_bounds_the_replay_after_a_crash() {
    let mut rng = Rng::new(11);
    let dir = tempfile::tempdir().unwrap();
    let options = common::verified().checkpoint_every(10, u64::MAX, Duration::from_secs(3600));
    let db = Db::open(dir.path(), options).unwrap();
    let mut states = vec![empty_state()];
    let mut ends = vec![common::log_len(&db)];
    commit_many(&db, &mut states, &mut ends, &mut rng, 37);
    // Checkpoints run on a background thread once due: let it finish.
    common::settle_checkpoints(&db);
    let image = common::crash_image(&db);
    let recovered = assert_image_at(image.path(), &states, 37, "crash after 37 commits");
    let report = recovered.recovery_report();
    assert!(report.replayed_txns < 10, "{report:?}");
    assert_eq!(
        report.checkpoint_txn_id + report.replayed_txns,
        37,
        "{report:?}"
    );
    drop(recovered);

    db.checkpoint().unwrap();
    let image = common::crash_image(&db);
    let recovered = assert_image_at(image.path(), &states, 37, "crash after a checkpoint");
    assert_eq!(recovered.recovery_report().checkpoint_txn_id, 37);
    assert_eq!(recovered.recovery_report().replayed_txns, 0);
}

#[test]
fn checkpoint_every_n_log_bytes_bounds_the_replay_after_a_crash() {
    const LOG_BYTES: u64 = 4096;
    let mut rng = Rng::new(12);
    let dir = tempfile::tempdir().unwrap();
    let options =
        Options::default().checkpoint_every(u64::MAX, LOG_BYTES, Duration::from_secs(3600));
    let db = Db::open(dir.path(), options).unwrap();
    let mut states = vec![empty_state()];
    let mut ends = vec![common::log_len(&db)];
    commit_many(&db, &mut states, &mut ends, &mut rng, 60);
    common::settle_checkpoints(&db);
    let image = common::crash_image(&db);
    let recovered = assert_image_at(image.path(), &states, 60, "crash after 60 commits");
    let report = recovered.recovery_report();
    assert!(
        report.checkpoint_txn_id > 0,
        "no checkpoint ran: {report:?}"
    );
    // A checkpoint is due once the log grew by `LOG_BYTES` since the last one, and starts
    // in the background when the next txn begins: only the last record can take the
    // replay past the bound.
    let replayed_bytes = ends[60] - ends[report.checkpoint_txn_id as usize];
    let last_record = ends[60] - ends[59];
    assert!(
        replayed_bytes < LOG_BYTES + last_record,
        "{replayed_bytes} log bytes replayed: {report:?}"
    );
}

#[test]
fn checkpoint_interval_of_zero_checkpoints_every_txn_in_the_background() {
    let mut rng = Rng::new(13);
    let dir = tempfile::tempdir().unwrap();
    let options = Options::default().checkpoint_every(u64::MAX, u64::MAX, Duration::ZERO);
    let db = Db::open(dir.path(), options).unwrap();
    let mut states = vec![empty_state()];
    let mut ends = vec![common::log_len(&db)];
    commit_many(&db, &mut states, &mut ends, &mut rng, 15);
    common::settle_checkpoints(&db);
    assert!(
        db.checkpoint_stats().count >= 1,
        "{:?}",
        db.checkpoint_stats()
    );
    let image = common::crash_image(&db);
    let recovered = assert_image_at(image.path(), &states, 15, "crash after 15 commits");
    let report = recovered.recovery_report();
    assert_eq!(report.checkpoint_txn_id, 15, "{report:?}");
    assert_eq!(report.replayed_txns, 0, "{report:?}");
}

fn churn_key(n: u64) -> Vec<u8> {
    format!("key{n:04}").into_bytes()
}

/// One txn rewriting or deleting `count` random keys of `0..key_space` (values of every
/// size class, some in overflow pages).
fn churn(db: &Db, states: &mut Vec<State>, ends: &mut Vec<u64>, rng: &mut Rng, count: usize) {
    let mut state = states.last().unwrap().clone();
    let model = state.get_mut("").unwrap();
    let mut txn = db.begin_write().unwrap();
    for _ in 0..count {
        let key = churn_key(rng.below(300));
        if rng.chance(1, 4) {
            assert_eq!(txn.delete(&key).unwrap(), model.remove(&key).is_some());
        } else {
            let value = common::test_value(common::random_value_len(rng), rng.next_u64() as u8);
            txn.put(&key, &value).unwrap();
            model.insert(key, value);
        }
    }
    assert_eq!(txn.commit().unwrap(), states.len() as u64);
    states.push(state);
    ends.push(common::log_len(db));
}

#[test]
fn pages_freed_after_a_checkpoint_are_not_reused_before_the_next() {
    let seed = common::seed("pages_freed_after_a_checkpoint_are_not_reused_before_the_next");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), manual_checkpoints(common::verified())).unwrap();
    let mut states = vec![empty_state()];
    let mut ends = vec![common::log_len(&db)];
    for _ in 0..4 {
        churn(&db, &mut states, &mut ends, &mut rng, 100);
    }
    let work = tempfile::tempdir().unwrap();
    let mut page_counts = Vec::new();
    for round in 0..6 {
        db.checkpoint().unwrap();
        let checkpoint = states.len() as u64 - 1;
        page_counts.push(db.check().unwrap().page_count);
        // Rewrite most of the checkpointed tree, freeing its pages, many times over.
        for _ in 0..15 {
            churn(&db, &mut states, &mut ends, &mut rng, 30);
        }
        let last = states.len() as u64 - 1;
        // The crash image holds every page written since; with the log cut back to the
        // checkpoint, open reads the checkpointed tree, which must be intact.
        let image = common::crash_image(&db);
        let page_file = common::file_bytes(image.path());
        let log = std::fs::read(log_file(image.path())).unwrap();
        let context = format!("round {round}, log cut back to the checkpoint of txn {checkpoint}");
        common::write_image(
            work.path(),
            &page_file,
            &log[..ends[checkpoint as usize] as usize],
        );
        let recovered = assert_image_at(work.path(), &states, checkpoint, &context);
        assert_eq!(recovered.recovery_report().replayed_txns, 0, "{context}");
        drop(recovered);
        let context = format!("round {round}, whole log");
        let recovered = assert_image_at(image.path(), &states, last, &context);
        assert_eq!(
            recovered.recovery_report().replayed_txns,
            last - checkpoint,
            "{context}"
        );
    }
    println!("page count at each checkpoint: {page_counts:?}");
    // The same keys are rewritten every round. Without reuse the file would grow by every
    // page a round writes (about as many as the second count adds over the first); with
    // reuse after each checkpoint it grows only as overflow runs need room.
    let settled = page_counts[1];
    let newest = *page_counts.last().unwrap();
    assert!(
        newest <= 2 * settled,
        "page count grew from {settled} to {newest} at the same data size: {page_counts:?}"
    );
}
