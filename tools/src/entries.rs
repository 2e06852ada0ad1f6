//! Writing key/value entries to stdout, as text lines or as a JSON array, for `dump` and
//! `scan`.
//!
//! Text: one entry per line, key and value shown safely (see [`crate::bytes`]) and
//! separated by a tab, which safe text never contains. JSON: an array of objects
//! `{"key": ..., "value": ..., "value_size": N}` written as entries arrive, so a large
//! keyspace is never held in memory; values are never shortened in JSON.

use std::io::Write;

use serde_json::{Map, Value};

use crate::bytes::{self, Encoding};
use crate::failure::Failure;

/// How entries are written.
#[derive(Debug, Clone, Copy)]
pub struct EntryFormat {
    /// JSON instead of text lines.
    pub json: bool,
    /// Text or hex for keys and values.
    pub encoding: Encoding,
    /// Bytes of each key and value shown in text output (`None`: all of them).
    pub width: Option<usize>,
}

impl EntryFormat {
    /// The format for the `--json`, `--hex` and `--width` flags; a width of 0 means all.
    pub fn new(json: bool, hex: bool, width: usize) -> EntryFormat {
        EntryFormat {
            json,
            encoding: Encoding::from_hex_flag(hex),
            width: (width > 0).then_some(width),
        }
    }
}

/// Streams entries to `out` in an [`EntryFormat`].
pub struct EntryWriter<'o, W: Write> {
    out: &'o mut W,
    format: EntryFormat,
    count: u64,
}

impl<'o, W: Write> EntryWriter<'o, W> {
    /// Starts the output (the opening bracket of a JSON array).
    pub fn begin(out: &'o mut W, format: EntryFormat) -> Result<EntryWriter<'o, W>, Failure> {
        if format.json {
            out.write_all(b"[")?;
        }
        Ok(EntryWriter {
            out,
            format,
            count: 0,
        })
    }

    /// Writes one entry.
    pub fn entry(&mut self, key: &[u8], value: &[u8]) -> Result<(), Failure> {
        if self.format.json {
            let mut object = Map::new();
            bytes::insert_json(&mut object, "key", key, self.format.encoding);
            bytes::insert_json(&mut object, "value", value, self.format.encoding);
            object.insert("value_size".into(), Value::from(value.len()));
            let separator = if self.count == 0 { "\n  " } else { ",\n  " };
            self.out.write_all(separator.as_bytes())?;
            serde_json::to_writer(&mut *self.out, &Value::Object(object))
                .map_err(std::io::Error::from)?;
        } else {
            let key = bytes::show(key, self.format.encoding, self.format.width);
            let value = bytes::show(value, self.format.encoding, self.format.width);
            writeln!(self.out, "{key}\t{value}")?;
        }
        self.count += 1;
        Ok(())
    }

    /// Ends the output (the closing bracket of a JSON array); returns the entries written.
    pub fn finish(self) -> Result<u64, Failure> {
        if self.format.json {
            let end = if self.count == 0 { "]" } else { "\n]" };
            self.out.write_all(end.as_bytes())?;
        }
        Ok(self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(format: EntryFormat, entries: &[(&[u8], &[u8])]) -> String {
        let mut out = Vec::new();
        let mut writer = EntryWriter::begin(&mut out, format).unwrap();
        for (key, value) in entries {
            writer.entry(key, value).unwrap();
        }
        writer.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_entries_are_tab_separated_lines() {
        let text = written(
            EntryFormat::new(false, false, 4),
            &[(b"a", b"one"), (b"b\n", b"longer value")],
        );
        assert_eq!(text, "a\tone\nb\\n\tlong... (12 bytes)\n");
    }

    #[test]
    fn json_entries_form_an_array_that_parses() {
        let text = written(
            EntryFormat::new(true, false, 4),
            &[(b"a", b"one"), (b"b", &[0xff; 10])],
        );
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed[0]["value"], "one");
        assert_eq!(parsed[1]["value_hex"], "ff".repeat(10));
        assert_eq!(parsed[1]["value_size"], 10);
        assert_eq!(written(EntryFormat::new(true, false, 0), &[]), "[]");
    }
}
