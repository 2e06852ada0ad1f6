//! cargo-fuzz entry point of `ops_with_crash`; the body is `targets/crash.rs`, which
//! `tests/fuzz_smoke.rs` runs too.
#![no_main]

#[path = "../targets/crash.rs"]
mod crash;
#[path = "../targets/input.rs"]
mod input;

libfuzzer_sys::fuzz_target!(|data: &[u8]| crash::run(data));
