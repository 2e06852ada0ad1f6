//! cargo-fuzz entry point of `page_decode`; the body is `targets/page.rs`, which
//! `tests/fuzz_smoke.rs` runs too.
#![no_main]

#[path = "../targets/input.rs"]
mod input;
#[path = "../targets/page.rs"]
mod page;

libfuzzer_sys::fuzz_target!(|data: &[u8]| page::run(data));
