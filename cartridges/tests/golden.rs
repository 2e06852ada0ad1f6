//! Golden cartridges (`golden/cartridge_v1/`), opened on every run: each kind built from
//! the stored log must equal its stored file byte for byte (a build on another run, on
//! another machine), and the stored files must answer known queries.
//!
//! `NORTHSTAR_BLESS=1` writes a fresh log and the cartridges instead; do that only when
//! the format changes on purpose, together with the spec's change log.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use northstar::{Db, Options};
use northstar_cartridges::tasks::{task_key, PendingTasks, Task, TaskState, TASKS_KEYSPACE};
use northstar_cartridges::{
    build_at, BuildOptions, Cartridge, KeyHistory, LogSource, Recipe, StateIndex, TaskQueue,
    WordIndex,
};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/cartridge_v1")
}

fn recipes() -> Vec<Recipe> {
    vec![
        Recipe::KeyHistory,
        Recipe::PendingTasks(PendingTasks::default()),
        Recipe::Extractor(Arc::new(WordIndex::new(Some("docs"), 3))),
    ]
}

/// The fixed workload behind the golden log: keys rewritten and deleted, a keyspace
/// dropped and recreated, tasks enqueued, claimed and completed, documents.
fn write_workload(dir: &Path) {
    let db = Db::open(dir, Options::default()).unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.put(b"color", b"red").unwrap();
    txn.create_keyspace("docs").unwrap();
    txn.create_keyspace(TASKS_KEYSPACE).unwrap();
    txn.commit().unwrap();
    for (index, text) in ["the quick brown fox", "a lazy dog", "quick quick dog"]
        .iter()
        .enumerate()
    {
        let mut txn = db.begin_write().unwrap();
        txn.keyspace("docs")
            .unwrap()
            .put(format!("doc{index}"), text)
            .unwrap();
        txn.put(b"color", format!("shade{index}")).unwrap();
        txn.commit().unwrap();
    }
    for id in 1..=6u64 {
        let task_type: &[u8] = if id % 2 == 0 { b"email" } else { b"resize" };
        let task = Task {
            state: TaskState::Pending,
            priority: (7 - id) as u32 % 3,
            task_type,
            payload: b"p",
        };
        let mut txn = db.begin_write().unwrap();
        txn.keyspace(TASKS_KEYSPACE)
            .unwrap()
            .put(task_key(id), task.encode())
            .unwrap();
        txn.commit().unwrap();
    }
    let mut txn = db.begin_write().unwrap();
    let claimed = Task {
        state: TaskState::Claimed,
        priority: 0,
        task_type: b"email",
        payload: b"p",
    };
    txn.keyspace(TASKS_KEYSPACE)
        .unwrap()
        .put(task_key(4), claimed.encode())
        .unwrap();
    txn.delete(b"color").unwrap();
    txn.drop_keyspace("docs").unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.create_keyspace("docs").unwrap();
    txn.keyspace("docs")
        .unwrap()
        .put(b"doc9", b"brown dog again")
        .unwrap();
    txn.put(b"color", b"blue").unwrap();
    txn.commit().unwrap();
}

#[test]
fn golden_cartridges_rebuild_byte_for_byte_from_the_golden_log() {
    let golden = golden_dir();
    if std::env::var_os("NORTHSTAR_BLESS").is_some_and(|value| value == "1") {
        let dir = tempfile::tempdir().unwrap();
        write_workload(dir.path());
        std::fs::create_dir_all(&golden).unwrap();
        std::fs::copy(
            dir.path().join("northstar.log"),
            golden.join("northstar.log"),
        )
        .unwrap();
    }
    let log = LogSource::open(&golden.join("northstar.log")).expect("the golden log");
    let scratch = tempfile::tempdir().unwrap();
    for recipe in recipes() {
        let file = format!("{}.cart", recipe.name());
        let built = scratch.path().join(&file);
        build_at(&log, &built, &recipe, &BuildOptions::default()).unwrap();
        if std::env::var_os("NORTHSTAR_BLESS").is_some_and(|value| value == "1") {
            std::fs::copy(&built, golden.join(&file)).unwrap();
        }
        let stored = std::fs::read(golden.join(&file)).expect("a golden cartridge");
        assert!(
            std::fs::read(&built).unwrap() == stored,
            "{file} built from the golden log differs from golden/cartridge_v1/{file}"
        );
    }
}

#[test]
fn golden_cartridges_open_and_answer_known_queries() {
    let golden = golden_dir();
    let history = Cartridge::open(golden.join("key_history.cart")).unwrap();
    let to = history.txn_to();
    assert_eq!(to, 12);
    let view = KeyHistory::new(&history).unwrap();
    assert_eq!(view.get_at(b"", b"color", 1).unwrap(), Some(&b"red"[..]));
    assert_eq!(view.get_at(b"", b"color", 11).unwrap(), None);
    assert_eq!(view.get_at(b"", b"color", 12).unwrap(), Some(&b"blue"[..]));
    assert_eq!(
        view.get_at(b"docs", b"doc0", 10).unwrap(),
        Some(&b"the quick brown fox"[..])
    );
    assert_eq!(
        view.get_at(b"docs", b"doc0", 11).unwrap(),
        None,
        "dropped with its keyspace"
    );
    assert_eq!(view.history(b"", b"color").len(), 6);

    let tasks = Cartridge::open(golden.join("pending_tasks_by_type.cart")).unwrap();
    let queue = TaskQueue::new(StateIndex::new(&tasks).unwrap());
    let email: Vec<u64> = queue
        .next_pending(b"email", 10)
        .iter()
        .map(|task| task.id)
        .collect();
    assert_eq!(email, [6, 2]);
    let resize: Vec<u64> = queue
        .next_pending(b"resize", 10)
        .iter()
        .map(|task| task.id)
        .collect();
    assert_eq!(resize, [1, 3, 5]);
    assert_eq!(queue.next_claimable().map(|(_, task)| task.id), Some(1));

    let words = Cartridge::open(golden.join("words.cart")).unwrap();
    let index = StateIndex::new(&words).unwrap();
    let brown: Vec<Vec<u8>> = WordIndex::lookup(&index, b"docs", "BROWN")
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    assert_eq!(brown, [b"doc9".to_vec()]);
    assert!(
        WordIndex::lookup(&index, b"docs", "quick").is_empty(),
        "dropped with its keyspace"
    );
}
