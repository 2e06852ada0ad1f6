//! Golden files: databases written by format version 1, kept byte for byte in `golden/`
//! and opened on every run, and version 0 files, which this build must refuse. They change
//! only when the format does, on purpose, together with `spec/file_format_v1.md` and its
//! change log.
//!
//! To rewrite them after an intended format change:
//! `cargo test --test golden -- --ignored regenerate_golden_files`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use northstar::format::node::{encode_branch, encode_leaf, NodePage};
use northstar::format::{freelist, meta::Meta, overflow, page};
use northstar::{Db, Options, PAGE_SIZE};

fn golden_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(name)
}

/// Copies a golden database to a temporary directory, so opening it (which locks the
/// file) never touches the checked-in bytes.
fn open_copy(name: &str) -> (tempfile::TempDir, Db) {
    let temp = tempfile::tempdir().unwrap();
    for file in ["northstar.db", "northstar.log"] {
        let source = golden_dir(name).join(file);
        if source.exists() {
            std::fs::copy(source, temp.path().join(file)).unwrap();
        }
    }
    let db = Db::open(temp.path(), Options::default().create(false)).unwrap();
    (temp, db)
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// The contents of `golden/v1_small` after its last commit, and that commit's txn id.
fn small_contents() -> (Model, Model, u64) {
    let mut default = Model::new();
    for i in 0..1000u32 {
        if i % 7 != 3 {
            default.insert(
                format!("key-{i:04}").into_bytes(),
                format!("value-{i}-{}", "x".repeat((i % 40) as usize)).into_bytes(),
            );
        }
    }
    default.insert(b"key-0010".to_vec(), large_value());
    default.insert(Vec::new(), b"the empty key".to_vec());
    let colors: Model = [
        ("blue", "#0000ff"),
        ("green", "#00ff00"),
        ("red", "#ff0000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
    .collect();
    (default, colors, 4)
}

fn large_value() -> Vec<u8> {
    (0..40_000u32).map(|i| (i % 251) as u8).collect()
}

/// Writes `golden/v1_small` the way its bytes were made: four commits.
fn build_small(dir: &Path) {
    let db = Db::open(dir, Options::default()).unwrap();
    let mut txn = db.begin_write().unwrap();
    for i in 0..1000u32 {
        txn.put(
            format!("key-{i:04}"),
            format!("value-{i}-{}", "x".repeat((i % 40) as usize)),
        )
        .unwrap();
    }
    assert_eq!(txn.commit().unwrap(), 1);
    let mut txn = db.begin_write().unwrap();
    for i in (3..1000u32).step_by(7) {
        assert!(txn.delete(format!("key-{i:04}")).unwrap());
    }
    txn.put(b"key-0010", large_value()).unwrap();
    txn.put(b"", b"the empty key").unwrap();
    assert_eq!(txn.commit().unwrap(), 2);
    let mut txn = db.begin_write().unwrap();
    txn.create_keyspace("colors").unwrap();
    txn.create_keyspace("scratch").unwrap();
    let mut colors = txn.keyspace("colors").unwrap();
    colors.put("red", "#ff0000").unwrap();
    colors.put("green", "#00ff00").unwrap();
    colors.put("blue", "#0000ff").unwrap();
    txn.keyspace("scratch")
        .unwrap()
        .put("temporary", "gone soon")
        .unwrap();
    assert_eq!(txn.commit().unwrap(), 3);
    let mut txn = db.begin_write().unwrap();
    assert!(txn.drop_keyspace("scratch").unwrap());
    assert_eq!(txn.commit().unwrap(), 4);
}

fn entries(range: northstar::Range<'_>) -> Model {
    range
        .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.into_owned())))
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn golden_v1_empty_opens_empty_and_sound() {
    let (_temp, db) = open_copy("v1_empty");
    assert_eq!(db.last_txn_id(), 0);
    let txn = db.begin_read().unwrap();
    assert!(txn.is_empty());
    assert!(txn.first().unwrap().is_none());
    assert!(txn.keyspaces().unwrap().is_empty());
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.page_count, 2);
}

