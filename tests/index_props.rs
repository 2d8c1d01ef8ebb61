//! Property tests: every index query equals a brute-force haversine scan over
//! the same stations, in China, near the poles and across the antimeridian.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test set-up and helpers: a failure there fails the test, as it should"
)]

use std::sync::Arc;

use proptest::prelude::*;
use repairnet::basic::FieldError;
use repairnet::basic::LatLon;
use repairnet::network::{
    BBox, Product, Service, Station, StationDraft, StationFilter, StationId, StationIndex,
};

/// Two distances closer than this are treated as a tie in comparisons: the
/// index orders by chord, the scan by haversine, and they may round apart.
const TIE_M: f64 = 1e-6;

#[derive(Debug, Clone, Copy)]
enum Area {
    China,
    NorthPole,
    SouthPole,
    Antimeridian,
    World,
}

fn area() -> impl Strategy<Value = Area> {
    prop_oneof![
        3 => Just(Area::China),
        1 => Just(Area::NorthPole),
        1 => Just(Area::SouthPole),
        2 => Just(Area::Antimeridian),
        1 => Just(Area::World),
    ]
}

fn point_in(a: Area) -> BoxedStrategy<(f64, f64)> {
    match a {
        Area::China => (18.0..=54.0, 73.0..=135.0).boxed(),
        Area::NorthPole => (
            prop_oneof![4 => 80.0..=90.0, 1 => Just(90.0)],
            -180.0..=180.0,
        )
            .boxed(),
        Area::SouthPole => (
            prop_oneof![4 => -90.0..=-80.0, 1 => Just(-90.0)],
            -180.0..=180.0,
        )
            .boxed(),
        Area::Antimeridian => (
            -40.0..=40.0,
            prop_oneof![170.0..=180.0, -180.0..=-170.0, Just(180.0), Just(-180.0)],
        )
            .boxed(),
        Area::World => (-90.0..=90.0, -180.0..=180.0).boxed(),
    }
}

/// (lat, lon, onsite, product bit mask)
type Spec = (f64, f64, bool, u8);

fn station(i: usize, (lat, lon, onsite, mask): Spec) -> Arc<Station> {
    let mut services = vec!["carry_in".to_owned()];
    if onsite {
        services.push("onsite".to_owned());
    }
    let mut products: Vec<String> = Product::ALL
        .iter()
        .enumerate()
        .filter(|(b, _)| mask & (1 << b) != 0)
        .map(|(_, p)| p.to_string())
        .collect();
    if products.is_empty() {
        products.push(Product::Server.to_string());
    }
    Arc::new(
        Station::try_from(StationDraft {
            id: format!("S{i:04}"),
            name: format!("station {i}"),
            adcode: serde_json::json!("110101"),
            lat,
            lon,
            services,
            products,
            onsite_radius_km: onsite.then_some(25.0),
            opening_hours: "Mo-Su 09:00-18:00".into(),
            timezone: "Asia/Shanghai".into(),
            ..Default::default()
        })
        .expect("valid random station"),
    )
}

