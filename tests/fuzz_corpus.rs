//! Replays the kept fuzz inputs on the stable toolchain: every file under
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the
//! very functions the `cargo fuzz` targets call (the fuzz crate's library is
//! included below, not copied), so an input that once crashed, overflowed or
//! hung fails a plain `cargo test`.
//!
//! Fuzzing itself needs nightly and is run by hand; see `fuzz/README.md`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test set-up and helpers: a failure there fails the test, as it should"
)]

#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 5] = [
    ("import_csv", targets::import_csv),
    ("import_geojson", targets::import_geojson),
    ("address", targets::address),
    ("query", targets::query),
    ("intake", targets::intake),
];

/// A kept input takes milliseconds even in a debug build; one that takes
/// seconds is what fuzzing reports as a timeout, and fails here too.
const BUDGET: Duration = Duration::from_secs(5);

fn fuzz_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
}

/// The files directly in `dir`, sorted; none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

fn replay(name: &str) {
    let run = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, run)| *run)
        .expect("a known target");
    let corpus = files(&fuzz_dir("corpus").join(name));
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{name} is missing or empty: the corpus is kept in the repository"
    );
    // Regressions exist only for targets that have crashed once.
    let regressions = files(&fuzz_dir("regressions").join(name));
    let mut failures = Vec::new();
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).expect("readable input");
        let started = Instant::now();
        // Catch each panic so one run names every failing input.
        let outcome = catch_unwind(AssertUnwindSafe(|| run(&data)));
        let took = started.elapsed();
        let shown = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(path)
            .display();
        if outcome.is_err() {
            failures.push(format!("{shown}: panicked"));
        } else if took > BUDGET {
            failures.push(format!("{shown}: took {took:.1?} (budget {BUDGET:?})"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} inputs failed:\n{}",
        failures.len(),
        corpus.len() + regressions.len(),
        failures.join("\n")
    );
}

#[test]
fn import_csv() {
    replay("import_csv");
}

#[test]
fn import_geojson() {
    replay("import_geojson");
}

#[test]
fn address() {
    replay("address");
}

#[test]
fn query() {
    replay("query");
}

#[test]
fn intake() {
    replay("intake");
}

/// A corpus or regression directory for a target this file does not replay
/// would silently stop guarding anything.
#[test]
fn every_kept_directory_is_replayed() {
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir(kind)) else {
            continue;
        };
        for e in entries {
            let path = e.expect("readable directory entry").path();
            if !path.is_dir() {
                continue;
            }
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            assert!(
                TARGETS.iter().any(|(n, _)| *n == name),
                "fuzz/{kind}/{name} has no replay in tests/fuzz_corpus.rs"
            );
        }
    }
}
