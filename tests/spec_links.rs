//! Every test a spec names (`tests/FILE.rs::NAME`) exists, so the promises and decision
//! tables in `spec/` never point at a test that was renamed or removed.

use std::path::Path;

#[test]
fn every_test_named_in_the_specs_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut named = 0;
    for entry in std::fs::read_dir(root.join("spec")).unwrap() {
        let spec = entry.unwrap().path();
        if spec.extension().is_none_or(|ext| ext != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&spec).unwrap();
        for (at, _) in text.match_indices("tests/") {
            let rest = &text[at..];
            let Some(end) = rest.find(|c: char| c == '`' || c.is_whitespace()) else {
                continue;
            };
            let Some((file, test)) = rest[..end].split_once(".rs::") else {
                continue;
            };
            let source = std::fs::read_to_string(root.join(format!("{file}.rs")))
                .unwrap_or_else(|e| panic!("{}: {file}.rs: {e}", spec.display()));
            assert!(
                source.contains(&format!("fn {test}(")),
                "{} names {file}.rs::{test}, which does not exist",
                spec.display()
            );
            named += 1;
        }
    }
    assert!(named > 20, "only {named} tests named");
}
