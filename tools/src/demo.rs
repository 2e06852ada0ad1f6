//! `northstar demo`: a guided tour that creates a fresh database and uses every part of
//! the store, printing each step with its txn id, then validates the database, reopens
//! it, travels back in time (see [`crate::demo_history`]), builds, queries and catches up
//! cartridges (see [`crate::cartridge::demo`]) and ends with the `stat` summary.
//!
//! Every read is checked against what the demo wrote; a mismatch fails the demo (exit 1),
//! so it doubles as a smoke test of the library on a new machine.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use northstar::format::overflow;
use northstar::pager::PAGE_FILE_NAME;
use northstar::{Db, Options};

use crate::bytes::{self, Encoding};
use crate::failure::{Failure, Outcome};
use crate::stat::{self, human_size};
use crate::{cartridge, demo_history, validate};

/// Arguments of `northstar demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Create the database in this directory and keep it (default: a temporary
    /// directory, removed at the end). It must not hold a database already.
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,
}

/// Items written in one commit: enough to give the default keyspace a two-level tree.
const ITEM_COUNT: usize = 2000;
/// Size of the large value: several MiB, stored in overflow pages.
const BLOB_SIZE: usize = 4 * 1024 * 1024;

/// Runs `northstar demo`.
pub fn run(args: &DemoArgs) -> Outcome {
    let temporary;
    let path = match &args.dir {
        Some(dir) => {
            if dir.join(PAGE_FILE_NAME).exists() || dir.is_file() {
                return Err(Failure::new(format!(
                    "{} already exists and holds a database or is a file; the demo needs a new or empty directory",
                    dir.display()
                )));
            }
            dir.clone()
        }
        None => {
            temporary = tempfile::tempdir().map_err(|error| {
                Failure::new(format!("cannot create a temporary directory: {error}"))
            })?;
            temporary.path().join("demo")
        }
    };
    let mut tour = Tour {
        out: std::io::stdout().lock(),
        step: 0,
    };
    writeln!(
        tour.out,
        "NorthstarDB demo: a fresh database in {}\n",
        path.display()
    )?;
    let db = Db::open(&path, Options::default())
        .map_err(|error| Failure::cannot_open(format!("cannot create database: {error}")))?;
    write_and_read(&db, &mut tour)?;
    snapshot_and_rollback(&db, &mut tour)?;
    let report = validate::check(&db)?;
    if !report.is_ok() {
        let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        return Err(Failure::problems_found(format!(
            "the validator found problems: {}",
            problems.join("; ")
        )));
    }
    tour.step(format!(
        "validator: {}",
        validate::summary(&db.page_file_path().display().to_string(), &report)
    ))?;
    drop(db);
    let db = reopen(&path, &mut tour)?;
    demo_history::time_travel(&db, &mut tour)?;
    cartridge::demo::tour(&mut tour)?;
    writeln!(tour.out, "\nstat summary\n")?;
    stat::write_text(&stat::collect(&db)?, &mut tour.out)?;
    drop(db);
    match &args.dir {
        Some(dir) => writeln!(
            tour.out,
            "\ndemo finished; the database is kept in {}",
            dir.display()
        )?,
        None => writeln!(
            tour.out,
            "\ndemo finished; the temporary database is removed"
        )?,
    }
    tour.out.flush()?;
    Ok(())
}

/// Numbered steps on stdout.
pub(crate) struct Tour<W: Write> {
    out: W,
    step: usize,
}

impl<W: Write> Tour<W> {
    pub(crate) fn step(&mut self, text: impl AsRef<str>) -> Outcome {
        self.step += 1;
        writeln!(self.out, "{:>2}. {}", self.step, text.as_ref())?;
        Ok(())
    }

    pub(crate) fn detail(&mut self, text: impl AsRef<str>) -> Outcome {
        writeln!(self.out, "    {}", text.as_ref())?;
        Ok(())
    }
}

pub(crate) fn show(bytes: &[u8]) -> String {
    bytes::show(bytes, Encoding::Text, Some(bytes::WIDTH_DEFAULT))
}

pub(crate) fn shown_value(value: Option<&[u8]>) -> String {
    value.map_or_else(|| "(not found)".to_string(), show)
}

