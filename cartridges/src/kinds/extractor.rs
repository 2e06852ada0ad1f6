//! User-defined extractors: a function from (keyspace, key, value) to index entries, and
//! the byte encodings that tie index entries to the keys that produced them.
//!
//! Invariants:
//! - An extractor is a pure function of its parameters and its input: the same log gives
//!   the same index, and its [`Extractor::params`] are hashed into the header so a
//!   changed extractor is detected.
//! - What a value produced is kept sorted and without duplicates, so its encoding (and
//!   the cartridge) does not depend on the order the extractor emitted entries in.

/// One entry an extractor emits for a value: under `group` (e.g. a field name, a task
/// type), the index key `key`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndexEntry {
    /// Group: entries are counted and listed per group.
    pub group: Vec<u8>,
    /// Index key: entries of a group are listed in this order (then by source).
    pub key: Vec<u8>,
}

/// A secondary index definition: turns each stored value into index entries. Implement it
/// to get an index built from the log and caught up like the built-in kinds.
///
/// Threading: called from the building thread only, but must be `Send + Sync` so a
/// [`crate::Shelf`] holding it can be shared.
///
/// ```
/// use northstar_cartridges::{Extractor, IndexEntry};
///
/// /// Indexes users by the domain of their email address.
/// struct ByDomain;
///
/// impl Extractor for ByDomain {
///     fn name(&self) -> &str {
///         "users_by_domain"
///     }
///     fn wants(&self, keyspace: &[u8]) -> bool {
///         keyspace == b"users"
///     }
///     fn extract(&self, _keyspace: &[u8], _key: &[u8], value: &[u8], out: &mut Vec<IndexEntry>) {
///         if let Some(at) = value.iter().position(|byte| *byte == b'@') {
///             out.push(IndexEntry { group: b"domain".to_vec(), key: value[at + 1..].to_vec() });
///         }
///     }
/// }
/// let mut out = Vec::new();
/// ByDomain.extract(b"users", b"u1", b"ada@example.org", &mut out);
/// assert_eq!(out[0].key, b"example.org");
/// ```
pub trait Extractor: Send + Sync {
    /// The index's name: the cartridge's kind name and file name. 1 to 32 bytes of
    /// `[a-z0-9_]`.
    fn name(&self) -> &str;

    /// Parameters that change what the extractor emits; hashed into the header.
    fn params(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Whether changes of `keyspace` (`b""` is the default keyspace) can produce entries.
    fn wants(&self, keyspace: &[u8]) -> bool {
        let _ = keyspace;
        true
    }

    /// Appends to `out` the index entries of `value` stored under `key` in `keyspace`.
    fn extract(&self, keyspace: &[u8], key: &[u8], value: &[u8], out: &mut Vec<IndexEntry>);
}

/// Runs `extractor` on one value and encodes what it produced for the sources table
/// (sorted, deduplicated); `None` when it produced nothing.
pub(crate) fn derive(
    extractor: &dyn Extractor,
    keyspace: &[u8],
    key: &[u8],
    value: &[u8],
) -> Option<Vec<u8>> {
    let mut entries = Vec::new();
    extractor.extract(keyspace, key, value, &mut entries);
    if entries.is_empty() {
        return None;
    }
    entries.sort_unstable();
    entries.dedup();
    let mut bytes = Vec::new();
    for entry in &entries {
        for part in [&entry.group, &entry.key] {
            bytes.extend_from_slice(&(part.len() as u32).to_le_bytes());
            bytes.extend_from_slice(part);
        }
    }
    Some(bytes)
}

/// Decodes what [`derive`] encoded; `None` if the bytes are malformed.
pub(crate) fn decode_derived(mut bytes: &[u8]) -> Option<Vec<IndexEntry>> {
    let mut entries = Vec::new();
    let take = |bytes: &mut &[u8]| -> Option<Vec<u8>> {
        let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let part = bytes.get(4..4 + len)?.to_vec();
        *bytes = &bytes[4 + len..];
        Some(part)
    };
    while !bytes.is_empty() {
        let group = take(&mut bytes)?;
        let key = take(&mut bytes)?;
        entries.push(IndexEntry { group, key });
    }
    Some(entries)
}

/// The index entry value naming its source: keyspace length (`u16`), keyspace, key.
pub(crate) fn encode_source(keyspace: &[u8], key: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(2 + keyspace.len() + key.len());
    bytes.extend_from_slice(&(keyspace.len() as u16).to_le_bytes());
    bytes.extend_from_slice(keyspace);
    bytes.extend_from_slice(key);
    bytes
}

/// The (keyspace, key) of an index entry value; `None` if malformed.
pub fn decode_source(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u16::from_le_bytes(bytes.get(..2)?.try_into().ok()?) as usize;
    let keyspace = bytes.get(2..2 + len)?;
    Some((keyspace, &bytes[2 + len..]))
}

/// Whether `name` is usable as a kind name and file name.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_entries_encode_in_sorted_order_and_decode_back() {
        struct Two;
        impl Extractor for Two {
            fn name(&self) -> &str {
                "two"
            }
            fn extract(&self, _: &[u8], _: &[u8], value: &[u8], out: &mut Vec<IndexEntry>) {
                for key in [value, b"a", value] {
                    out.push(IndexEntry {
                        group: b"g".to_vec(),
                        key: key.to_vec(),
                    });
                }
            }
        }
        let bytes = derive(&Two, b"", b"k", b"z").unwrap();
        let entries = decode_derived(&bytes).unwrap();
        let keys: Vec<&[u8]> = entries.iter().map(|entry| &entry.key[..]).collect();
        assert_eq!(keys, [&b"a"[..], b"z"]);
        assert_eq!(
            decode_source(&encode_source(b"ks", b"key")),
            Some((&b"ks"[..], &b"key"[..]))
        );
    }
}