#[test]
fn golden_v1_small_opens_with_its_known_contents() {
    let (_temp, db) = open_copy("v1_small");
    let (default, colors, txn_id) = small_contents();
    assert_eq!(db.last_txn_id(), txn_id);
    let txn = db.begin_read().unwrap();
    assert_eq!(txn.len(), default.len() as u64);
    assert_eq!(entries(txn.iter().unwrap()), default);
    assert_eq!(txn.keyspaces().unwrap(), vec!["colors".to_string()]);
    assert_eq!(
        entries(txn.keyspace("colors").unwrap().iter().unwrap()),
        colors
    );
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(
        report.trees[0].depth >= 2,
        "the small database has a branch level"
    );
    assert!(
        report.trees[0].overflow_pages >= 3,
        "the 40 KB value spans overflow pages"
    );
    assert!(
        report.free_pages > 0,
        "the dropped keyspace and old pages are free"
    );
}

fn u16_at(bytes: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes(bytes[offset..offset + 2].try_into().unwrap())
}
fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap())
}
fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes[offset..offset + 8].try_into().unwrap())
}

/// Reads the golden files with the offsets written in the spec (not the decoder), and
/// checks that the encoder writes every page back byte for byte.
fn check_file_against_spec(name: &str) {
    let bytes = std::fs::read(golden_dir(name).join("northstar.db")).unwrap();
    assert_eq!(bytes.len() % PAGE_SIZE, 0);
    let page_at = |id: u64| &bytes[id as usize * PAGE_SIZE..(id as usize + 1) * PAGE_SIZE];
    let mut metas = Vec::new();
    for slot in 0..2u64 {
        let meta_page = page_at(slot);
        assert_eq!(&meta_page[0..4], b"NSPG");
        assert_eq!(meta_page[4], 1, "kind meta");
        assert_eq!(u64_at(meta_page, 8), slot, "page id");
        assert_eq!(
            u32_at(meta_page, 24),
            page::checksum(meta_page),
            "CRC32C at offset 24"
        );
        assert_eq!(&meta_page[32..40], b"NSTARDB\0");
        assert_eq!(u32_at(meta_page, 40), 1, "format version");
        assert_eq!(u32_at(meta_page, 44), 16384, "page size");
        assert_eq!(
            u64_at(meta_page, 48),
            u64_at(meta_page, 16),
            "txn id in body and header"
        );
        assert!(meta_page[160..].iter().all(|b| *b == 0));
        let meta = Meta::decode_body(meta_page).unwrap();
        assert_eq!(meta.page_count, u64_at(meta_page, 56));
        assert_eq!(meta.default_root.id, u64_at(meta_page, 64));
        assert_eq!(meta.default_root.txn, u64_at(meta_page, 136));
        assert_eq!(meta.default_len, u64_at(meta_page, 72));
        assert_eq!(meta.catalog_root.id, u64_at(meta_page, 80));
        assert_eq!(meta.catalog_root.txn, u64_at(meta_page, 144));
        assert_eq!(meta.freelist_head.id, u64_at(meta_page, 88));
        assert_eq!(meta.freelist_head.txn, u64_at(meta_page, 152));
        assert_eq!(meta.free_count, u64_at(meta_page, 96));
        assert_eq!(meta.next_keyspace_id, u32_at(meta_page, 104));
        assert_eq!(&meta.database_id[..], &meta_page[112..128]);
        assert_eq!(meta.log_position, u64_at(meta_page, 128));
        assert_eq!(meta.encode(slot), meta_page, "meta encoder is byte-exact");
        metas.push(meta);
    }
    let meta = *metas.iter().max_by_key(|meta| meta.txn_id).unwrap();
    assert_eq!(metas[0].database_id, metas[1].database_id);
    let mut buffer = vec![0u8; PAGE_SIZE];
    for id in 2..meta.page_count {
        let raw = page_at(id);
        if !page::PageHeader::has_magic(raw) {
            continue;
        }
        let header = page::verify(raw, id).unwrap_or_else(|fault| panic!("page {id}: {fault}"));
        let txn_id = header.txn_id;
        match header.kind {
            2 | 3 => {
                let node = NodePage::new(raw, header.kind == 3);
                node.check().unwrap();
                for index in 0..node.count() {
                    let slot = u16_at(raw, 32 + 2 * index) as usize;
                    assert_eq!(
                        u16_at(raw, slot) as usize,
                        node.key(index).len(),
                        "key length at cell offset 0"
                    );
                }
                if node.is_leaf() {
                    encode_leaf(
                        &mut buffer,
                        id,
                        txn_id,
                        (0..node.count()).map(|i| (node.key(i), node.value(i))),
                    );
                } else {
                    encode_branch(
                        &mut buffer,
                        id,
                        txn_id,
                        (0..node.count()).map(|i| (node.key(i), node.child(i))),
                    );
                }
            }
            4 => overflow::encode(
                &mut buffer,
                id,
                txn_id,
                overflow::payload(raw, header.aux).unwrap(),
            ),
            5 => {
                let (next, ids) = freelist::decode(raw, header.count).unwrap();
                assert_eq!(next, u64_at(raw, 32));
                let ids: Vec<u64> = ids.collect();
                freelist::encode(&mut buffer, id, txn_id, next, &ids);
            }
            kind => panic!("page {id}: unexpected kind {kind}"),
        }
        // Free pages may hold stale but well-formed pages; the re-encoding must still match.
        assert_eq!(
            &buffer[..],
            raw,
            "page {id} (kind {}) re-encodes byte for byte",
            header.kind
        );
    }
}

