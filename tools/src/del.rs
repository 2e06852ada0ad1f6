//! `northstar del PATH KEY`: removes a key in one committed write txn.
//!
//! A missing key is a failure (exit 1), like `get`: nothing is committed and the message
//! names the key and keyspace.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::bytes::{self, Encoding};
use crate::failure::{Failure, Outcome};
use crate::keyspace::keyspace_label;
use crate::{input, open};

/// Arguments of `northstar del`.
#[derive(Debug, Args)]
pub struct DelArgs {
    /// Database directory (the one holding northstar.db).
    pub path: PathBuf,
    /// The key: UTF-8 text, or hex digits with --hex.
    pub key: String,
    /// Delete from this named keyspace instead of the default one.
    #[arg(long, short = 'k', value_name = "NAME")]
    pub keyspace: Option<String>,
    /// Take the key as hex digits.
    #[arg(long)]
    pub hex: bool,
}

/// Runs `northstar del`.
pub fn run(args: &DelArgs) -> Outcome {
    let encoding = Encoding::from_hex_flag(args.hex);
    let key = input::parse(&args.key, encoding, "KEY")?;
    let shown_key = bytes::show(&key, encoding, Some(bytes::WIDTH_DEFAULT));
    let label = keyspace_label(args.keyspace.as_deref());
    let db = open::existing(&args.path)?;
    let mut txn = db.begin_write()?;
    let existed = match &args.keyspace {
        None => txn.delete(&key)?,
        Some(name) => txn.keyspace(name)?.delete(&key)?,
    };
    if !existed {
        txn.abort();
        return Err(Failure::new(format!(
            "key {shown_key} not found in the {label}: nothing deleted"
        )));
    }
    let txn_id = txn.commit()?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "committed txn {txn_id}: deleted {shown_key} from the {label}"
    )?;
    out.flush()?;
    Ok(())
}
