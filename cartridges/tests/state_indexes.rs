//! pending_tasks_by_type and the word index (a user-defined extractor) against models at
//! the cartridge's txn and as of now, and catch-up by merge against a full rebuild, byte
//! for byte.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::{
    pending_model, random_database, random_txn, seed, task_txns, Rng, State, Tasks, TASK_TYPES,
};
use northstar_cartridges::tasks::PendingTasks;
use northstar_cartridges::{
    build_at, cartridge_path, catch_up_at, BuildOptions, Cartridge, Delta, IndexRead, LogSource,
    Method, Recipe, StateIndex, StateNow, TaskQueue, WordIndex,
};

fn build(dir: &Path, recipe: &Recipe, up_to: Option<u64>, budget: usize) -> Cartridge {
    let path = cartridge_path(dir, recipe.name());
    let options = BuildOptions {
        up_to,
        memory_budget: budget,
        ..BuildOptions::default()
    };
    build_at(&LogSource::open(dir).unwrap(), &path, recipe, &options).expect("build");
    Cartridge::open(&path).expect("open")
}

fn assert_queue_matches(queue: &TaskQueue<impl IndexRead>, tasks: &Tasks) {
    let mut best: Option<(u32, u64)> = None;
    for task_type in TASK_TYPES {
        let expected = pending_model(tasks, task_type);
        let found: Vec<(u32, u64)> = queue
            .next_pending(task_type.as_bytes(), usize::MAX >> 40)
            .iter()
            .map(|task| (task.priority, task.id))
            .collect();
        assert_eq!(found, expected, "pending {task_type}");
        assert_eq!(
            queue.pending_count(task_type.as_bytes()),
            expected.len() as u64
        );
        let ten: Vec<(u32, u64)> = queue
            .next_pending(task_type.as_bytes(), 10)
            .iter()
            .map(|task| (task.priority, task.id))
            .collect();
        assert_eq!(ten, expected[..expected.len().min(10)]);
        if let Some(first) = expected.first() {
            best = Some(best.map_or(*first, |best| best.min(*first)));
        }
    }
    let claimable = queue
        .next_claimable()
        .map(|(_, task)| (task.priority, task.id));
    assert_eq!(claimable, best);
}

#[test]
fn pending_tasks_equal_the_model_as_of_the_cartridge_and_as_of_now() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open(dir.path());
    let mut rng = Rng::new(seed(21));
    let (mut tasks, mut next_id) = (Tasks::new(), 0);
    task_txns(&db, &mut rng, &mut tasks, &mut next_id, 150);
    let recipe = Recipe::PendingTasks(PendingTasks::default());
    let cartridge = build(dir.path(), &recipe, None, 1 << 20);
    let index = StateIndex::new(&cartridge).unwrap();
    assert_queue_matches(&TaskQueue::new(index), &tasks);

    task_txns(&db, &mut rng, &mut tasks, &mut next_id, 40);
    let log = LogSource::open(dir.path()).unwrap();
    let extractor = PendingTasks::default();
    let delta = Delta::load(&cartridge, &log, None, |keyspace| keyspace == b"tasks").unwrap();
    let now = StateNow::new(index, &delta, &extractor);
    assert_eq!(now.txn(), db.last_txn_id());
    assert_queue_matches(&TaskQueue::new(now), &tasks);
}

#[test]
fn pending_tasks_catch_up_by_merge_equals_a_full_rebuild_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open(dir.path());
    let mut rng = Rng::new(seed(22));
    let (mut tasks, mut next_id) = (Tasks::new(), 0);
    task_txns(&db, &mut rng, &mut tasks, &mut next_id, 200);
    let recipe = Recipe::PendingTasks(PendingTasks::default());
    let old = build(dir.path(), &recipe, Some(140), 1 << 20);
    let merged = dir.path().join("merged.cart");
    let log = LogSource::open(dir.path()).unwrap();
    let report = catch_up_at(&old, &log, &merged, &recipe, &BuildOptions::default()).unwrap();
    assert_eq!(report.method, Method::Merge);
    let full = build(dir.path(), &recipe, None, 256);
    assert_eq!(std::fs::read(&merged).unwrap(), full.bytes());
    assert_queue_matches(&TaskQueue::new(StateIndex::new(&full).unwrap()), &tasks);
}

