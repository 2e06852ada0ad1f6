//! cargo-fuzz entry point of `cartridge_decode`; the body is `targets/cartridge.rs`, which
//! `cartridges/tests/fuzz_smoke.rs` runs too.
#![no_main]

#[path = "../targets/cartridge.rs"]
mod cartridge;

libfuzzer_sys::fuzz_target!(|data: &[u8]| cartridge::run(data));
