//! Target `cartridge_decode`: any bytes as a cartridge file, as given and "re-sealed" (every
//! CRC recomputed, so damage reaches the checks behind the CRCs).
//!
//! Properties checked:
//! - `Cartridge::from_bytes` never panics; it accepts or returns a typed error.
//! - An accepted cartridge answers every query without panicking: key_history AS OF reads
//!   and histories of keys taken from its own entries, state-index groups, counts, scans
//!   and pending tasks; its tables stream back in strictly increasing order, and each
//!   AS OF read at an entry's own txn finds that entry.

use northstar_cartridges::format::layout::{
    Header, SectionEntry, HEADER_SIZE, SECTION_COUNT, SECTION_ENTRY_SIZE,
};
use northstar_cartridges::format::Kind;
use northstar_cartridges::{
    Cartridge, IndexRead, KeyHistory, PendingTask, StateIndex, TableId, TaskQueue,
};
use zerocopy::{FromBytes, IntoBytes};

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    check(data.to_vec());
    let mut sealed = data.to_vec();
    reseal(&mut sealed);
    check(sealed);
}

/// Recomputes every section CRC whose range lies in the file, the table CRC and the
/// header CRC.
pub fn reseal(bytes: &mut [u8]) {
    let table_end = HEADER_SIZE + SECTION_COUNT * SECTION_ENTRY_SIZE;
    if bytes.len() < table_end {
        return;
    }
    for index in 0..SECTION_COUNT {
        let at = HEADER_SIZE + index * SECTION_ENTRY_SIZE;
        let (mut entry, _) = SectionEntry::read_from_prefix(&bytes[at..]).expect("32 bytes");
        let (start, size) = (entry.offset.get(), entry.size.get());
        let Some(end) = start
            .checked_add(size)
            .filter(|end| *end <= bytes.len() as u64)
        else {
            continue;
        };
        entry
            .crc
            .set(crc32c::crc32c(&bytes[start as usize..end as usize]));
        bytes[at..at + SECTION_ENTRY_SIZE].copy_from_slice(entry.as_bytes());
    }
    let table_crc = crc32c::crc32c(&bytes[HEADER_SIZE..table_end]);
    let (mut header, _) = Header::read_from_prefix(bytes).expect("128 bytes");
    header.table_crc.set(table_crc);
    header
        .header_crc
        .set(crc32c::crc32c(&header.as_bytes()[..HEADER_SIZE - 4]));
    bytes[..HEADER_SIZE].copy_from_slice(header.as_bytes());
}

fn check(bytes: Vec<u8>) {
    let Ok(cartridge) = Cartridge::from_bytes("fuzz.cart", bytes) else {
        return;
    };
    for table in [TableId::Index, TableId::Sources] {
        let entries: Vec<_> = cartridge
            .stream(table)
            .map(|entry| entry.expect("in memory"))
            .collect();
        for pair in entries.windows(2) {
            let (left, right) = (&pair[0], &pair[1]);
            let order = (&left.group, &left.key, left.seq, &left.value);
            assert!(
                order < (&right.group, &right.key, right.seq, &right.value),
                "tables stream in order"
            );
        }
        if table == TableId::Index && cartridge.kind() == Kind::KeyHistory {
            let history = KeyHistory::new(&cartridge).expect("a key_history cartridge");
            for entry in entries.iter().take(64) {
                let found =
                    history.get_at(&entry.group, &entry.key, entry.seq.min(cartridge.txn_to()));
                if entry.seq <= cartridge.txn_to() {
                    let expected = (!entry.tombstone).then_some(&entry.value[..]);
                    assert_eq!(
                        found.expect("in range"),
                        expected,
                        "AS OF finds the entry at its txn"
                    );
                }
                let versions = history.history(&entry.group, &entry.key);
                assert!(versions.iter().any(|version| version.txn == entry.seq));
            }
        }
    }
    if cartridge.kind() != Kind::KeyHistory {
        let index = StateIndex::new(&cartridge).expect("a state-derived cartridge");
        let queue = TaskQueue::new(index);
        for (group, count) in index.groups() {
            assert_eq!(index.count(&group), count);
            let mut seen = 0;
            index.scan(&group, None, &mut |_, _| {
                seen += 1;
                true
            });
            assert_eq!(seen, count);
            let mut out = [PendingTask { priority: 0, id: 0 }; 4];
            assert!(queue.next_pending_into(&group, &mut out) <= 4);
        }
        let _ = queue.next_claimable();
    }
}
