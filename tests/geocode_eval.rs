//! Accuracy of the offline geocoder on `data/geocode-eval.csv`: real-world
//! address forms (full, short, spoken, pinyin, traditional, noisy, ...) with
//! their expected adcodes. Fails below 95 % and prints accuracy per form.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test set-up and helpers: a failure there fails the test, as it should"
)]

use std::collections::{BTreeMap, BTreeSet};

use repairnet::places::Gazetteer;

struct Row {
    query: String,
    expected: BTreeSet<u32>,
    form: String,
}

fn rows() -> Vec<Row> {
    let mut reader = csv::Reader::from_reader(include_str!("../data/geocode-eval.csv").as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.expect("valid csv row");
            Row {
                query: r[0].to_owned(),
                expected: r[1]
                    .split('|')
                    .map(|c| c.parse().expect("numeric adcode"))
                    .collect(),
                form: r[2].to_owned(),
            }
        })
        .collect()
}

/// A row passes when the best match is the expected division; an ambiguous
/// row passes when the result is flagged ambiguous and the tied best matches
/// (or, without an exact tie, those within 2% of the best) are exactly the
/// expected set.
fn passes(g: &Gazetteer, row: &Row) -> bool {
    let r = g.geocode(&row.query);
    let Some(first) = r.matches.first() else {
        return false;
    };
    if row.expected.len() > 1 {
        // The exactly tied best matches; without an exact tie, those
        // within 2% of the best, as the geocoder decides a near tie.
        let within = |share: f64| -> BTreeSet<u32> {
            r.matches
                .iter()
                .take_while(|m| {
                    (first.confidence - m.confidence).abs() <= share * first.confidence + 1e-9
                })
                .map(|m| m.adcode.value())
                .collect()
        };
        let exact = within(0.0);
        let tied = if exact.len() > 1 { exact } else { within(0.02) };
        r.ambiguous && tied == row.expected
    } else {
        !r.ambiguous && row.expected.contains(&first.adcode.value())
    }
}

#[test]
fn geocoder_accuracy_on_the_evaluation_set() {
    let g = Gazetteer::embedded();
    let rows = rows();
    assert!(rows.len() >= 200, "only {} rows", rows.len());
    let mut per_form: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for row in &rows {
        let ok = passes(g, row);
        let e = per_form.entry(row.form.as_str()).or_default();
        e.1 += 1;
        if ok {
            e.0 += 1;
        } else {
            let got = g.geocode(&row.query);
            failures.push(format!(
                "{} [{}] expected {:?}, got {:?} ambiguous={}",
                row.query,
                row.form,
                row.expected,
                got.matches
                    .iter()
                    .take(4)
                    .map(|m| format!("{} {}", m.adcode, m.name))
                    .collect::<Vec<_>>(),
                got.ambiguous
            ));
        }
    }
    let passed: usize = per_form.values().map(|v| v.0).sum();
    println!("form            correct / total");
    for (form, (ok, n)) in &per_form {
        println!(
            "{form:<15} {ok:>4} / {n:<4} {:5.1} %",
            100.0 * *ok as f64 / *n as f64
        );
    }
    let accuracy = passed as f64 / rows.len() as f64;
    println!(
        "overall         {passed:>4} / {}  {:5.1} %",
        rows.len(),
        100.0 * accuracy
    );
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(accuracy >= 0.95, "accuracy {accuracy:.3} below 0.95");
}
