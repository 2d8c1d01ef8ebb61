//! The geocoder on `tests/data/addresses-labelled.csv`: 2,000+ addresses
//! put together from open data (towns with their committees, former names,
//! names inside road names, shared county names; see
//! `scripts/labelled-addresses.py`). Each answer is one of:
//!
//! * **right**: confident (`confidence >= 0.5`, not `ambiguous`) and right;
//! * **coarse**: confident and right, but only the city or province that
//!   holds the expected county (the town was not recognised);
//! * **flagged**: a question for the caller (ambiguous or not confident) with
//!   a right place among the candidates, or with nothing right to find;
//! * **confidently wrong**: confident and wrong — the agent would take it;
//! * **unresolved**: no answer, or a question without the right place.
//!
//! Fails when confident answers are wrong 0.5 % of the time or more, or when
//! fewer than 90 % of the addresses are right, coarse or flagged. Prints the figures
//! per kind (`cargo test --test geocode_labelled -- --nocapture`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test set-up and helpers: a failure there fails the test, as it should"
)]

use std::collections::BTreeMap;

use repairnet::places::{Gazetteer, Geocoded};

struct Row {
    query: String,
    /// Empty: no confident answer is right.
    expected: Vec<u32>,
    kind: String,
}

fn rows() -> Vec<Row> {
    let mut reader =
        csv::Reader::from_reader(include_str!("data/addresses-labelled.csv").as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.expect("valid csv row");
            Row {
                query: r[0].to_owned(),
                expected: r[1]
                    .split('|')
                    .filter(|c| !c.is_empty())
                    .map(|c| c.parse().expect("numeric adcode"))
                    .collect(),
                kind: r[2].to_owned(),
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Right,
    Coarse,
    Flagged,
    ConfidentlyWrong,
    Unresolved,
}

/// An agent may take the first match without asking.
fn confident(g: &Geocoded) -> bool {
    !g.ambiguous && g.matches.first().is_some_and(|m| m.confidence >= 0.5)
}

fn judge(g: &Geocoded, expected: &[u32]) -> (Outcome, bool) {
    let first = g.matches.first().map(|m| m.adcode.value());
    let right_first = first.is_some_and(|a| expected.contains(&a));
    // The city (xxxx00) or province (xx0000) that holds an expected county.
    let holds = |a: u32| {
        expected.iter().any(|&e| {
            (a.is_multiple_of(100) && e / 100 == a / 100)
                || (a.is_multiple_of(10_000) && e / 10_000 == a / 10_000)
        })
    };
    let outcome = if confident(g) {
        if right_first {
            Outcome::Right
        } else if first.is_some_and(holds) {
            Outcome::Coarse
        } else {
            Outcome::ConfidentlyWrong
        }
    } else if expected.is_empty()
        || g.matches
            .iter()
            .any(|m| expected.contains(&m.adcode.value()))
    {
        Outcome::Flagged
    } else {
        Outcome::Unresolved
    };
    (outcome, right_first)
}

#[test]
fn labelled_addresses_are_right_or_asked_and_seldom_confidently_wrong() {
    let g = Gazetteer::embedded();
    let rows = rows();
    assert!(rows.len() >= 2_000, "only {} rows", rows.len());
    // kind -> [right, coarse, flagged, confidently wrong, unresolved,
    //          right first, n]
    let mut per_kind: BTreeMap<&str, [usize; 7]> = BTreeMap::new();
    let mut wrong = Vec::new();
    for row in &rows {
        let got = g.geocode(&row.query);
        let (outcome, right_first) = judge(&got, &row.expected);
        let e = per_kind.entry(row.kind.as_str()).or_default();
        e[outcome as usize] += 1;
        e[5] += usize::from(right_first);
        e[6] += 1;
        if matches!(outcome, Outcome::ConfidentlyWrong | Outcome::Unresolved) {
            wrong.push(format!(
                "{outcome:?} {} [{}] expected {:?}, got {:?} ambiguous={}",
                row.query,
                row.kind,
                row.expected,
                got.matches
                    .iter()
                    .take(3)
                    .map(|m| format!("{} {} {:.2}", m.adcode, m.name, m.confidence))
                    .collect::<Vec<_>>(),
                got.ambiguous
            ));
        }
    }
    let mut total = [0usize; 7];
    let line = |name: &str, c: &[usize; 7]| {
        println!(
            "{name:<15} {:>6} {:>7} {:>8} {:>8} {:>10} {:>11} {:>5}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6]
        );
    };
    println!(
        "{:<15} {:>6} {:>7} {:>8} {:>8} {:>10} {:>11} {:>5}",
        "kind", "right", "coarse", "flagged", "conf.wr", "unresolved", "right first", "n"
    );
    for (kind, c) in &per_kind {
        line(kind, c);
        for (t, v) in total.iter_mut().zip(c) {
            *t += v;
        }
    }
    line("all", &total);
    let pct = |v: usize| 100.0 * v as f64 / total[6] as f64;
    println!(
        "share           {:>5.1}% {:>6.1}% {:>7.1}% {:>7.2}% {:>9.1}% {:>10.1}%",
        pct(total[0]),
        pct(total[1]),
        pct(total[2]),
        pct(total[3]),
        pct(total[4]),
        pct(total[5])
    );
    let confident_answers = total[0] + total[1] + total[3];
    let wrong_share = total[3] as f64 / confident_answers.max(1) as f64;
    println!(
        "confident answers wrong: {} of {} ({:.2} %)",
        total[3],
        confident_answers,
        100.0 * wrong_share
    );
    for w in &wrong {
        println!("{w}");
    }
    assert!(
        wrong_share < 0.005,
        "{:.2} % of confident answers are wrong",
        100.0 * wrong_share
    );
    let useful = (total[0] + total[1] + total[2]) as f64 / total[6] as f64;
    assert!(
        useful >= 0.90,
        "only {:.1} % right or flagged",
        100.0 * useful
    );
}
