//! An example user-defined extractor: an inverted index of the words in values.
//!
//! Invariants: a word is a maximal run of ASCII letters and digits, lowercased, at least
//! `min_len` bytes long; each (keyspace, word) is indexed once per key however often the
//! word occurs in the value. Entries are grouped by the source keyspace.

use super::extractor::{decode_source, Extractor, IndexEntry};
use super::state::IndexRead;

/// Inverted index of words in the values of one keyspace (or all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordIndex {
    keyspace: Option<Vec<u8>>,
    min_len: usize,
}

impl WordIndex {
    /// Indexes words of at least `min_len` bytes in `keyspace` (`None`: every keyspace).
    pub fn new(keyspace: Option<&str>, min_len: usize) -> WordIndex {
        WordIndex {
            keyspace: keyspace.map(|name| name.as_bytes().to_vec()),
            min_len: min_len.max(1),
        }
    }

    /// The keys (keyspace, key) of `keyspace` whose values contain `word`, in key order.
    pub fn lookup(index: &impl IndexRead, keyspace: &[u8], word: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        let word = word.to_ascii_lowercase();
        let mut keys = Vec::new();
        index.scan(keyspace, Some(word.as_bytes()), &mut |_, source| {
            if let Some((keyspace, key)) = decode_source(source) {
                keys.push((keyspace.to_vec(), key.to_vec()));
            }
            true
        });
        keys
    }
}

impl Extractor for WordIndex {
    fn name(&self) -> &str {
        "words"
    }

    fn params(&self) -> Vec<u8> {
        let mut params = format!("min_len={};keyspace=", self.min_len).into_bytes();
        match &self.keyspace {
            Some(name) => params.extend_from_slice(name),
            None => params.push(b'*'),
        }
        params
    }

    fn wants(&self, keyspace: &[u8]) -> bool {
        self.keyspace
            .as_deref()
            .is_none_or(|wanted| wanted == keyspace)
    }

    fn extract(&self, keyspace: &[u8], _key: &[u8], value: &[u8], out: &mut Vec<IndexEntry>) {
        for word in value.split(|byte| !byte.is_ascii_alphanumeric()) {
            if word.len() >= self.min_len {
                out.push(IndexEntry {
                    group: keyspace.to_vec(),
                    key: word.to_ascii_lowercase(),
                });
            }
        }
    }
}
