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

/// The rows of the first table after the heading that starts with `heading`, as cells.
fn spec_table(spec: &str, heading: &str) -> Vec<Vec<String>> {
    let start = spec
        .find(heading)
        .unwrap_or_else(|| panic!("spec has no {heading:?}"));
    spec[start..]
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_string())
                .collect()
        })
        .collect()
}

/// (offset, size) of each row of a layout table of the spec.
fn spec_layout(spec: &str, heading: &str) -> Vec<(usize, usize)> {
    spec_table(spec, heading)
        .iter()
        .map(|row| {
            (
                row[0].parse().expect("offset"),
                row[1].parse().expect("size"),
            )
        })
        .collect()
}

macro_rules! layout {
    ($type:ty { $($field:ident),* }) => {{
        let value = <$type as zerocopy::FromZeros>::new_zeroed();
        vec![$((std::mem::offset_of!($type, $field), std::mem::size_of_val(&value.$field))),*]
    }};
}

#[test]
fn the_spec_describes_the_layouts_and_sections_in_code() {
    use northstar_cartridges::format::layout::{
        EntrySlot, GroupSlot, Header, SectionEntry, SECTIONS,
    };
    let spec_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/cartridge_format_v1.md");
    let spec = std::fs::read_to_string(spec_path).unwrap();
    let header = layout!(Header {
        magic,
        format_version,
        reader_version_min,
        kind,
        section_count,
        params_hash,
        database_id,
        txn_from,
        txn_to,
        log_offset,
        file_size,
        kind_name,
        table_crc,
        reserved,
        header_crc
    });
    assert_eq!(spec_layout(&spec, "## Header (128 bytes)"), header);
    let entry = layout!(SectionEntry {
        id,
        crc,
        offset,
        size,
        count
    });
    assert_eq!(
        spec_layout(&spec, "## Section table entry (32 bytes)"),
        entry
    );
    let group = layout!(GroupSlot {
        name_offset,
        name_len,
        reserved,
        entry_first,
        entry_count
    });
    assert_eq!(spec_layout(&spec, "A table is a sorted list"), group);
    let slot = layout!(EntrySlot {
        data_offset,
        seq,
        key_len,
        value_len,
        flags,
        reserved
    });
    assert_eq!(spec_layout(&spec, "Entry slot (32 bytes)"), slot);
    let sections: Vec<(String, String)> = spec_table(&spec, "## Sections")
        .into_iter()
        .map(|row| (row[0].clone(), row[1].trim_matches('`').to_string()))
        .collect();
    let code: Vec<(String, String)> = SECTIONS
        .iter()
        .map(|id| ((*id as u32).to_string(), id.name().to_string()))
        .collect();
    assert_eq!(sections, code);
}