/// Fails the demo when a read does not return what was written.
pub(crate) fn expect(what: &str, found: Option<&[u8]>, wanted: Option<&[u8]>) -> Outcome {
    if found == wanted {
        return Ok(());
    }
    Err(Failure::new(format!(
        "demo check failed: {what} read {}, expected {}",
        shown_value(found),
        shown_value(wanted)
    )))
}

fn item_key(index: usize) -> String {
    format!("item:{index:04}")
}

fn blob() -> Vec<u8> {
    (0..BLOB_SIZE).map(|index| (index % 251) as u8).collect()
}

fn write_and_read(db: &Db, tour: &mut Tour<impl Write>) -> Outcome {
    let mut txn = db.begin_write()?;
    for (key, value) in [
        ("apple", "red"),
        ("banana", "yellow"),
        ("cherry", "dark red"),
    ] {
        txn.put(key, value)?;
    }
    let txn_id = txn.commit()?;
    tour.step(format!(
        "txn {txn_id}: put apple, banana and cherry in the default keyspace"
    ))?;
    let read = db.begin_read()?;
    let apple = read.get("apple")?;
    expect("apple", apple.as_deref(), Some(b"red"))?;
    tour.detail(format!(
        "read at txn {}: get apple -> {}",
        read.txn_id(),
        shown_value(apple.as_deref())
    ))?;
    drop(read);

    let mut txn = db.begin_write()?;
    txn.create_keyspace("users")?;
    let mut users = txn.keyspace("users")?;
    for (key, value) in [
        ("user:1", "ada"),
        ("user:2", "grace"),
        ("user:3", "linus"),
        ("admin:1", "root"),
    ] {
        users.put(key, value)?;
    }
    let txn_id = txn.commit()?;
    tour.step(format!(
        "txn {txn_id}: created the named keyspace \"users\" holding 3 users and 1 admin"
    ))?;

    let mut txn = db.begin_write()?;
    for index in 0..ITEM_COUNT {
        txn.put(
            item_key(index),
            format!("value of item {index}, padded to make the tree grow"),
        )?;
    }
    let txn_id = txn.commit()?;
    tour.step(format!(
        "txn {txn_id}: put {ITEM_COUNT} keys {} .. {} in one commit",
        item_key(0),
        item_key(ITEM_COUNT - 1)
    ))?;
    scans(db, tour)?;

    let mut txn = db.begin_write()?;
    txn.put("apple", "green")?;
    let txn_id = txn.commit()?;
    let apple = db
        .begin_read()?
        .get("apple")?
        .map(|value| value.into_owned());
    expect(
        "apple after the overwrite",
        apple.as_deref(),
        Some(b"green"),
    )?;
    tour.step(format!(
        "txn {txn_id}: overwrote apple; get apple -> {}",
        shown_value(apple.as_deref())
    ))?;

    let mut txn = db.begin_write()?;
    let existed = txn.delete("banana")?;
    let txn_id = txn.commit()?;
    let banana = db
        .begin_read()?
        .get("banana")?
        .map(|value| value.into_owned());
    expect("banana after the delete", banana.as_deref(), None)?;
    tour.step(format!(
        "txn {txn_id}: deleted banana (it existed: {existed}); get banana -> {}",
        shown_value(banana.as_deref())
    ))?;
    large_value(db, tour)
}

fn scans(db: &Db, tour: &mut Tour<impl Write>) -> Outcome {
    let read = db.begin_read()?;
    let range: Vec<(Vec<u8>, Vec<u8>)> = read
        .range("item:0100".."item:0105")?
        .map(|entry| entry.map(|(key, value)| (key.to_vec(), value.into_owned())))
        .collect::<Result<_, _>>()?;
    let keys: Vec<String> = range.iter().map(|(key, _)| show(key)).collect();
    if keys.len() != 5 {
        return Err(Failure::new(format!(
            "demo check failed: range scan found {} entries, expected 5",
            keys.len()
        )));
    }
    tour.step(format!(
        "read at txn {}: range scan item:0100 .. item:0105 (end excluded)",
        read.txn_id()
    ))?;
    tour.detail(format!("{} entries: {}", keys.len(), keys.join(", ")))?;
    let last = read
        .iter()?
        .next_back()
        .transpose()?
        .map(|(key, _)| show(key))
        .unwrap_or_default();
    tour.detail(format!(
        "reverse scan: the last of the {} entries is {last}",
        read.len()
    ))?;

    let users = read.keyspace("users")?;
    let found: Vec<String> = users
        .prefix("user:")?
        .map(|entry| entry.map(|(key, value)| format!("{} = {}", show(key), show(&value))))
        .collect::<Result<_, _>>()?;
    if found.len() != 3 {
        return Err(Failure::new(format!(
            "demo check failed: prefix scan found {} users, expected 3",
            found.len()
        )));
    }
    tour.step(format!(
        "read at txn {}: prefix scan \"user:\" in keyspace \"users\" ({} entries in all)",
        read.txn_id(),
        users.len()
    ))?;
    tour.detail(found.join(", "))
}

