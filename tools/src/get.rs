//! `northstar get PATH KEY`: prints the value stored under a key, now or, with
//! `--as-of TXN`, right after an earlier txn.
//!
//! A missing key is a failure (exit 1) with a message naming the key and keyspace, so
//! scripts can test for presence. Text values that are valid UTF-8 are printed as they
//! are; other values are escaped (see [`crate::bytes`]) unless `--hex` or `--raw` is given.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::bytes::{self, Encoding};
use crate::failure::{Failure, Outcome};
use crate::snapshot::Snapshot;
use crate::{input, open};

/// Arguments of `northstar get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Database directory (the one holding northstar.db).
    pub path: PathBuf,
    /// The key: UTF-8 text, or hex digits with --hex.
    pub key: String,
    /// Read this named keyspace instead of the default one.
    #[arg(long, short = 'k', value_name = "NAME")]
    pub keyspace: Option<String>,
    /// Read the value as it was right after this txn.
    #[arg(long, value_name = "TXN")]
    pub as_of: Option<u64>,
    /// Take the key and print the value as hex digits.
    #[arg(long)]
    pub hex: bool,
    /// Write the value's exact bytes, with no newline after them (the key is still read
    /// as hex with --hex).
    #[arg(long)]
    pub raw: bool,
}

/// Runs `northstar get`.
pub fn run(args: &GetArgs) -> Outcome {
    let encoding = Encoding::from_hex_flag(args.hex);
    let key = input::parse(&args.key, encoding, "KEY")?;
    let db = open::existing(&args.path)?;
    let snapshot = Snapshot::begin(&db, args.as_of)?;
    let reader = snapshot.reader(args.keyspace.as_deref())?;
    let Some(value) = reader.get(&key)? else {
        return Err(Failure::new(format!(
            "key {} not found in the {} ({})",
            bytes::show(&key, encoding, Some(bytes::WIDTH_DEFAULT)),
            reader.label(),
            snapshot.label()
        )));
    };
    let mut out = std::io::stdout().lock();
    if args.raw {
        out.write_all(&value)?;
    } else if args.hex {
        writeln!(out, "{}", bytes::hex(&value))?;
    } else if let Ok(text) = std::str::from_utf8(&value) {
        writeln!(out, "{text}")?;
    } else {
        writeln!(out, "{}", bytes::show(&value, Encoding::Text, None))?;
        eprintln!("northstar: the value is not UTF-8 and was shown escaped; use --hex or --raw for its exact bytes");
    }
    out.flush()?;
    Ok(())
}
