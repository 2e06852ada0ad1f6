//! The keys and values every engine is given: the same bytes in the same order.
//!
//! Invariants:
//! - `random_key(i)` is a fixed function of `SEED` and `i`: 24 bytes that look random and
//!   are distinct for distinct `i` (splitmix64 is a bijection on its 64-bit input, and the
//!   first 8 bytes alone already differ).
//! - `sequential_key(i)` is `i` as a big-endian u64, so ascending `i` is ascending order.
//! - Values are 150 bytes borrowed from one static pattern; building them costs nothing.

/// Seed of every key and of every random choice of key.
pub const SEED: u64 = 0x6e6f_7274_6873_7461;
/// Bytes of a random key.
pub const KEY_SIZE: usize = 24;
/// Bytes of every value.
pub const VALUE_SIZE: usize = 150;

const PATTERN_SIZE: usize = VALUE_SIZE + 64;
static PATTERN: [u8; PATTERN_SIZE] = pattern();

const fn pattern() -> [u8; PATTERN_SIZE] {
    let mut bytes = [0u8; PATTERN_SIZE];
    let mut index = 0;
    while index < PATTERN_SIZE {
        bytes[index] = (splitmix64(index as u64) >> 56) as u8;
        index += 1;
    }
    bytes
}

/// splitmix64's output function: a bijection on u64 that scatters nearby inputs.
pub const fn splitmix64(input: u64) -> u64 {
    let mut z = input.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Random key number `index`.
pub fn random_key(index: u64) -> [u8; KEY_SIZE] {
    let mut key = [0u8; KEY_SIZE];
    let first = splitmix64(index ^ SEED);
    key[..8].copy_from_slice(&first.to_be_bytes());
    key[8..16].copy_from_slice(&splitmix64(first).to_be_bytes());
    key[16..].copy_from_slice(&splitmix64(first ^ index).to_be_bytes());
    key
}

/// Sequential key number `index`.
pub fn sequential_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The value stored with key number `index`.
pub fn value(index: u64) -> &'static [u8] {
    let start = (index % (PATTERN_SIZE - VALUE_SIZE) as u64) as usize;
    &PATTERN[start..start + VALUE_SIZE]
}

/// A seeded random sequence (xorshift64*), one per thread, for picking keys to read.
pub struct Picker(u64);

impl Picker {
    /// The sequence of stream `stream` (threads use their index).
    pub fn new(stream: u64) -> Picker {
        Picker(splitmix64(SEED ^ stream.wrapping_mul(0x2545_f491_4f6c_dd1d)) | 1)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
    }
}