#[test]
fn golden_v1_empty_matches_the_spec_byte_for_byte() {
    check_file_against_spec("v1_empty");
}

#[test]
fn golden_v1_small_matches_the_spec_byte_for_byte() {
    check_file_against_spec("v1_small");
}

#[test]
fn rebuilding_the_small_database_gives_the_same_logical_contents() {
    let temp = tempfile::tempdir().unwrap();
    build_small(temp.path());
    let rebuilt = Db::open(temp.path(), Options::default()).unwrap();
    let (_golden_temp, golden) = open_copy("v1_small");
    let (a, b) = (rebuilt.begin_read().unwrap(), golden.begin_read().unwrap());
    assert_eq!(entries(a.iter().unwrap()), entries(b.iter().unwrap()));
    assert_eq!(a.txn_id(), b.txn_id());
}

#[test]
fn golden_v0_files_are_refused_as_an_older_format_and_left_untouched() {
    for name in ["v0_empty", "v0_small"] {
        let temp = tempfile::tempdir().unwrap();
        let page_file = temp.path().join("northstar.db");
        std::fs::copy(golden_dir(name).join("northstar.db"), &page_file).unwrap();
        let before = std::fs::read(&page_file).unwrap();
        match Db::open(temp.path(), Options::default().create(false)) {
            Err(northstar::Error::UnsupportedVersion {
                found: 0,
                supported: 1,
                ..
            }) => {}
            other => panic!(
                "{name}: expected UnsupportedVersion, got {:?}",
                other.map(|db| db.last_txn_id())
            ),
        }
        assert_eq!(
            std::fs::read(&page_file).unwrap(),
            before,
            "{name}: file untouched"
        );
        assert!(
            !temp.path().join("northstar.log").exists(),
            "{name}: no log created"
        );
    }
}

#[test]
#[ignore = "rewrites golden/; run only after an intended format change"]
fn regenerate_golden_files() {
    for (name, build) in [
        ("v1_empty", None),
        ("v1_small", Some(build_small as fn(&Path))),
    ] {
        let dir = golden_dir(name);
        let _ = std::fs::remove_dir_all(&dir);
        match build {
            Some(build) => build(&dir),
            None => drop(Db::open(&dir, Options::default()).unwrap()),
        }
        let file = dir.join("northstar.db");
        // Keep only the pages in use: the tail past the high-water mark is growth slack.
        let meta_count = {
            let db = Db::open(&dir, Options::default()).unwrap();
            db.check().unwrap().page_count
        };
        let handle = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        handle.set_len(meta_count * PAGE_SIZE as u64).unwrap();
    }
}
