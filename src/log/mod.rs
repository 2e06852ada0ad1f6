//! The commit log: CRC-framed records of every committed txn, the durability point.

mod file;
mod scan;

pub use file::{read_log_file, LogFile, LOG_FILE_NAME};
pub use scan::{LogEnd, Scanner};
