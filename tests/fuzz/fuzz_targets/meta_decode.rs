//! cargo-fuzz entry point of `meta_decode`; the body is `targets/meta.rs`, which
//! `tests/fuzz_smoke.rs` runs too.
#![no_main]

#[path = "../targets/input.rs"]
mod input;
#[path = "../targets/meta.rs"]
mod meta;

libfuzzer_sys::fuzz_target!(|data: &[u8]| meta::run(data));