/// Stations in one area, some of them sharing a location exactly (ties).
fn stations() -> impl Strategy<Value = Vec<Arc<Station>>> {
    area()
        .prop_flat_map(|a| {
            (
                prop::collection::vec(
                    (point_in(a), any::<bool>(), any::<u8>())
                        .prop_map(|((la, lo), s, m)| (la, lo, s, m)),
                    1..120,
                ),
                prop::collection::vec(
                    (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
                    0..8,
                ),
            )
        })
        .prop_map(|(mut specs, dups)| {
            for (from, to) in dups {
                let (f, t) = (from.index(specs.len()), to.index(specs.len()));
                specs[t].0 = specs[f].0;
                specs[t].1 = specs[f].1;
            }
            specs
                .into_iter()
                .enumerate()
                .map(|(i, s)| station(i, s))
                .collect()
        })
}

fn query() -> impl Strategy<Value = LatLon> {
    area()
        .prop_flat_map(point_in)
        .prop_map(|(lat, lon)| LatLon::new(lat, lon).unwrap())
}

fn filter() -> impl Strategy<Value = StationFilter> {
    (
        prop::option::of(prop::sample::select(Service::ALL)),
        prop::option::of(prop::sample::select(Product::ALL)),
    )
        .prop_map(|(service, product)| StationFilter {
            service,
            product,
            open_at: None,
        })
}

/// Every matching station with its distance, by distance then id.
fn brute(
    all: &[Arc<Station>],
    p: LatLon,
    max_m: Option<f64>,
    pred: impl Fn(&Station) -> bool,
) -> Vec<(f64, StationId)> {
    let mut v: Vec<(f64, StationId)> = all
        .iter()
        .filter(|s| pred(s))
        .map(|s| (p.haversine_m(s.location), s.id.clone()))
        .filter(|(d, _)| max_m.is_none_or(|m| *d <= m))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    v
}

/// The index answer must equal the first `k` of the scan: same distances, and
/// the same ids in the same order except among stations whose distances
/// differ by less than rounding (`TIE_M`) without being equal.
fn check_same(
    got: &[(f64, StationId)],
    want_all: &[(f64, StationId)],
    k: usize,
) -> Result<(), TestCaseError> {
    let want = &want_all[..k.min(want_all.len())];
    prop_assert_eq!(got.len(), want.len(), "count");
    for (g, w) in got.iter().zip(want) {
        prop_assert!((g.0 - w.0).abs() <= TIE_M, "distance {} vs {}", g.0, w.0);
    }
    let upto = (k + 1).min(want_all.len());
    let near_tie = want_all[..upto]
        .windows(2)
        .any(|w| w[1].0 != w[0].0 && w[1].0 - w[0].0 < TIE_M);
    if !near_tie {
        let g: Vec<_> = got.iter().map(|h| &h.1).collect();
        let w: Vec<_> = want.iter().map(|h| &h.1).collect();
        prop_assert_eq!(g, w);
    }
    Ok(())
}

fn hits_of(h: Vec<repairnet::network::Hit<'_>>) -> Vec<(f64, StationId)> {
    h.into_iter()
        .map(|h| (h.distance_m, h.station.id.clone()))
        .collect()
}

fn bbox() -> impl Strategy<Value = BBox> {
    (
        -180.0..=180.0f64,
        -180.0..=180.0f64,
        -90.0..=90.0f64,
        -90.0..=90.0f64,
        0u8..4,
    )
        .prop_map(|(a, b, c, d, kind)| {
            let (lat0, lat1) = (c.min(d), c.max(d));
            match kind {
                // China-sized windows.
                0 => BBox::new(
                    73.0 + (a + 180.0) / 6.0,
                    18.0 + (lat0 + 90.0) / 5.0,
                    135.0,
                    54.0,
                ),
                // Around the antimeridian.
                1 => BBox::new(170.0 + a.abs() / 18.0, lat0, -170.0 - b.abs() / 18.0, lat1),
                // Polar caps.
                2 => BBox::new(a.min(b), 80.0 + lat0.abs() / 9.0, a.max(b), 90.0),
                _ => BBox::new(a, lat0, b, lat1),
            }
            .map_err(|e: FieldError| e.to_string())
            .expect("valid box")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn nearest_equals_brute_force(all in stations(), qs in prop::collection::vec(query(), 1..6), k in 1usize..12) {
        let idx = StationIndex::new(all.clone());
        for q in qs {
            let got = hits_of(idx.nearest(q, k, None, &StationFilter::default()));
            check_same(&got, &brute(&all, q, None, |_| true), k)?;
        }
    }

    #[test]
    fn filtered_nearest_returns_k_when_k_match(all in stations(), q in query(), f in filter(), k in 1usize..12, max_km in prop::option::of(1.0..5_000.0f64)) {
        let idx = StationIndex::new(all.clone());
        let max_m = max_km.map(|km| km * 1000.0);
        let want = brute(&all, q, max_m, |s| f.matches(s));
        let got = hits_of(idx.nearest(q, k, max_m, &f));
        prop_assert_eq!(got.len(), k.min(want.len()), "exactly k when at least k match");
        check_same(&got, &want, k)?;
    }

    #[test]
    fn within_equals_brute_force(all in stations(), q in query(), f in filter(), radius_km in 0.0..3_000.0f64) {
        let idx = StationIndex::new(all.clone());
        let r = radius_km * 1000.0;
        let want = brute(&all, q, Some(r), |s| f.matches(s));
        let got = hits_of(idx.within(q, r, &f));
        let mut got_ids: Vec<_> = got.iter().map(|h| h.1.clone()).collect();
        let mut want_ids: Vec<_> = want.iter().map(|h| h.1.clone()).collect();
        got_ids.sort();
        want_ids.sort();
        prop_assert_eq!(got_ids, want_ids, "same set");
        check_same(&got, &want, want.len())?;
    }

    #[test]
    fn bbox_equals_brute_force(all in stations(), b in bbox()) {
        let idx = StationIndex::new(all.clone());
        let got: Vec<_> = idx.in_bbox(&b).into_iter().map(|s| s.id.clone()).collect();
        let mut want: Vec<_> = all.iter().filter(|s| b.contains(s.location)).map(|s| s.id.clone()).collect();
        want.sort();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn patched_snapshots_equal_a_rebuild(
        all in stations(),
        ops in prop::collection::vec((any::<bool>(), any::<prop::sample::Index>(), point_in(Area::China)), 1..20),
        qs in prop::collection::vec(query(), 1..4),
        b in bbox(),
    ) {
        let mut idx = StationIndex::new(all.clone());
        let mut truth: Vec<Arc<Station>> = all.clone();
        for (i, (remove, pick, (lat, lon))) in ops.into_iter().enumerate() {
            if remove && !truth.is_empty() {
                let gone = truth.remove(pick.index(truth.len()));
                idx = idx.with_removed(&gone.id);
            } else {
                // Either move an existing id or add a new one.
                let n = if pick.index(2) == 0 && !truth.is_empty() {
                    let j = pick.index(truth.len());
                    truth[j].id.as_str()[1..].parse().unwrap()
                } else {
                    5_000 + i
                };
                let s = station(n, (lat, lon, i % 2 == 0, 1 << (i % 7)));
                truth.retain(|t| t.id != s.id);
                truth.push(s.clone());
                idx = idx.with_upserted(s);
            }
        }
        let fresh = StationIndex::new(truth.clone());
        prop_assert_eq!(idx.len(), fresh.len());
        let a: Vec<_> = idx.iter().map(|s| (s.id.clone(), s.location)).collect();
        let f: Vec<_> = fresh.iter().map(|s| (s.id.clone(), s.location)).collect();
        prop_assert_eq!(a, f);
        for q in qs {
            let got = hits_of(idx.nearest(q, 7, None, &StationFilter::default()));
            let want = hits_of(fresh.nearest(q, 7, None, &StationFilter::default()));
            prop_assert_eq!(got, want);
        }
        let got: Vec<_> = idx.in_bbox(&b).into_iter().map(|s| s.id.clone()).collect();
        let want: Vec<_> = fresh.in_bbox(&b).into_iter().map(|s| s.id.clone()).collect();
        prop_assert_eq!(got, want);
    }
}
