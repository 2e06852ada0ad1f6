//! Replaying a commit log into memory, with no page file: the key/value state at any txn.

use std::collections::BTreeMap;
use std::path::Path;

use super::overlay::{KeyspaceOverlay, Overlay};
use crate::format::frame::{LogHeader, LOG_HEADER_SIZE};
use crate::log::{read_log_file, LogEnd, Scanner, LOG_FILE_NAME};
use crate::{Error, Result, TxnId};

/// The state of every keyspace after replaying a log up to one txn.
#[derive(Debug, Clone)]
pub struct Replayed {
    overlay: Overlay,
}

impl Replayed {
    /// The txn the state is at.
    pub fn txn_id(&self) -> TxnId {
        self.overlay.txn_id()
    }

    fn entries(keyspace: &KeyspaceOverlay) -> impl Iterator<Item = (&[u8], &[u8])> {
        keyspace
            .entries
            .iter()
            .filter_map(|(key, value)| value.as_deref().map(|value| (&key[..], value)))
    }

    /// Entries of the default keyspace, in key order.
    pub fn default_entries(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        Self::entries(&self.overlay.default)
    }

    /// Entries of the named keyspace `name`, in key order; `None` if it did not exist.
    pub fn keyspace_entries(&self, name: &str) -> Option<impl Iterator<Item = (&[u8], &[u8])>> {
        self.overlay.named.get(name.as_bytes()).map(Self::entries)
    }

    /// Names of the keyspaces that existed, sorted.
    pub fn keyspaces(&self) -> Vec<String> {
        self.overlay
            .named
            .keys()
            .map(|name| String::from_utf8_lossy(name).into_owned())
            .collect()
    }

    /// The whole state as maps: `""` is the default keyspace.
    pub fn to_maps(&self) -> BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>> {
        let mut maps = BTreeMap::new();
        let collect = |keyspace: &KeyspaceOverlay| {
            Self::entries(keyspace)
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect()
        };
        maps.insert(String::new(), collect(&self.overlay.default));
        for (name, keyspace) in &self.overlay.named {
            maps.insert(
                String::from_utf8_lossy(name).into_owned(),
                collect(keyspace),
            );
        }
        maps
    }
}

/// Replays the commit log at `path` (a log file, or a database directory) from its first
/// record up to and including txn `up_to`, into memory. Reads the file only.
///
/// Errors: [`Error::FutureTxn`] when the log ends before `up_to`;
/// [`Error::HistoryUnavailable`] when the log does not start at txn 1 (the state before its
/// first record is not in it); [`Error::Corrupt`] with the offset of a damaged record.
pub fn replay(path: impl AsRef<Path>, up_to: TxnId) -> Result<Replayed> {
    let path = path.as_ref();
    let path = if path.is_dir() {
        path.join(LOG_FILE_NAME)
    } else {
        path.to_path_buf()
    };
    let bytes = read_log_file(&path)?;
    let header =
        LogHeader::decode(&bytes).map_err(|detail| Error::corrupt_log(&path, 0, detail))?;
    if header.first_txn_id != 1 {
        return Err(Error::HistoryUnavailable {
            requested: up_to,
            oldest: header.first_txn_id.saturating_sub(1),
        });
    }
    let mut overlay = Overlay::empty();
    let mut scanner = Scanner::new(&bytes, LOG_HEADER_SIZE as u64, 1, header.database_id);
    for (offset, record) in scanner.by_ref() {
        if record.header.txn_id > up_to {
            break;
        }
        overlay
            .apply(&record)
            .map_err(|detail| Error::corrupt_log(&path, offset, detail))?;
    }
    if overlay.txn_id() == up_to {
        overlay.count_entries(None)?;
        return Ok(Replayed { overlay });
    }
    if let Some(LogEnd::Corrupt { offset, detail, .. }) = scanner.end() {
        return Err(Error::corrupt_log(&path, *offset, detail.clone()));
    }
    Err(Error::FutureTxn {
        requested: up_to,
        latest: overlay.txn_id(),
    })
}
