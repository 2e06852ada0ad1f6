//! A short, fixed-seed run of the `cartridge_decode` fuzz target (its body lives in
//! `tests/fuzz/targets/cartridge.rs` and is included here), like the store's own
//! `tests/fuzz_smoke.rs`: edge inputs, the golden cartridges, each with bytes changed
//! (the target also re-seals every input's CRCs, so the changes reach the checks behind
//! them), truncated, and pseudo-random bytes; plus any crash input the fuzzer saved.

#[path = "../../tests/fuzz/targets/cartridge.rs"]
mod cartridge;

use std::path::Path;
use std::time::Instant;

use northstar::io::sim::SimRng;
use northstar_cartridges::Cartridge;

/// Seed of every pseudo-random input here; change it only on purpose.
const SEED: u64 = 0x6361_7274_7269_6467;

/// The store's seeded generator, with a `usize` bound.
struct Rng(SimRng);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn below(&mut self, bound: usize) -> usize {
        self.0.below(bound as u64) as usize
    }
}

fn golden_cartridges() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/cartridge_v1");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("golden/cartridge_v1")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cart"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| std::fs::read(path).expect("golden cartridge"))
        .collect()
}

#[test]
fn cartridge_decode_survives_edge_golden_damaged_and_random_inputs() {
    let started = Instant::now();
    let mut rng = Rng(SimRng::new(SEED));
    let mut inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0; 448],
        vec![0xff; 2048],
        b"NSCART\0\0".to_vec(),
    ];
    for golden in golden_cartridges() {
        for _ in 0..150 {
            let mut damaged = golden.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(damaged.len());
                damaged[at] = rng.next() as u8;
            }
            inputs.push(damaged);
        }
        for cut in [0, 8, 127, 128, 447, 448, golden.len() / 2, golden.len() - 1] {
            inputs.push(golden[..cut].to_vec());
        }
        inputs.push(golden);
    }
    for _ in 0..100 {
        let len = rng.below(1024);
        inputs.push((0..len).map(|_| rng.next() as u8).collect());
    }
    let crashes =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz/artifacts/cartridge_decode");
    if let Ok(entries) = std::fs::read_dir(crashes) {
        for entry in entries {
            inputs.push(std::fs::read(entry.expect("entry").path()).expect("crash input"));
        }
    }
    let mut accepted_after_reseal = 0;
    for input in &inputs {
        cartridge::run(input);
        let mut sealed = input.clone();
        cartridge::reseal(&mut sealed);
        accepted_after_reseal += usize::from(Cartridge::from_bytes("smoke.cart", sealed).is_ok());
    }
    // Damage behind re-sealed CRCs must reach the queries, not only the CRC checks.
    assert!(
        accepted_after_reseal > 3 + golden_cartridges().len(),
        "{accepted_after_reseal} accepted"
    );
    println!(
        "cartridge_decode: {} inputs ({accepted_after_reseal} accepted once re-sealed) in {:.2?}",
        inputs.len(),
        started.elapsed()
    );
}

#[test]
fn resealing_a_golden_cartridge_leaves_it_unchanged() {
    for golden in golden_cartridges() {
        let mut sealed = golden.clone();
        cartridge::reseal(&mut sealed);
        assert!(
            sealed == golden,
            "reseal recomputes the CRCs the writer wrote"
        );
    }
}
