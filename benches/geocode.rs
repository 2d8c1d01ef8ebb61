//! Throughput of `Gazetteer::geocode`, in addresses per second on one
//! thread, over the evaluation addresses (`data/geocode-eval.csv`) and the
//! labelled set (`tests/data/addresses-labelled.csv`: towns, former names,
//! names inside names); and what building the gazetteer costs (once, at the
//! first address a server reads).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark set-up; a failure there is the benchmark's own bug"
)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use repairnet::places::gazetteer::Sources;
use repairnet::places::Gazetteer;

fn queries(csv: &str) -> Vec<String> {
    csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.expect("valid csv row")[0].to_owned())
        .collect()
}

fn bench_geocode(c: &mut Criterion) {
    let g = Gazetteer::embedded();
    for (name, csv) in [
        ("eval_set", include_str!("../data/geocode-eval.csv")),
        (
            "labelled_set",
            include_str!("../tests/data/addresses-labelled.csv"),
        ),
    ] {
        let queries = queries(csv);
        let mut group = c.benchmark_group("geocode");
        group.throughput(Throughput::Elements(queries.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                for q in &queries {
                    black_box(g.geocode(black_box(q)));
                }
            });
        });
        group.finish();
    }
}

fn bench_build(c: &mut Criterion) {
    let src = Sources::EMBEDDED;
    let mut group = c.benchmark_group("gazetteer");
    group.sample_size(10);
    group.bench_function("build", |b| {
        b.iter(|| black_box(Gazetteer::from_sources(black_box(&src)).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, bench_geocode, bench_build);
criterion_main!(benches);
