//! cargo-fuzz entry point of `log_record_decode`; the body is `targets/log.rs`, which
//! `tests/fuzz_smoke.rs` runs too.
#![no_main]

#[path = "../targets/input.rs"]
mod input;
#[path = "../targets/log.rs"]
mod log;

libfuzzer_sys::fuzz_target!(|data: &[u8]| log::run(data));