#[test]
fn state_catch_up_from_many_txns_equals_a_full_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed(24);
    let (db, _model) = random_database(dir.path(), seed, 90);
    let mut rng = Rng::new(seed);
    let (mut tasks, mut next_id) = (Tasks::new(), 0);
    task_txns(&db, &mut rng, &mut tasks, &mut next_id, 30);
    let log = LogSource::open(dir.path()).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let recipes = [
        Recipe::PendingTasks(PendingTasks::default()),
        Recipe::Extractor(Arc::new(WordIndex::new(None, 2))),
    ];
    for recipe in &recipes {
        for from in (0..120).step_by(15) {
            let old = build(dir.path(), recipe, Some(from), 1 << 20);
            let options = BuildOptions {
                catch_up_method: Some(Method::Merge),
                ..BuildOptions::default()
            };
            let merged = scratch.path().join("merged.cart");
            let report = catch_up_at(&old, &log, &merged, recipe, &options).unwrap();
            assert_eq!(report.method, Method::Merge);
            let full = build(dir.path(), recipe, None, 1 << 20);
            assert!(
                std::fs::read(&merged).unwrap() == full.bytes(),
                "{} from {from}",
                recipe.name()
            );
        }
    }
}

/// (keyspace, word) → keys whose values hold it.
type Words = BTreeMap<(Vec<u8>, Vec<u8>), Vec<Vec<u8>>>;

/// The word index of a model state.
fn words_model(state: &State) -> Words {
    let mut words = Words::new();
    for (keyspace, entries) in state {
        for (key, value) in entries {
            let mut seen: Vec<Vec<u8>> = value
                .split(|byte| !byte.is_ascii_alphanumeric())
                .filter(|word| word.len() >= 2)
                .map(<[u8]>::to_ascii_lowercase)
                .collect();
            seen.sort();
            seen.dedup();
            for word in seen {
                words
                    .entry((keyspace.clone(), word))
                    .or_default()
                    .push(key.clone());
            }
        }
    }
    words
}

fn assert_words_match(index: &impl IndexRead, state: &State) {
    let model = words_model(state);
    let mut total = 0;
    for ((keyspace, word), keys) in &model {
        let found = WordIndex::lookup(index, keyspace, std::str::from_utf8(word).unwrap());
        let found: Vec<Vec<u8>> = found.into_iter().map(|(_, key)| key).collect();
        assert_eq!(&found, keys, "{keyspace:?} {word:?}");
        total += keys.len() as u64;
    }
    let counted: u64 = index.groups().iter().map(|(_, count)| count).sum();
    assert_eq!(counted, total, "no entries beyond the model's");
}

#[test]
fn word_index_equals_the_model_across_drops_merges_and_the_delta() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed(23);
    let (db, mut model) = random_database(dir.path(), seed, 150);
    let extractor = Arc::new(WordIndex::new(None, 2));
    let recipe = Recipe::Extractor(extractor.clone());
    let old = build(dir.path(), &recipe, Some(100), 1 << 20);
    assert_words_match(&StateIndex::new(&old).unwrap(), &model.states[100]);

    let mut rng = Rng::new(seed ^ 0xabc);
    for _ in 0..30 {
        random_txn(&mut rng, &db, &mut model);
    }
    let log = LogSource::open(dir.path()).unwrap();
    let delta = Delta::load(&old, &log, None, |_| true).unwrap();
    let now = StateNow::new(StateIndex::new(&old).unwrap(), &delta, extractor.as_ref());
    assert_words_match(&now, model.last());

    let merged = dir.path().join("merged.cart");
    let report = catch_up_at(&old, &log, &merged, &recipe, &BuildOptions::default()).unwrap();
    assert_eq!(report.method, Method::Merge);
    let full = build(dir.path(), &recipe, None, 512);
    assert_eq!(std::fs::read(&merged).unwrap(), full.bytes());
    assert_words_match(&StateIndex::new(&full).unwrap(), model.last());
}
