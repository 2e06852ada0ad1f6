//! Target `page_decode`: any bytes, padded or cut to 16 KiB, read as a page.
//!
//! Properties checked:
//! - `page::verify`, `NodePage::check` (as a leaf and as a branch, whatever the kind byte),
//!   the freelist, overflow and meta decoders never panic on any bytes.
//! - The same bytes re-sealed (page magic set, checksum recomputed for the page id in the
//!   header) verify exactly when the kind byte is known, so everything behind the checksum
//!   is reached too.
//! - On a node page that passed `check`, every accessor works, `search` and `child_index`
//!   agree with a linear scan, and re-encoding the cells gives a page that checks and
//!   holds the same cells.
//! - Freelist, overflow and catalog-descriptor contents survive a re-encode.

use northstar::format::catalog::Descriptor;
use northstar::format::meta::Meta;
use northstar::format::node::{encode_branch, encode_leaf, CellValue, NodePage};
use northstar::format::page::{self, PageFault, PageHeader, PageKind, PAGE_MAGIC};
use northstar::format::{freelist, overflow};
use northstar::PAGE_SIZE;

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let mut bytes = vec![0u8; PAGE_SIZE];
    let len = data.len().min(PAGE_SIZE);
    bytes[..len].copy_from_slice(&data[..len]);
    decode_unchecked(&bytes);
    reseal(&mut bytes);
    decode_resealed(&bytes);
}

/// Sets the page magic and seals the page for the page id its header names.
pub fn reseal(bytes: &mut [u8]) {
    bytes[..4].copy_from_slice(&PAGE_MAGIC);
    page::seal(bytes);
}

/// Everything a reader may call on bytes it has not verified.
fn decode_unchecked(bytes: &[u8]) {
    let header = PageHeader::decode(bytes);
    let verdict = page::verify(bytes, header.page_id);
    if let Ok(verified) = verdict {
        assert_eq!(verified, header);
    }
    let _ = page::verify(bytes, header.page_id.wrapping_add(1));
    decode_body(bytes, &header);
}

fn decode_resealed(bytes: &[u8]) {
    let header = PageHeader::decode(bytes);
    let verdict = page::verify(bytes, header.page_id);
    match PageKind::from_byte(header.kind) {
        Some(_) => assert_eq!(verdict, Ok(header), "a sealed page of a known kind"),
        None => assert_eq!(verdict, Err(PageFault::WrongKind { found: header.kind })),
    }
    let other_id = header.page_id ^ 1;
    assert_eq!(
        page::verify(bytes, other_id),
        Err(PageFault::WrongPageId {
            found: header.page_id
        })
    );
    decode_body(bytes, &header);
}

/// Every body decoder, whatever the kind byte says.
fn decode_body(bytes: &[u8], header: &PageHeader) {
    check_node(bytes, header, true);
    check_node(bytes, header, false);
    check_freelist(bytes, header);
    check_overflow(bytes, header);
    let _ = Meta::decode_body(bytes);
}

fn check_node(bytes: &[u8], header: &PageHeader, leaf: bool) {
    let node = NodePage::new(bytes, leaf);
    if node.check().is_err() {
        return;
    }
    assert_eq!(node.count(), header.count as usize);
    assert_eq!(node.is_leaf(), leaf);
    let keys: Vec<&[u8]> = (0..node.count()).map(|index| node.key(index)).collect();
    if leaf {
        for index in 0..node.count() {
            if let CellValue::Inline(value) = node.value(index) {
                check_descriptor(value);
            }
        }
    } else {
        assert!(node.count() >= 1, "a checked branch has a child");
        assert!(keys[0].is_empty(), "branch cell 0 has no key");
        (0..node.count()).for_each(|index| {
            node.child(index);
        });
    }
    for probe in probes(&keys) {
        if leaf {
            assert_eq!(node.search(&probe), keys.binary_search(&&probe[..]));
        } else {
            let expected = (1..keys.len())
                .rev()
                .find(|&index| keys[index] <= &probe[..])
                .unwrap_or(0);
            assert_eq!(node.child_index(&probe), expected, "probe {probe:?}");
        }
    }
    if node.used_size() <= PAGE_SIZE {
        reencode_node(&node, header);
    }
}

/// Keys to look up: every key, and neighbours of each that may or may not be keys.
fn probes(keys: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut probes = vec![Vec::new(), vec![0xff; 8]];
    for key in keys.iter().take(64) {
        probes.push(key.to_vec());
        let mut after = key.to_vec();
        after.push(0);
        probes.push(after);
        if let Some((last, head)) = key.split_last() {
            probes.push(head.to_vec());
            let mut before = head.to_vec();
            before.push(last.wrapping_sub(1));
            probes.push(before);
        }
    }
    probes
}

/// Writes the node's cells to a fresh page, which must check and hold the same cells.
fn reencode_node(node: &NodePage<'_>, header: &PageHeader) {
    let mut out = vec![0u8; PAGE_SIZE];
    let count = node.count();
    if node.is_leaf() {
        let cells = (0..count).map(|index| (node.key(index), node.value(index)));
        encode_leaf(&mut out, header.page_id, header.txn_id, cells);
    } else {
        let cells = (0..count).map(|index| (node.key(index), node.child(index)));
        encode_branch(&mut out, header.page_id, header.txn_id, cells);
    }
    let verified = page::verify(&out, header.page_id).expect("re-encoded node verifies");
    assert_eq!(verified.count as usize, count);
    let copy = NodePage::new(&out, node.is_leaf());
    assert_eq!(copy.check(), Ok(()), "re-encoded node checks");
    assert_eq!(copy.used_size(), node.used_size());
    for index in 0..count {
        assert_eq!(copy.key(index), node.key(index));
        if node.is_leaf() {
            assert_eq!(copy.value(index), node.value(index));
        } else {
            assert_eq!(copy.child(index), node.child(index));
        }
    }
}

fn check_descriptor(value: &[u8]) {
    if let Some(descriptor) = Descriptor::decode(value) {
        assert_eq!(&descriptor.encode()[..], value);
    }
}

fn check_freelist(bytes: &[u8], header: &PageHeader) {
    let Some((next, ids)) = freelist::decode(bytes, header.count) else {
        return;
    };
    let ids: Vec<u64> = ids.collect();
    assert_eq!(ids.len(), header.count as usize);
    let mut out = vec![0u8; PAGE_SIZE];
    freelist::encode(&mut out, header.page_id, header.txn_id, next, &ids);
    let (next_copy, ids_copy) = freelist::decode(&out, header.count).expect("re-encoded");
    assert_eq!(next_copy, next);
    assert!(ids_copy.eq(ids.iter().copied()));
}

fn check_overflow(bytes: &[u8], header: &PageHeader) {
    let Some(payload) = overflow::payload(bytes, header.aux) else {
        return;
    };
    assert_eq!(payload.len(), header.aux as usize);
    let mut out = vec![0u8; PAGE_SIZE];
    overflow::encode(&mut out, header.page_id, header.txn_id, payload);
    let verified = page::verify(&out, header.page_id).expect("re-encoded overflow verifies");
    assert_eq!(overflow::payload(&out, verified.aux), Some(payload));
}