fn large_value(db: &Db, tour: &mut Tour<impl Write>) -> Outcome {
    let blob = blob();
    let mut txn = db.begin_write()?;
    txn.put("blob", &blob)?;
    let txn_id = txn.commit()?;
    let read = db.begin_read()?;
    let found = read.get("blob")?;
    if found.as_deref() != Some(&blob[..]) {
        let size = found.map_or(0, |value| value.len());
        return Err(Failure::new(format!(
            "demo check failed: blob read back as {size} bytes that differ from what was written"
        )));
    }
    tour.step(format!(
        "txn {txn_id}: put blob, a {} value, stored in {} overflow pages",
        human_size(blob.len() as u64),
        overflow::page_count_for(blob.len())
    ))?;
    tour.detail(format!(
        "read at txn {}: get blob -> {} bytes, identical to what was written",
        read.txn_id(),
        blob.len()
    ))
}

fn snapshot_and_rollback(db: &Db, tour: &mut Tour<impl Write>) -> Outcome {
    let snapshot = db.begin_read()?;
    let mut txn = db.begin_write()?;
    txn.put("cherry", "black")?;
    txn.put("date", "brown")?;
    let txn_id = txn.commit()?;
    tour.step(format!(
        "snapshot opened at txn {}, then txn {txn_id} changed cherry to black and added date",
        snapshot.txn_id()
    ))?;
    let old_cherry = snapshot.get("cherry")?;
    let old_date = snapshot.get("date")?;
    expect(
        "cherry in the old snapshot",
        old_cherry.as_deref(),
        Some(b"dark red"),
    )?;
    expect("date in the old snapshot", old_date.as_deref(), None)?;
    tour.detail(format!(
        "snapshot at txn {}: cherry -> {}, date -> {}, {} entries",
        snapshot.txn_id(),
        shown_value(old_cherry.as_deref()),
        shown_value(old_date.as_deref()),
        snapshot.len()
    ))?;
    let read = db.begin_read()?;
    let new_cherry = read.get("cherry")?;
    expect(
        "cherry in a new snapshot",
        new_cherry.as_deref(),
        Some(b"black"),
    )?;
    tour.detail(format!(
        "new read at txn {}: cherry -> {}, date -> {}, {} entries",
        read.txn_id(),
        shown_value(new_cherry.as_deref()),
        shown_value(read.get("date")?.as_deref()),
        read.len()
    ))?;
    drop((read, snapshot));

    let mut txn = db.begin_write()?;
    txn.put("ghost", "boo")?;
    txn.abort();
    let read = db.begin_read()?;
    let ghost = read.get("ghost")?;
    expect("ghost after the abort", ghost.as_deref(), None)?;
    tour.step(format!(
        "a write txn put ghost and aborted; read at txn {}: get ghost -> {}",
        read.txn_id(),
        shown_value(ghost.as_deref())
    ))
}

fn reopen(path: &Path, tour: &mut Tour<impl Write>) -> Result<Db, Failure> {
    let db = Db::open(path, Options::default().create(false))
        .map_err(|error| Failure::cannot_open(format!("cannot reopen database: {error}")))?;
    let read = db.begin_read()?;
    let apple = read.get("apple")?;
    expect("apple after reopening", apple.as_deref(), Some(b"green"))?;
    let blob_size = read.get("blob")?.map_or(0, |value| value.len());
    tour.step(format!(
        "closed and reopened: txn {}, apple -> {}, blob -> {blob_size} bytes, keyspaces {:?}",
        read.txn_id(),
        shown_value(apple.as_deref()),
        read.keyspaces()?
    ))?;
    drop(read);
    Ok(db)
}
