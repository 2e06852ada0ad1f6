//! `northstar put PATH KEY VALUE`: stores a value under a key in one committed write txn.
//!
//! Creates the database when the directory holds none (and says so on stderr). A named
//! keyspace must exist unless `--create-keyspace` is given.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use northstar::Error;

use crate::bytes::{self, Encoding};
use crate::failure::{Failure, Outcome};
use crate::keyspace::keyspace_label;
use crate::{input, open};

/// Arguments of `northstar put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// Database directory; created with a new database when it holds none.
    pub path: PathBuf,
    /// The key: UTF-8 text, or hex digits with --hex.
    pub key: String,
    /// The value: UTF-8 text, or hex digits with --hex.
    pub value: String,
    /// Write to this named keyspace instead of the default one.
    #[arg(long, short = 'k', value_name = "NAME")]
    pub keyspace: Option<String>,
    /// Create the named keyspace if it does not exist.
    #[arg(long, requires = "keyspace")]
    pub create_keyspace: bool,
    /// Take the key and value as hex digits.
    #[arg(long)]
    pub hex: bool,
}

/// Runs `northstar put`.
pub fn run(args: &PutArgs) -> Outcome {
    let encoding = Encoding::from_hex_flag(args.hex);
    let key = input::parse(&args.key, encoding, "KEY")?;
    let value = input::parse(&args.value, encoding, "VALUE")?;
    let (db, created) = open::existing_or_new(&args.path)?;
    if created {
        eprintln!(
            "northstar: created a new database in {}",
            args.path.display()
        );
    }
    let mut txn = db.begin_write()?;
    let replaced = match &args.keyspace {
        None => {
            let replaced = txn.get(&key)?.is_some();
            txn.put(&key, &value)?;
            replaced
        }
        Some(name) => {
            if args.create_keyspace && !txn.keyspaces()?.contains(name) {
                txn.create_keyspace(name)?;
            }
            let mut keyspace = txn.keyspace(name).map_err(missing_keyspace_hint)?;
            let replaced = keyspace.get(&key)?.is_some();
            keyspace.put(&key, &value)?;
            replaced
        }
    };
    let txn_id = txn.commit()?;
    let verb = if replaced { "replaced" } else { "added" };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "committed txn {txn_id}: {verb} {} ({} bytes) in the {}",
        bytes::show(&key, encoding, Some(bytes::WIDTH_DEFAULT)),
        value.len(),
        keyspace_label(args.keyspace.as_deref())
    )?;
    out.flush()?;
    Ok(())
}

/// Adds a hint to a missing-keyspace error.
fn missing_keyspace_hint(error: Error) -> Failure {
    match error {
        Error::KeyspaceNotFound(_) => {
            Failure::new(format!("{error} (add --create-keyspace to create it)"))
        }
        other => other.into(),
    }
}
