//! Keys, values and prefixes given on the command line: UTF-8 text by default, or
//! hexadecimal digits with `--hex`.
//!
//! Invariant: bad input is an error that names the argument, never a panic.

use crate::bytes::Encoding;
use crate::failure::Failure;

/// The bytes of command-line `argument`, named `what` in errors (e.g. "KEY").
///
/// Hex input may start with `0x` and may separate bytes with spaces, `:` or `-`.
///
/// Errors: [`Failure::new`] when hex input has an odd number of digits or a non-hex
/// character.
pub fn parse(argument: &str, encoding: Encoding, what: &str) -> Result<Vec<u8>, Failure> {
    match encoding {
        Encoding::Text => Ok(argument.as_bytes().to_vec()),
        Encoding::Hex => parse_hex(argument)
            .map_err(|detail| Failure::new(format!("{what} {argument:?} is not hex: {detail}"))),
    }
}

fn parse_hex(argument: &str) -> Result<Vec<u8>, String> {
    let digits = argument
        .strip_prefix("0x")
        .or_else(|| argument.strip_prefix("0X"))
        .unwrap_or(argument);
    let digits: Vec<u8> = digits
        .bytes()
        .filter(|byte| !matches!(byte, b' ' | b':' | b'-'))
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("{} digits, an odd number", digits.len()));
    }
    digits
        .chunks(2)
        .map(|pair| Ok(digit_value(pair[0])? << 4 | digit_value(pair[1])?))
        .collect()
}

fn digit_value(digit: u8) -> Result<u8, String> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        b'A'..=b'F' => Ok(digit - b'A' + 10),
        other => Err(format!("{:?} is not a hex digit", char::from(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_input_is_taken_as_its_utf8_bytes() {
        assert_eq!(
            parse("caf\u{e9}", Encoding::Text, "KEY").unwrap(),
            "caf\u{e9}".as_bytes()
        );
    }

    #[test]
    fn hex_input_accepts_a_prefix_separators_and_both_cases() {
        assert_eq!(parse("0x00fF", Encoding::Hex, "KEY").unwrap(), [0x00, 0xff]);
        assert_eq!(
            parse("de:ad be-ef", Encoding::Hex, "KEY").unwrap(),
            [0xde, 0xad, 0xbe, 0xef]
        );
        assert_eq!(parse("", Encoding::Hex, "KEY").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn bad_hex_input_is_an_error_naming_the_argument() {
        let failure = parse("abc", Encoding::Hex, "KEY").unwrap_err();
        assert!(
            failure.message.contains("KEY \"abc\" is not hex"),
            "{}",
            failure.message
        );
        let failure = parse("zz", Encoding::Hex, "VALUE").unwrap_err();
        assert!(
            failure.message.contains("VALUE") && failure.message.contains("'z'"),
            "{}",
            failure.message
        );
    }
}
