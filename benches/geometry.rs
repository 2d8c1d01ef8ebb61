//! Hand-written geometry against georust `geo` on the hot paths: the
//! haversine distance (every nearest answer) and lon/lat box membership
//! (every bbox candidate). `cargo bench --bench geometry`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark set-up; a failure there is the benchmark's own bug"
)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use geo::{Distance, Haversine, Intersects};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use repairnet::basic::{LatLon, EARTH_RADIUS_M};
use repairnet::network::BBox;

/// The haversine repairnet wrote by hand before it used `geo`.
fn haversine_by_hand(a: LatLon, b: LatLon) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dp = p2 - p1;
    let dl = (b.lon - a.lon).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

fn points(n: usize) -> Vec<LatLon> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    (0..n)
        .map(|_| LatLon::new(rng.gen_range(18.0..53.0), rng.gen_range(74.0..134.0)).unwrap())
        .collect()
}

fn bench(c: &mut Criterion) {
    let pts = points(1024);
    let origin = LatLon::new(30.8, 106.08).unwrap();
    let mut g = c.benchmark_group("haversine_1024");
    g.bench_function("by_hand", |b| {
        b.iter(|| {
            pts.iter()
                .map(|p| haversine_by_hand(black_box(origin), *p))
                .sum::<f64>()
        });
    });
    g.bench_function("geo", |b| {
        b.iter(|| {
            pts.iter()
                .map(|p| Haversine.distance(black_box(origin).point(), p.point()))
                .sum::<f64>()
        });
    });
    g.bench_function("latlon_haversine_m", |b| {
        b.iter(|| {
            pts.iter()
                .map(|p| black_box(origin).haversine_m(*p))
                .sum::<f64>()
        });
    });
    g.finish();

    let bbox = BBox::new(100.0, 20.0, 120.0, 40.0).unwrap();
    let rects = bbox.rects();
    let mut g = c.benchmark_group("bbox_contains_1024");
    g.bench_function("by_hand", |b| {
        b.iter(|| {
            pts.iter()
                .filter(|p| black_box(&bbox).contains(**p))
                .count()
        });
    });
    g.bench_function("geo_rect_intersects", |b| {
        b.iter(|| {
            pts.iter()
                .filter(|p| black_box(&rects).iter().any(|r| r.intersects(&p.point())))
                .count()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
