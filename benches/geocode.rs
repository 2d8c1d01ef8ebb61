//! Throughput of `Gazetteer::geocode` over the evaluation addresses
//! (`data/geocode-eval.csv`), in addresses per second, single thread.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark set-up; a failure there is the benchmark's own bug"
)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use repairnet::places::Gazetteer;

fn queries() -> Vec<String> {
    csv::Reader::from_reader(include_str!("../data/geocode-eval.csv").as_bytes())
        .records()
        .map(|r| r.expect("valid csv row")[0].to_owned())
        .collect()
}

fn bench_geocode(c: &mut Criterion) {
    let g = Gazetteer::embedded();
    let queries = queries();
    let mut group = c.benchmark_group("geocode");
    group.throughput(Throughput::Elements(queries.len() as u64));
    group.bench_function("eval_set", |b| {
        b.iter(|| {
            for q in &queries {
                black_box(g.geocode(black_box(q)));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench_geocode);
criterion_main!(benches);
