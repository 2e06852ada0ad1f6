//! `northstar scan PATH`: entries of a keyspace in key order (or reversed), all of them,
//! those starting with a prefix, or those in a key range, one `key<TAB>value` line each
//! or as a JSON array; with `--as-of TXN`, as they were right after an earlier txn.
//!
//! The range is half-open, as in the library: `--from A` is included, `--to B` is not. A
//! range whose start is past its end is empty.

use std::borrow::Cow;
use std::io::{BufWriter, Write};
use std::ops::Bound;
use std::path::PathBuf;

use clap::Args;

use crate::bytes::{Encoding, WIDTH_DEFAULT};
use crate::entries::{EntryFormat, EntryWriter};
use crate::failure::Outcome;
use crate::keyspace::Entries;
use crate::progress::Progress;
use crate::snapshot::Snapshot;
use crate::{input, open};

/// Arguments of `northstar scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Database directory (the one holding northstar.db).
    pub path: PathBuf,
    /// Scan this named keyspace instead of the default one.
    #[arg(long, short = 'k', value_name = "NAME")]
    pub keyspace: Option<String>,
    /// Only keys starting with this prefix.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub prefix: Option<String>,
    /// Only keys at or after this key.
    #[arg(long, value_name = "KEY")]
    pub from: Option<String>,
    /// Only keys before this key.
    #[arg(long, value_name = "KEY")]
    pub to: Option<String>,
    /// Largest keys first.
    #[arg(long)]
    pub reverse: bool,
    /// Print at most this many entries.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Read the entries as they were right after this txn.
    #[arg(long, value_name = "TXN")]
    pub as_of: Option<u64>,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
    /// Take the prefix and bounds, and print keys and values, as hex digits.
    #[arg(long)]
    pub hex: bool,
    /// Bytes of each key and value shown in text output; 0 shows everything.
    #[arg(long, value_name = "BYTES", default_value_t = WIDTH_DEFAULT)]
    pub width: usize,
}

type Entry<'t> = northstar::Result<(&'t [u8], Cow<'t, [u8]>)>;

/// Runs `northstar scan`.
pub fn run(args: &ScanArgs) -> Outcome {
    let encoding = Encoding::from_hex_flag(args.hex);
    let prefix = args
        .prefix
        .as_deref()
        .map(|prefix| input::parse(prefix, encoding, "--prefix"))
        .transpose()?;
    let from = args
        .from
        .as_deref()
        .map(|from| input::parse(from, encoding, "--from"))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|to| input::parse(to, encoding, "--to"))
        .transpose()?;
    let db = open::existing(&args.path)?;
    let snapshot = Snapshot::begin(&db, args.as_of)?;
    let reader = snapshot.reader(args.keyspace.as_deref())?;
    let entries: Entries<'_> = match &prefix {
        Some(prefix) => reader.prefix(prefix)?,
        None => {
            let start = from.as_deref().map_or(Bound::Unbounded, Bound::Included);
            let end = to.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            reader.range(start, end)?
        }
    };
    let entries: Box<dyn Iterator<Item = Entry<'_>>> = if args.reverse {
        Box::new(entries.rev())
    } else {
        Box::new(entries)
    };
    let whole_keyspace = prefix.is_none() && from.is_none() && to.is_none();
    let total = whole_keyspace.then(|| {
        args.limit
            .map_or(reader.len(), |limit| limit.min(reader.len()))
    });
    let progress = Progress::entries(total, "scanning");
    let format = EntryFormat::new(args.json, args.hex, args.width);
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut writer = EntryWriter::begin(&mut out, format)?;
    let limit = args.limit.map_or(usize::MAX, |limit| {
        usize::try_from(limit).unwrap_or(usize::MAX)
    });
    for entry in entries.take(limit) {
        let (key, value) = entry?;
        writer.entry(key, &value)?;
        progress.tick();
    }
    writer.finish()?;
    if format.json {
        writeln!(out)?;
    }
    out.flush()?;
    progress.finish();
    Ok(())
}
