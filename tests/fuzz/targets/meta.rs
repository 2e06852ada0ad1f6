//! Target `meta_decode`: any bytes as a meta page, and metas built from the bytes.
//!
//! Properties checked:
//! - `page::verify` and `Meta::decode_body` never panic, on the bytes as given or
//!   re-sealed as meta slot 0 or 1.
//! - `decode_body` follows the spec's validity rules: no file magic is `NotOurs`, another
//!   version is `Version`, another page size is `PageSize`, and otherwise it accepts the
//!   meta exactly when its page count is at least 2, every root and the freelist head is 0
//!   or in `2 .. page count`, and the free count is below the page count.
//! - A decoded meta re-encodes to a page that verifies as its slot and decodes to itself.
//! - A meta built from fuzzer-chosen fields round-trips through `encode` and `decode_body`
//!   when valid, and is refused as `Invalid` when not.

use northstar::format::meta::{Meta, MetaFault, FILE_MAGIC, FORMAT_VERSION};
use northstar::format::page::{self, PageFault, PageHeader, PageKind, PageRef, PAGE_MAGIC};
use northstar::PAGE_SIZE;

use crate::input::Input;

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let mut bytes = vec![0u8; PAGE_SIZE];
    let len = data.len().min(PAGE_SIZE);
    bytes[..len].copy_from_slice(&data[..len]);
    let header = PageHeader::decode(&bytes);
    let _ = page::verify(&bytes, 0);
    let _ = page::verify(&bytes, 1);
    decode_and_compare(&bytes);

    // Re-sealed as a meta page in the slot its header names, so the body is reached
    // behind a valid checksum.
    let slot = header.page_id % 2;
    bytes[..4].copy_from_slice(&PAGE_MAGIC);
    bytes[4] = PageKind::Meta as u8;
    bytes[8..16].copy_from_slice(&slot.to_le_bytes());
    page::seal(&mut bytes);
    let verified = page::verify(&bytes, slot).expect("a sealed meta page verifies");
    assert_eq!(verified.kind, PageKind::Meta as u8);
    assert_eq!(
        page::verify(&bytes, 1 - slot),
        Err(PageFault::WrongPageId { found: slot })
    );
    decode_and_compare(&bytes);

    let meta = meta_from(&mut Input::new(data));
    round_trip(&meta);
}

/// Decodes the body and checks the verdict against the spec's rules.
fn decode_and_compare(bytes: &[u8]) {
    let fields = fields_of(bytes);
    let version = u32::from_le_bytes(bytes[40..44].try_into().unwrap());
    let page_size = u32::from_le_bytes(bytes[44..48].try_into().unwrap());
    let expected_fault = if bytes[32..40] != FILE_MAGIC {
        Some(MetaFault::NotOurs)
    } else if version != FORMAT_VERSION {
        Some(MetaFault::Version(version))
    } else if page_size as usize != PAGE_SIZE {
        Some(MetaFault::PageSize(page_size))
    } else {
        None
    };
    match Meta::decode_body(bytes) {
        Ok(meta) => {
            assert_eq!(expected_fault, None, "accepted {meta:?}");
            assert!(is_valid(&fields), "accepted an invalid meta {meta:?}");
            assert_eq!(meta, fields);
            round_trip(&meta);
        }
        Err(MetaFault::Invalid(detail)) => {
            assert_eq!(expected_fault, None, "refused as invalid: {detail}");
            assert!(!is_valid(&fields), "refused a valid meta: {detail}");
        }
        Err(fault) => assert_eq!(Some(fault), expected_fault),
    }
}

/// Encodes `meta` into both slots: decoding gives it back exactly when it is valid.
fn round_trip(meta: &Meta) {
    for slot in [0, 1] {
        let bytes = meta.encode(slot);
        assert_eq!(bytes.len(), PAGE_SIZE);
        let header = page::verify(&bytes, slot).expect("an encoded meta verifies");
        assert_eq!(header.kind, PageKind::Meta as u8);
        assert_eq!(header.txn_id, meta.txn_id);
        match Meta::decode_body(&bytes) {
            Ok(decoded) => {
                assert!(is_valid(meta), "accepted an invalid meta {meta:?}");
                assert_eq!(decoded, *meta);
            }
            Err(MetaFault::Invalid(_)) => {
                assert!(!is_valid(meta), "refused a valid meta {meta:?}");
            }
            Err(fault) => panic!("an encoded meta is {fault:?}"),
        }
    }
}

/// The spec's rule for a meta's fields (spec/file_format_v1.md, "A meta is valid when").
fn is_valid(meta: &Meta) -> bool {
    let in_range = |id: u64| id == 0 || (2..meta.page_count).contains(&id);
    meta.page_count >= 2
        && in_range(meta.default_root.id)
        && in_range(meta.catalog_root.id)
        && in_range(meta.freelist_head.id)
        && meta.free_count < meta.page_count
}

fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes[offset..offset + 8].try_into().unwrap())
}

/// The meta fields at their spec offsets, without any check.
fn fields_of(bytes: &[u8]) -> Meta {
    let reference = |id_offset, txn_offset| PageRef {
        id: read_u64(bytes, id_offset),
        txn: read_u64(bytes, txn_offset),
    };
    Meta {
        txn_id: read_u64(bytes, 48),
        page_count: read_u64(bytes, 56),
        default_root: reference(64, 136),
        default_len: read_u64(bytes, 72),
        catalog_root: reference(80, 144),
        freelist_head: reference(88, 152),
        free_count: read_u64(bytes, 96),
        next_keyspace_id: u32::from_le_bytes(bytes[104..108].try_into().unwrap()),
        database_id: bytes[112..128].try_into().unwrap(),
        log_position: read_u64(bytes, 128),
    }
}

/// A meta whose fields come from the input, mostly small so that the range rules matter.
fn meta_from(input: &mut Input<'_>) -> Meta {
    let reference = |input: &mut Input<'_>| PageRef {
        id: input.u64_biased(),
        txn: input.u64_biased(),
    };
    Meta {
        txn_id: input.u64_biased(),
        page_count: input.u64_biased(),
        default_root: reference(input),
        default_len: input.u64_biased(),
        catalog_root: reference(input),
        freelist_head: reference(input),
        free_count: input.u64_biased(),
        next_keyspace_id: input.u32(),
        database_id: input.array(),
        log_position: input.u64_biased(),
    }
}
