//! Reading fuzzer bytes as a stream of choices.
//!
//! Invariant: every method is total. Past the end of the input it yields zeros, so any
//! byte string, including the empty one, is a complete program for a target.

// Each target uses a different subset of these readers.
#![allow(dead_code)]

/// A cursor over the fuzzer's bytes.
pub struct Input<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Input<'a> {
        Input { bytes, at: 0 }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }

    /// The next byte, or 0 past the end.
    pub fn byte(&mut self) -> u8 {
        let byte = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        byte
    }

    /// Whether the next byte is odd.
    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// A number in `0..bound` (`bound` > 0) from one byte, or two when `bound` > 256.
    pub fn below(&mut self, bound: usize) -> usize {
        debug_assert!(bound > 0);
        let raw = if bound > 256 {
            self.u16() as usize
        } else {
            self.byte() as usize
        };
        raw % bound
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// A `u64` drawn mostly from small and boundary values, where the decoders' range
    /// checks are: a tag byte picks the width, then that many bytes follow.
    pub fn u64_biased(&mut self) -> u64 {
        match self.byte() % 6 {
            0 => self.u64(),
            1 => u64::from(self.u32()),
            2 => u64::from(self.u16()),
            3 => u64::from(self.byte()),
            4 => [0, 1, 2, 3, u64::MAX, u64::MAX - 1, 1 << 32, 1 << 63][self.below(8)],
            _ => u64::from(self.byte() % 8),
        }
    }

    /// `N` bytes, zero past the end.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut bytes = [0u8; N];
        bytes.iter_mut().for_each(|byte| *byte = self.byte());
        bytes
    }

    /// Up to `len` bytes, fewer at the end of the input.
    pub fn bytes(&mut self, len: usize) -> &'a [u8] {
        let start = self.at.min(self.bytes.len());
        let end = start.saturating_add(len).min(self.bytes.len());
        self.at = self.at.saturating_add(len);
        &self.bytes[start..end]
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let start = self.at.min(self.bytes.len());
        self.at = self.bytes.len();
        &self.bytes[start..]
    }
}
