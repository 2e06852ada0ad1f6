//! Golden commit logs: a small log of known records and damaged copies of it, kept byte for
//! byte in `golden/log_v0/` and read on every run with their expected verdicts. They change
//! only with the format (`spec/commit_record_v0.md`).
//!
//! To rewrite them after an intended format change:
//! `cargo test --test golden_log -- --ignored regenerate_golden_logs`.

use std::path::{Path, PathBuf};

use northstar::format::frame::{decode_record, encode_record, LogHeader, Op, LOG_HEADER_SIZE};
use northstar::log::{LogEnd, Scanner};
use northstar::{Db, Options};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden/log_v0")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(golden(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Start offsets of the records of the sound log, and its length.
fn boundaries(log: &[u8]) -> Vec<u64> {
    let header = LogHeader::decode(log).unwrap();
    let mut offsets: Vec<u64> = Scanner::new(log, LOG_HEADER_SIZE as u64, 1, header.database_id)
        .map(|(offset, _)| offset)
        .collect();
    offsets.push(log.len() as u64);
    offsets
}

fn verdict(log: &[u8]) -> (usize, LogEnd) {
    let header = LogHeader::decode(log).unwrap();
    let mut scanner = Scanner::new(
        log,
        LOG_HEADER_SIZE as u64,
        header.first_txn_id,
        header.database_id,
    );
    let records = scanner.by_ref().count();
    (records, scanner.end().unwrap().clone())
}

/// The commits the golden log records.
fn write_history(dir: &Path) {
    let db = Db::open(dir, Options::default()).unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.put("a", "1").unwrap();
    txn.put("b", "2").unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.create_keyspace("colors").unwrap();
    txn.keyspace("colors")
        .unwrap()
        .put("red", "#ff0000")
        .unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin_write().unwrap();
    assert!(txn.delete("a").unwrap());
    txn.put("c", vec![7u8; 300]).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin_write().unwrap();
    assert!(txn.drop_keyspace("colors").unwrap());
    txn.commit().unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.put("b", "two").unwrap();
    txn.commit().unwrap();
}

#[test]
fn golden_log_reads_as_its_known_records() {
    let log = read("sound.log");
    let header = LogHeader::decode(&log).unwrap();
    assert_eq!(&log[0..8], b"NSLOG\0\0\0");
    assert_eq!(
        u32::from_le_bytes(log[8..12].try_into().unwrap()),
        0,
        "version"
    );
    assert_eq!(
        u32::from_le_bytes(log[12..16].try_into().unwrap()),
        64,
        "header size"
    );
    assert_eq!(header.first_txn_id, 1);
    assert_eq!(
        LogHeader { ..header }.encode()[..],
        log[..64],
        "header encoder is byte-exact"
    );
    let records: Vec<(u64, Vec<String>)> = Scanner::new(&log, 64, 1, header.database_id)
        .map(|(offset, record)| {
            assert_eq!(offset % 8, 0);
            let ops = record
                .ops()
                .map(|op| format!("{:?}", op.unwrap()))
                .collect();
            (record.header.txn_id, ops)
        })
        .collect();
    let expected: Vec<(u64, Vec<String>)> = vec![
        (
            1,
            vec![
                r#"Put { keyspace: 0, key: [97], value: [49] }"#.into(),
                r#"Put { keyspace: 0, key: [98], value: [50] }"#.into(),
            ],
        ),
        (
            2,
            vec![
                format!(
                    "{:?}",
                    Op::CreateKeyspace {
                        keyspace: 1,
                        name: b"colors"
                    }
                ),
                format!(
                    "{:?}",
                    Op::Put {
                        keyspace: 1,
                        key: b"red",
                        value: b"#ff0000"
                    }
                ),
            ],
        ),
        (
            3,
            vec![
                format!(
                    "{:?}",
                    Op::Delete {
                        keyspace: 0,
                        key: b"a"
                    }
                ),
                format!(
                    "{:?}",
                    Op::Put {
                        keyspace: 0,
                        key: b"c",
                        value: &[7u8; 300]
                    }
                ),
            ],
        ),
        (
            4,
            vec![format!(
                "{:?}",
                Op::DropKeyspace {
                    keyspace: 1,
                    name: b"colors"
                }
            )],
        ),
        (
            5,
            vec![format!(
                "{:?}",
                Op::Put {
                    keyspace: 0,
                    key: b"b",
                    value: b"two"
                }
            )],
        ),
    ];
    assert_eq!(records, expected);
}

#[test]
fn golden_log_records_match_the_spec_byte_for_byte() {
    let log = read("sound.log");
    let header = LogHeader::decode(&log).unwrap();
    let offsets = boundaries(&log);
    for pair in offsets.windows(2) {
        let bytes = &log[pair[0] as usize..pair[1] as usize];
        assert_eq!(&bytes[0..4], b"NSRC");
        let length = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
        assert_eq!(length as usize, bytes.len());
        assert_eq!(
            u32::from_le_bytes(bytes[44..48].try_into().unwrap()),
            crc32c::crc32c(&bytes[..44])
        );
        let trailer = &bytes[bytes.len() - 16..];
        assert_eq!(&trailer[4..8], b"NSRE");
        assert_eq!(
            u64::from_le_bytes(trailer[8..16].try_into().unwrap()),
            length
        );
        assert_eq!(
            u32::from_le_bytes(trailer[0..4].try_into().unwrap()),
            crc32c::crc32c(&bytes[48..bytes.len() - 16])
        );
        let record = decode_record(bytes).unwrap();
        let ops: Vec<Op<'_>> = record.ops().map(Result::unwrap).collect();
        assert_eq!(
            encode_record(record.header.txn_id, &header.database_id, &ops),
            bytes,
            "record re-encodes byte for byte"
        );
    }
}

