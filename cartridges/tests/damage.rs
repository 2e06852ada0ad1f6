//! Damaged and foreign cartridges: every byte flipped, truncation at every section
//! boundary, a newer format, another database's id. Each gives a typed error naming the
//! section and offset — never a wrong answer, never a panic.

mod common;

use std::path::Path;

use northstar_cartridges::tasks::PendingTasks;
use northstar_cartridges::{
    build_at, cartridge_path, BuildOptions, Cartridge, CartridgeError, Delta, LogSource, Recipe,
    Shelf,
};

fn built(dir: &Path, recipe: &Recipe) -> Vec<u8> {
    let path = cartridge_path(dir, recipe.name());
    build_at(
        &LogSource::open(dir).unwrap(),
        &path,
        recipe,
        &BuildOptions::default(),
    )
    .unwrap();
    std::fs::read(path).unwrap()
}

fn open_bytes(dir: &Path, bytes: &[u8]) -> Result<Cartridge, CartridgeError> {
    Cartridge::from_bytes(dir.join("damaged.cart"), bytes.to_vec())
}

fn section_names(cartridge: &Cartridge) -> Vec<(&'static str, u64, u64)> {
    cartridge
        .sections()
        .into_iter()
        .map(|s| (s.name, s.offset, s.size))
        .collect()
}

/// The section an offset of the file belongs to, as errors name it.
fn section_at(sections: &[(&'static str, u64, u64)], offset: u64) -> &'static str {
    if offset < 128 {
        return "header";
    }
    sections
        .iter()
        .rev()
        .find(|(_, start, _)| *start <= offset)
        .map_or("section table", |(name, _, _)| name)
}

#[test]
fn every_flipped_byte_is_a_typed_error_naming_its_section() {
    let dir = tempfile::tempdir().unwrap();
    common::random_database(dir.path(), 31, 25);
    for recipe in [
        Recipe::KeyHistory,
        Recipe::PendingTasks(PendingTasks::default()),
    ] {
        let good = built(dir.path(), &recipe);
        let sections = section_names(&open_bytes(dir.path(), &good).unwrap());
        let table_end = 128 + 32 * sections.len() as u64;
        for offset in 0..good.len() {
            let mut bytes = good.clone();
            bytes[offset] ^= 0x10;
            match open_bytes(dir.path(), &bytes) {
                Ok(_) => panic!("flip at {offset} of {} was accepted", recipe.name()),
                Err(CartridgeError::Corrupt { section, .. }) => {
                    let offset = offset as u64;
                    if offset >= table_end {
                        assert_eq!(section, section_at(&sections, offset), "flip at {offset}");
                    }
                }
                Err(CartridgeError::NotACartridge { .. }) => assert!(offset < 8),
                Err(CartridgeError::NewerVersion { .. }) => assert!((12..16).contains(&offset)),
                Err(other) => panic!("flip at {offset}: unexpected error {other}"),
            }
        }
    }
}

#[test]
fn truncation_at_every_section_boundary_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    common::random_database(dir.path(), 32, 25);
    let good = built(dir.path(), &Recipe::KeyHistory);
    let sections = section_names(&open_bytes(dir.path(), &good).unwrap());
    let mut cuts = vec![0, 1, 8, 127, 128, 129, 128 + 32 * sections.len() as u64 - 1];
    for (_, offset, size) in &sections {
        cuts.extend([
            offset.saturating_sub(1),
            *offset,
            offset + 1,
            offset + size - 1.min(*size),
        ]);
    }
    for cut in cuts.into_iter().filter(|cut| (*cut as usize) < good.len()) {
        match open_bytes(dir.path(), &good[..cut as usize]) {
            Err(CartridgeError::Corrupt { offset, .. }) => assert!(offset <= cut),
            Err(CartridgeError::NotACartridge { .. }) => assert!(cut < 8),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn a_newer_format_is_refused_as_newer() {
    let dir = tempfile::tempdir().unwrap();
    common::random_database(dir.path(), 33, 5);
    let mut bytes = built(dir.path(), &Recipe::KeyHistory);
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    bytes[12..16].copy_from_slice(&2u32.to_le_bytes());
    let crc = crc32c_of(&bytes[..124]);
    bytes[124..128].copy_from_slice(&crc.to_le_bytes());
    match open_bytes(dir.path(), &bytes) {
        Err(CartridgeError::NewerVersion {
            found: 2,
            reader_min: 2,
            supported: 1,
            ..
        }) => {}
        other => panic!("expected NewerVersion, got {other:?}"),
    }
}

#[test]
fn another_databases_cartridge_is_refused_everywhere() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let (db, _) = common::random_database(ours.path(), 34, 10);
    common::random_database(theirs.path(), 35, 10);
    let foreign = built(theirs.path(), &Recipe::KeyHistory);
    let path = cartridge_path(ours.path(), "key_history");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &foreign).unwrap();
    let wrong = |result: Result<(), CartridgeError>| match result {
        Err(CartridgeError::WrongDatabase { path: named, .. }) => assert_eq!(named, path),
        other => panic!("expected WrongDatabase, got {other:?}"),
    };
    wrong(Cartridge::open_for(&path, db.database_id(), "key_history").map(drop));
    let log = LogSource::open(ours.path()).unwrap();
    wrong(Delta::load(&Cartridge::open(&path).unwrap(), &log, None, |_| true).map(drop));
    wrong(Shelf::open(ours.path(), Recipe::KeyHistory, &BuildOptions::default()).map(drop));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        foreign,
        "a refused cartridge is left alone"
    );
}

#[test]
fn a_log_truncated_past_the_cartridge_is_flagged_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = common::random_database(dir.path(), 36, 30);
    let (shelf, _) = Shelf::open(dir.path(), Recipe::KeyHistory, &BuildOptions::default()).unwrap();
    assert!(!shelf.freshness().unwrap().ahead_of_log);
    drop(db);
    // Another log of the same database id, with fewer txns: the cartridge covers txns
    // the log no longer holds.
    let log_path = dir.path().join("northstar.log");
    let bytes = std::fs::read(&log_path).unwrap();
    let end = find_record_end(&bytes, 10);
    std::fs::write(&log_path, &bytes[..end]).unwrap();
    let freshness = shelf.freshness().unwrap();
    assert!(freshness.ahead_of_log);
    let log = LogSource::open(dir.path()).unwrap();
    match Delta::load(&shelf.current(), &log, None, |_| true) {
        Err(CartridgeError::LogMismatch { .. }) => {}
        other => panic!("expected LogMismatch, got {other:?}"),
    }
    let report = shelf.catch_up(&BuildOptions::default()).unwrap();
    assert_eq!(report.method, northstar_cartridges::Method::Full);
    assert_eq!(shelf.current().txn_to(), 10);
}

/// The offset just past the record of `txn` in a log's bytes.
fn find_record_end(bytes: &[u8], txn: u64) -> usize {
    use northstar::format::frame::LogHeader;
    use northstar::log::Scanner;
    let header = LogHeader::decode(bytes).unwrap();
    let mut scanner = Scanner::new(bytes, 64, 1, header.database_id);
    while let Some((_, record)) = scanner.next() {
        if record.header.txn_id == txn {
            return scanner.offset() as usize;
        }
    }
    panic!("no txn {txn}");
}

fn crc32c_of(bytes: &[u8]) -> u32 {
    // CRC32C (Castagnoli), bitwise: the test does not trust the crate it checks.
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
