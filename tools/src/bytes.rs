//! Showing keys and values safely: in text output, where they may reach a terminal, and
//! in JSON.
//!
//! Invariants:
//! - Text output never carries a control character, an invalid UTF-8 byte or an
//!   invisible formatting character from the data: printable ASCII is shown as it is,
//!   other text is escaped (`\n`, `\\`, `\xNN`, `\u{NNNN}`); data of which more than
//!   half would need escaping is shown as `0x` hex.
//! - A shortened value always says how long it really is.
//! - JSON output is lossless: bytes that are valid UTF-8 go in a string field, anything
//!   else (or everything, with `--hex`) in a `_hex` field.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Bytes of a key or value shown in text output unless `--width` says otherwise.
pub const WIDTH_DEFAULT: usize = 64;

/// How keys and values are written on the command line and in output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 text in, safe readable text out.
    Text,
    /// Hexadecimal digits in and out, for exact bytes.
    Hex,
}

impl Encoding {
    /// [`Encoding::Hex`] when `hex` is set, else [`Encoding::Text`].
    pub fn from_hex_flag(hex: bool) -> Encoding {
        if hex {
            Encoding::Hex
        } else {
            Encoding::Text
        }
    }
}

/// `bytes` as safe text: at most `width` bytes of them (all when `None`), followed by
/// `... (N bytes)` when shortened.
pub fn show(bytes: &[u8], encoding: Encoding, width: Option<usize>) -> String {
    let shown_size = match width {
        Some(width) if bytes.len() > width => char_boundary_at_or_before(bytes, width),
        _ => bytes.len(),
    };
    let shown = &bytes[..shown_size];
    let mut text = match encoding {
        Encoding::Hex => hex(shown),
        Encoding::Text => readable(shown),
    };
    if shown_size < bytes.len() {
        let _ = write!(text, "... ({} bytes)", bytes.len());
    }
    text
}

/// Lower-case hexadecimal digits of `bytes`, two per byte.
pub fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// Adds `bytes` to a JSON object as `name` (a string) when they are UTF-8 and `encoding`
/// is text, else as `name_hex`.
pub fn insert_json(object: &mut Map<String, Value>, name: &str, bytes: &[u8], encoding: Encoding) {
    match (encoding, std::str::from_utf8(bytes)) {
        (Encoding::Text, Ok(text)) => {
            object.insert(name.to_string(), Value::String(text.to_string()))
        }
        _ => object.insert(format!("{name}_hex"), Value::String(hex(bytes))),
    };
}

/// Moves `index` back to the start of a UTF-8 character, so shortened text does not end
/// in half a character. Leaves it alone inside data that is not UTF-8.
fn char_boundary_at_or_before(bytes: &[u8], index: usize) -> usize {
    let mut boundary = index;
    while boundary > 0 && index - boundary < 3 && is_continuation_byte(bytes[boundary]) {
        boundary -= 1;
    }
    if boundary > 0 && std::str::from_utf8(&bytes[..boundary]).is_ok() {
        boundary
    } else {
        index
    }
}

fn is_continuation_byte(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

fn is_printable_ascii(byte: u8) -> bool {
    (0x20..0x7f).contains(&byte)
}

/// Characters that are valid text but could move the cursor, hide text or reorder it.
fn is_unsafe_char(character: char) -> bool {
    character.is_control()
        || matches!(character,
            '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

fn readable(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "\"\"".to_string();
    }
    if bytes.iter().all(|byte| is_printable_ascii(*byte)) {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let escaped_bytes: usize = bytes
        .utf8_chunks()
        .map(|chunk| {
            let unsafe_chars: usize = chunk
                .valid()
                .chars()
                .filter(|character| is_unsafe_char(*character))
                .map(char::len_utf8)
                .sum();
            unsafe_chars + chunk.invalid().len()
        })
        .sum();
    if escaped_bytes * 2 > bytes.len() {
        return format!("0x{}", hex(bytes));
    }
    escaped(bytes)
}

fn escaped(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for character in chunk.valid().chars() {
            match character {
                '\\' => text.push_str("\\\\"),
                '\n' => text.push_str("\\n"),
                '\r' => text.push_str("\\r"),
                '\t' => text.push_str("\\t"),
                character if character.is_ascii() && is_unsafe_char(character) => {
                    let _ = write!(text, "\\x{:02x}", character as u32);
                }
                character if is_unsafe_char(character) => {
                    let _ = write!(text, "\\u{{{:04x}}}", character as u32);
                }
                character => text.push(character),
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(text, "\\x{byte:02x}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_ascii_is_shown_as_it_is() {
        assert_eq!(show(b"apple pie", Encoding::Text, None), "apple pie");
        assert_eq!(show(b"C:\\dir", Encoding::Text, None), "C:\\dir");
    }

    #[test]
    fn text_with_control_characters_is_escaped() {
        assert_eq!(
            show(b"line one\nline two\t!", Encoding::Text, None),
            "line one\\nline two\\t!"
        );
        assert_eq!(
            show("caf\u{e9} \u{202E}evil".as_bytes(), Encoding::Text, None),
            "caf\u{e9} \\u{202e}evil"
        );
        assert_eq!(
            show(b"almost text\xff", Encoding::Text, None),
            "almost text\\xff"
        );
    }

    #[test]
    fn mostly_binary_data_is_shown_as_hex() {
        assert_eq!(show(&[0, 0, 1, 2], Encoding::Text, None), "0x00000102");
        assert_eq!(show(b"a\x00\x01", Encoding::Text, None), "0x610001");
        assert_eq!(show(b"\x1b[2J", Encoding::Text, None), "\\x1b[2J");
    }

    #[test]
    fn empty_bytes_are_shown_as_empty_quotes() {
        assert_eq!(show(b"", Encoding::Text, None), "\"\"");
        assert_eq!(show(b"", Encoding::Hex, None), "");
    }

    #[test]
    fn long_values_are_shortened_with_their_size() {
        let value = vec![b'x'; 1000];
        assert_eq!(
            show(&value, Encoding::Text, Some(4)),
            "xxxx... (1000 bytes)"
        );
        assert_eq!(show(&value, Encoding::Hex, Some(2)), "7878... (1000 bytes)");
        assert_eq!(show(&value, Encoding::Text, None).len(), 1000);
    }

    #[test]
    fn shortening_does_not_split_a_character() {
        let text = "\u{e9}\u{e9}\u{e9}\n";
        assert_eq!(
            show(text.as_bytes(), Encoding::Text, Some(3)),
            "\u{e9}... (7 bytes)"
        );
    }

    #[test]
    fn json_keeps_text_as_a_string_and_other_bytes_as_hex() {
        let mut object = Map::new();
        insert_json(&mut object, "key", b"k\n1", Encoding::Text);
        insert_json(&mut object, "value", &[0xff, 0x00], Encoding::Text);
        assert_eq!(
            Value::Object(object).to_string(),
            r#"{"key":"k\n1","value_hex":"ff00"}"#
        );
        let mut object = Map::new();
        insert_json(&mut object, "key", b"k", Encoding::Hex);
        assert_eq!(Value::Object(object).to_string(), r#"{"key_hex":"6b"}"#);
    }
}