#[test]
fn golden_damaged_logs_get_their_verdicts() {
    let sound = read("sound.log");
    let offsets = boundaries(&sound);
    let (last, second, third) = (offsets[4], offsets[1], offsets[2]);
    assert_eq!(
        verdict(&sound),
        (
            5,
            LogEnd::Clean {
                offset: sound.len() as u64
            }
        )
    );

    let (records, end) = verdict(&read("torn_last_record.log"));
    assert_eq!(records, 4);
    assert!(
        matches!(end, LogEnd::TornTail { offset, .. } if offset == last),
        "{end:?}"
    );

    let (records, end) = verdict(&read("garbage_tail.log"));
    assert_eq!(records, 5);
    assert!(
        matches!(end, LogEnd::TornTail { offset, bytes: 100, .. } if offset == sound.len() as u64),
        "{end:?}"
    );

    let (records, end) = verdict(&read("zero_tail.log"));
    assert_eq!(records, 5);
    assert!(
        matches!(end, LogEnd::TornTail { offset, .. } if offset == sound.len() as u64),
        "{end:?}"
    );

    let (records, end) = verdict(&read("flipped_payload_bit.log"));
    assert_eq!(records, 1);
    assert!(
        matches!(&end, LogEnd::Corrupt { offset, expected_txn_id: 2, next_valid_offset, detail } if *offset == second && *next_valid_offset == third && detail.contains("payload checksum")),
        "{end:?}"
    );

    let (records, end) = verdict(&read("bad_header_crc_middle.log"));
    assert_eq!(records, 2);
    assert!(
        matches!(&end, LogEnd::Corrupt { offset, expected_txn_id: 3, detail, .. } if *offset == third && detail.contains("header checksum")),
        "{end:?}"
    );
}

#[test]
fn golden_damaged_logs_open_as_the_spec_says() {
    for (name, expect_txn) in [
        ("sound.log", Some(5)),
        ("torn_last_record.log", Some(4)),
        ("garbage_tail.log", Some(5)),
        ("zero_tail.log", Some(5)),
        ("flipped_payload_bit.log", None),
        ("bad_header_crc_middle.log", None),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(golden("northstar.db"), dir.path().join("northstar.db")).unwrap();
        std::fs::copy(golden(name), dir.path().join("northstar.log")).unwrap();
        match (Db::open(dir.path(), Options::default()), expect_txn) {
            (Ok(db), Some(txn)) => {
                assert_eq!(db.last_txn_id(), txn, "{name}");
                assert!(db.check().unwrap().is_ok(), "{name}");
            }
            (
                Err(northstar::Error::Corrupt {
                    offset: Some(_),
                    path,
                    ..
                }),
                None,
            ) => {
                assert!(path.ends_with("northstar.log"), "{name}");
                assert_eq!(
                    std::fs::read(dir.path().join("northstar.log")).unwrap(),
                    read(name),
                    "{name}: log untouched"
                );
            }
            (result, _) => panic!("{name}: unexpected {:?}", result.map(|db| db.last_txn_id())),
        }
    }
}

/// Rewrites only `golden/log_v0/northstar.db` (after a page file format change): an empty
/// database at txn 0 with the database id of the golden logs, so the logs stay as they are.
#[test]
#[ignore = "rewrites golden/log_v0/northstar.db; run only after a page file format change"]
fn regenerate_golden_log_page_file() {
    let log = read("sound.log");
    let database_id = LogHeader::decode(&log).unwrap().database_id;
    let dir = tempfile::tempdir().unwrap();
    drop(Db::open(dir.path(), Options::default()).unwrap());
    let mut bytes = std::fs::read(dir.path().join("northstar.db")).unwrap();
    for slot in 0..2 {
        let page = &mut bytes[slot * northstar::PAGE_SIZE..(slot + 1) * northstar::PAGE_SIZE];
        page[112..128].copy_from_slice(&database_id);
        northstar::format::page::seal(page);
    }
    std::fs::write(golden("northstar.db"), bytes).unwrap();
}

#[test]
#[ignore = "rewrites golden/log_v0; run only after an intended format change"]
fn regenerate_golden_logs() {
    let dir = tempfile::tempdir().unwrap();
    // The page file is kept at txn 0 (no checkpoint), so opening it replays the whole log.
    std::fs::create_dir_all(golden("")).unwrap();
    drop(Db::open(dir.path(), Options::default()).unwrap());
    std::fs::copy(dir.path().join("northstar.db"), golden("northstar.db")).unwrap();
    write_history(dir.path());
    let sound = std::fs::read(dir.path().join("northstar.log")).unwrap();
    std::fs::write(golden("sound.log"), &sound).unwrap();
    let offsets = boundaries(&sound);
    let damaged = |name: &str, change: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = sound.clone();
        change(&mut bytes);
        std::fs::write(golden(name), bytes).unwrap();
    };
    damaged("torn_last_record.log", &|bytes| {
        bytes.truncate(offsets[4] as usize + 30)
    });
    damaged("garbage_tail.log", &|bytes| {
        bytes.extend((0..100u32).map(|i| (i * 37 + 11) as u8))
    });
    damaged("zero_tail.log", &|bytes| bytes.extend([0u8; 4096]));
    damaged("flipped_payload_bit.log", &|bytes| {
        bytes[offsets[1] as usize + 60] ^= 0x10
    });
    damaged("bad_header_crc_middle.log", &|bytes| {
        bytes[offsets[2] as usize + 45] ^= 0x01
    });
}
