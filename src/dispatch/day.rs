//! A technician's day: the order in which to drive to the day's visits.
//!
//! Visits keep their booked window (the morning's before the afternoon's,
//! then any without a window); within a window the order is the shortest
//! open path from where the technician is (the station first, then the
//! window before's last visit). Up to [`EXACT_UP_TO`] visits in one window
//! the path is exact (Held–Karp dynamic programming, O(2ⁿ·n²)); above that,
//! nearest neighbour improved by 2-opt until no swap shortens it. A window
//! rarely holds more than a technician's daily capacity (six to eight), so
//! the exact path is the common case.

/// The largest window planned exactly (2¹²·12² ≈ 600k steps, well under a
/// millisecond).
pub const EXACT_UP_TO: usize = 12;

/// How a window's order was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Exact,
    Heuristic,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Exact => "exact",
            Method::Heuristic => "nearest_neighbour_2opt",
        }
    }
}

/// The shortest open path from `start` through every one of `stops`
/// (indexes into `cost`), as the stops in visiting order, with its cost.
pub fn shortest_path(
    cost: &dyn Fn(usize, usize) -> f64,
    start: usize,
    stops: &[usize],
) -> (Vec<usize>, f64, Method) {
    if stops.len() <= EXACT_UP_TO {
        let (order, c) = held_karp(cost, start, stops);
        (order, c, Method::Exact)
    } else {
        let (order, c) = nearest_then_two_opt(cost, start, stops);
        (order, c, Method::Heuristic)
    }
}

/// The cost of visiting `order` from `start`.
pub fn path_cost(cost: &dyn Fn(usize, usize) -> f64, start: usize, order: &[usize]) -> f64 {
    let mut at = start;
    let mut total = 0.0;
    for &s in order {
        total += cost(at, s);
        at = s;
    }
    total
}

fn held_karp(
    cost: &dyn Fn(usize, usize) -> f64,
    start: usize,
    stops: &[usize],
) -> (Vec<usize>, f64) {
    let n = stops.len();
    if n == 0 {
        return (Vec::new(), 0.0);
    }
    let full = (1usize << n) - 1;
    // best[set][last]: the cheapest path from start through `set`, ending at `last`.
    let mut best = vec![f64::INFINITY; (full + 1) * n];
    let mut prev = vec![usize::MAX; (full + 1) * n];
    for (i, &s) in stops.iter().enumerate() {
        best[(1 << i) * n + i] = cost(start, s);
    }
    for set in 1..=full {
        for last in 0..n {
            if set & (1 << last) == 0 {
                continue;
            }
            let here = best[set * n + last];
            if !here.is_finite() {
                continue;
            }
            for next in 0..n {
                if set & (1 << next) != 0 {
                    continue;
                }
                let to = set | (1 << next);
                let c = here + cost(stops[last], stops[next]);
                if c < best[to * n + next] {
                    best[to * n + next] = c;
                    prev[to * n + next] = last;
                }
            }
        }
    }
    let (mut last, total) = (0..n)
        .map(|i| (i, best[full * n + i]))
        .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
    let mut order = Vec::with_capacity(n);
    let mut set = full;
    while set != 0 {
        order.push(stops[last]);
        let p = prev[set * n + last];
        set &= !(1 << last);
        if p == usize::MAX {
            break;
        }
        last = p;
    }
    order.reverse();
    (order, total)
}

fn nearest_then_two_opt(
    cost: &dyn Fn(usize, usize) -> f64,
    start: usize,
    stops: &[usize],
) -> (Vec<usize>, f64) {
    let mut left: Vec<usize> = stops.to_vec();
    let mut order = Vec::with_capacity(stops.len());
    let mut at = start;
    while !left.is_empty() {
        let (i, _) = left
            .iter()
            .enumerate()
            .map(|(i, &s)| (i, cost(at, s)))
            .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
        at = left.swap_remove(i);
        order.push(at);
    }
    // 2-opt on an open path: reverse order[i..=j] while that shortens it.
    let mut total = path_cost(cost, start, &order);
    let mut improved = true;
    while improved {
        improved = false;
        for i in 0..order.len() {
            for j in i + 1..order.len() {
                order[i..=j].reverse();
                let c = path_cost(cost, start, &order);
                if c + 1e-9 < total {
                    total = c;
                    improved = true;
                } else {
                    order[i..=j].reverse();
                }
            }
        }
    }
    (order, total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(cost: &dyn Fn(usize, usize) -> f64, start: usize, stops: &mut Vec<usize>) -> f64 {
        // Every permutation by Heap's algorithm.
        fn heap(k: usize, a: &mut Vec<usize>, best: &mut f64, f: &dyn Fn(&[usize]) -> f64) {
            if k <= 1 {
                *best = best.min(f(a));
                return;
            }
            for i in 0..k {
                heap(k - 1, a, best, f);
                if k.is_multiple_of(2) {
                    a.swap(i, k - 1);
                } else {
                    a.swap(0, k - 1);
                }
            }
        }
        let mut best = f64::INFINITY;
        let n = stops.len();
        heap(n, stops, &mut best, &|o| path_cost(cost, start, o));
        best
    }

    proptest! {
        #[test]
        fn exact_equals_brute_force(pts in prop::collection::vec((0.0f64..100.0, 0.0f64..100.0), 1..8)) {
            let cost = |a: usize, b: usize| {
                let (p, q) = (pts[a], pts[b]);
                ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)).sqrt()
            };
            let mut stops: Vec<usize> = (1..pts.len()).collect();
            let (order, c, m) = shortest_path(&cost, 0, &stops);
            prop_assert_eq!(m, Method::Exact);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            prop_assert_eq!(&sorted, &stops);
            prop_assert!((path_cost(&cost, 0, &order) - c).abs() < 1e-6);
            let b = brute(&cost, 0, &mut stops);
            prop_assert!((c - b).abs() < 1e-6, "held-karp {} brute {}", c, b);
        }

        #[test]
        fn heuristic_visits_every_stop_once_and_beats_the_given_order(
            pts in prop::collection::vec((0.0f64..100.0, 0.0f64..100.0), 14..30)
        ) {
            let cost = |a: usize, b: usize| {
                let (p, q) = (pts[a], pts[b]);
                ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)).sqrt()
            };
            let stops: Vec<usize> = (1..pts.len()).collect();
            let (order, c, m) = shortest_path(&cost, 0, &stops);
            prop_assert_eq!(m, Method::Heuristic);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            prop_assert_eq!(&sorted, &stops);
            prop_assert!(c <= path_cost(&cost, 0, &stops) + 1e-9);
        }
    }

    #[test]
    fn a_line_is_driven_in_order() {
        // Stops on a line at 3, 1, 2 from a start at 0: 1, 2, 3.
        let xs = [0.0, 3.0, 1.0, 2.0];
        let cost = |a: usize, b: usize| f64::abs(xs[a] - xs[b]);
        let (order, c, _) = shortest_path(&cost, 0, &[1, 2, 3]);
        assert_eq!(order, vec![2, 3, 1]);
        assert!((c - 3.0).abs() < 1e-9);
    }
}
