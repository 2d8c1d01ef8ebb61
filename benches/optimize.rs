//! Batch optimiser benchmarks: the exact min-cost-flow solver against greedy
//! on random national and city-clustered instances.
//!
//! `cargo bench --bench optimize` runs criterion. With
//! `REPAIRNET_OPT_INSTANCES=DIR` it instead writes each instance (capacities
//! and feasible edges) with the solver's result and timings to DIR as JSON,
//! for `scripts/ortools_compare.py`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark set-up; a failure there is the benchmark's own bug"
)]

use std::time::Instant;

use criterion::{black_box, Criterion};
use repairnet::dispatch::optimize::instances::{random, Layout};
use repairnet::dispatch::optimize::{
    feasible_edges, greedy_nearest_first, optimize, solve, OptJob, OptTech,
};

struct Case {
    name: &'static str,
    seed: u64,
    jobs: usize,
    techs: usize,
    capacity: Option<u32>,
    layout: Layout,
}

const CASES: [Case; 4] = [
    Case {
        name: "uniform_200x100",
        seed: 1,
        jobs: 200,
        techs: 100,
        capacity: None,
        layout: Layout::UniformChina,
    },
    Case {
        name: "clustered_200x100",
        seed: 2,
        jobs: 200,
        techs: 100,
        capacity: None,
        layout: Layout::Clustered,
    },
    Case {
        name: "uniform_2000x500_cap4",
        seed: 3,
        jobs: 2000,
        techs: 500,
        capacity: Some(4),
        layout: Layout::UniformChina,
    },
    Case {
        name: "clustered_2000x500_cap4",
        seed: 4,
        jobs: 2000,
        techs: 500,
        capacity: Some(4),
        layout: Layout::Clustered,
    },
];

fn instance(c: &Case) -> (Vec<OptJob>, Vec<OptTech>) {
    random(c.seed, c.jobs, c.techs, c.capacity, c.layout)
}

/// Median wall time in milliseconds over `runs` calls.
fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[runs / 2]
}

fn write_instances(dir: &str) {
    std::fs::create_dir_all(dir).expect("create output dir");
    for c in &CASES {
        let (jobs, techs) = instance(c);
        let edges = feasible_edges(&jobs, &techs);
        let caps: Vec<u32> = techs.iter().map(|t| t.capacity).collect();
        let opt = optimize(&jobs, &techs);
        let greedy = greedy_nearest_first(&jobs, &techs);
        let solve_ms = median_ms(21, || {
            black_box(solve(jobs.len(), &caps, &edges));
        });
        let total_ms = median_ms(21, || {
            black_box(optimize(&jobs, &techs));
        });
        let doc = serde_json::json!({
            "name": c.name,
            "seed": c.seed,
            "n_jobs": jobs.len(),
            "n_techs": techs.len(),
            "capacities": caps,
            "edges": edges.iter().map(|e| [i64::from(e.job), i64::from(e.tech), e.cost_m]).collect::<Vec<_>>(),
            "rust": {
                "assigned": opt.assignments.len(),
                "cost_m": opt.total_distance_m,
                "solve_ms": solve_ms,
                "edges_and_solve_ms": total_ms,
                "greedy_assigned": greedy.assignments.len(),
                "greedy_cost_m": greedy.total_distance_m,
            },
        });
        let path = format!("{dir}/{}.json", c.name);
        std::fs::write(&path, doc.to_string()).expect("write instance");
        println!(
            "{:<26} edges {:>6}  assigned {:>5}  cost {:>11} m  solve {:>8.3} ms  (+edges {:>8.3} ms)  greedy {:>5} / {:>11} m",
            c.name,
            edges.len(),
            opt.assignments.len(),
            opt.total_distance_m,
            solve_ms,
            total_ms,
            greedy.assignments.len(),
            greedy.total_distance_m
        );
    }
}

fn main() {
    if let Ok(dir) = std::env::var("REPAIRNET_OPT_INSTANCES") {
        write_instances(&dir);
        return;
    }
    let mut crit = Criterion::default().configure_from_args();
    for c in &CASES {
        let (jobs, techs) = instance(c);
        let edges = feasible_edges(&jobs, &techs);
        let caps: Vec<u32> = techs.iter().map(|t| t.capacity).collect();
        let mut g = crit.benchmark_group(c.name);
        g.bench_function("solve", |b| {
            b.iter(|| solve(jobs.len(), &caps, black_box(&edges)));
        });
        g.bench_function("edges_and_solve", |b| {
            b.iter(|| optimize(black_box(&jobs), &techs));
        });
        g.bench_function("greedy", |b| {
            b.iter(|| greedy_nearest_first(black_box(&jobs), &techs));
        });
        g.finish();
    }
    crit.final_summary();
}
