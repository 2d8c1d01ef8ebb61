//! Nearest-station benchmarks: the exact unit-vector index against a
//! brute-force haversine scan and an (inexact) raw lon/lat R-tree, on random
//! stations over China's bounding box, plus the 1M bulk load.
//!
//! Before timing, a full `cargo bench` run also prints how often the raw
//! lon/lat tree picks the wrong stations.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark set-up; a failure there is the benchmark's own bug"
)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use repairnet::basic::LatLon;
use repairnet::network::{Station, StationDraft, StationFilter, StationId, StationIndex};
use rstar::primitives::GeomWithData;
use rstar::RTree;

const K: usize = 5;
const QUERIES: usize = 1024;

fn random_points(n: usize, seed: u64) -> Vec<LatLon> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| LatLon::new(rng.gen_range(18.0..=54.0), rng.gen_range(73.0..=135.0)).unwrap())
        .collect()
}

/// `n` stations at random points; one validated template, re-placed, keeps
/// generation of a million quick.
fn stations(n: usize) -> Vec<Arc<Station>> {
    let template = Station::try_from(StationDraft {
        id: "template".into(),
        name: "bench station".into(),
        adcode: serde_json::json!("110101"),
        lat: 39.9,
        lon: 116.4,
        services: vec!["onsite".into(), "carry_in".into()],
        products: vec!["notebook".into(), "desktop".into()],
        onsite_radius_km: Some(30.0),
        opening_hours: "Mo-Su 09:00-18:00".into(),
        timezone: "Asia/Shanghai".into(),
        ..Default::default()
    })
    .expect("valid template");
    random_points(n, 42)
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let mut s = template.clone();
            s.id = StationId::parse(&format!("S{i:07}")).unwrap();
            s.location = p;
            Arc::new(s)
        })
        .collect()
}

/// The comparison baseline: Euclidean nearest in raw degrees.
type LonLatTree = RTree<GeomWithData<[f64; 2], u32>>;

fn lonlat_tree(all: &[Arc<Station>]) -> LonLatTree {
    RTree::bulk_load(
        all.iter()
            .enumerate()
            .map(|(i, s)| GeomWithData::new([s.location.lon, s.location.lat], i as u32))
            .collect(),
    )
}

fn lonlat_nearest(tree: &LonLatTree, all: &[Arc<Station>], p: LatLon) -> Vec<(f64, u32)> {
    tree.nearest_neighbor_iter(&[p.lon, p.lat])
        .take(K)
        .map(|g| (p.haversine_m(all[g.data as usize].location), g.data))
        .collect()
}

/// Scan every station, keeping the best `K` by haversine.
fn brute_nearest(all: &[Arc<Station>], p: LatLon) -> [(f64, u32); K] {
    let mut best = [(f64::INFINITY, u32::MAX); K];
    for (i, s) in all.iter().enumerate() {
        let d = p.haversine_m(s.location);
        if d < best[K - 1].0 {
            let mut j = K - 1;
            while j > 0 && best[j - 1].0 > d {
                best[j] = best[j - 1];
                j -= 1;
            }
            best[j] = (d, i as u32);
        }
    }
    best
}

/// How often the lon/lat tree's answer differs from the exact one.
fn report_lonlat_errors(label: &str, all: &[Arc<Station>], idx: &StationIndex, n_queries: usize) {
    let tree = lonlat_tree(all);
    let mut wrong_first = 0usize;
    let mut wrong_set = 0usize;
    let mut worst_excess = 0.0f64;
    let none = StationFilter::default();
    for q in random_points(n_queries, 7) {
        let exact: Vec<f64> = idx
            .nearest(q, K, None, &none)
            .iter()
            .map(|h| h.distance_m)
            .collect();
        let mut rough: Vec<f64> = lonlat_nearest(&tree, all, q).iter().map(|h| h.0).collect();
        // Same distance means an equally near station: not an error.
        if rough[0] > exact[0] + 1e-6 {
            wrong_first += 1;
            worst_excess = worst_excess.max(rough[0] / exact[0] - 1.0);
        }
        rough.sort_by(f64::total_cmp);
        if rough.iter().zip(&exact).any(|(r, e)| (r - e).abs() > 1e-6) {
            wrong_set += 1;
        }
    }
    let pct = |n: usize| 100.0 * n as f64 / n_queries as f64;
    println!(
        "lon/lat tree vs exact, {label} stations, {n_queries} queries: wrong nearest (k=1) {:.2}%, \
         wrong k=5 set {:.2}%, worst k=1 {:.1}% farther than the true nearest",
        pct(wrong_first),
        pct(wrong_set),
        100.0 * worst_excess
    );
}

fn bench_nearest(c: &mut Criterion, small: &[Arc<Station>], large: &[Arc<Station>]) {
    let queries = random_points(QUERIES, 3);
    let none = StationFilter::default();
    let mut g = c.benchmark_group("nearest_k5");
    for (label, all) in [("520", small), ("1M", large)] {
        let idx = StationIndex::new(all.to_vec());
        let mut i = 0;
        g.bench_function(format!("exact_index/{label}"), |b| {
            b.iter(|| {
                i = (i + 1) % QUERIES;
                black_box(idx.nearest(black_box(queries[i]), K, None, &none).len())
            });
        });
    }
    let tree = lonlat_tree(large);
    let mut i = 0;
    g.bench_function("lonlat_tree_inexact/1M", |b| {
        b.iter(|| {
            i = (i + 1) % QUERIES;
            black_box(lonlat_nearest(&tree, large, black_box(queries[i])).len())
        });
    });
    let mut i = 0;
    g.bench_function("brute_force/520", |b| {
        b.iter(|| {
            i = (i + 1) % QUERIES;
            black_box(brute_nearest(small, black_box(queries[i])))
        });
    });
    g.sample_size(10);
    let mut i = 0;
    g.bench_function("brute_force/1M", |b| {
        b.iter(|| {
            i = (i + 1) % QUERIES;
            black_box(brute_nearest(large, black_box(queries[i])))
        });
    });
    g.finish();
}

fn bench_bulk_load(c: &mut Criterion, large: &[Arc<Station>]) {
    let mut g = c.benchmark_group("bulk_load");
    g.sample_size(10);
    g.bench_function("index/1M", |b| {
        b.iter_batched(|| large.to_vec(), StationIndex::new, BatchSize::LargeInput);
    });
    g.finish();
}

fn main() {
    // `cargo test --benches` runs this once in test mode: keep that cheap.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    // A name filter means a focused run: skip the accuracy report.
    let filtered = args.iter().any(|a| !a.starts_with('-'));
    let large_n = if full { 1_000_000 } else { 10_000 };
    let small = stations(520);
    let large = stations(large_n);
    if full && !filtered {
        report_lonlat_errors("520", &small, &StationIndex::new(small.clone()), 100_000);
        report_lonlat_errors("1M", &large, &StationIndex::new(large.clone()), 100_000);
    }
    let mut c = Criterion::default().configure_from_args();
    bench_nearest(&mut c, &small, &large);
    bench_bulk_load(&mut c, &large);
    c.final_summary();
}
