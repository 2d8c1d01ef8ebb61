//! Exact batch assignment of on-site jobs to technicians.
//!
//! Objective, lexicographic: first assign as many jobs as possible, then
//! minimise the total distance (integer metres, great-circle station → job).
//! A dispatcher never wants an assignable job left out to save distance.
//! Feasible pairs respect skills, on-duty, remaining daily capacity and the
//! station's on-site radius.
//!
//! Method: min-cost max-flow (source → job, cap 1; job → technician, cap 1,
//! cost = metres; technician → sink, cap = remaining capacity) solved by
//! successive shortest paths with Johnson potentials and Dijkstra that stops
//! at the sink. Because every augmenting path is a shortest one, the flow is a
//! minimum-cost flow for each flow value, and running to exhaustion gives the
//! maximum flow, so the result is optimal for the objective above. The graph
//! is split into connected components first (jobs in different cities never
//! interact), which keeps each Dijkstra small.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{JobId, TechnicianId};
use crate::basic::{LatLon, EARTH_RADIUS_M};
use crate::network::model::Product;

/// A job to place.
#[derive(Debug, Clone, PartialEq)]
pub struct OptJob {
    pub id: JobId,
    pub point: LatLon,
    pub product: Product,
}

/// A technician with the location and radius of their station.
#[derive(Debug, Clone, PartialEq)]
pub struct OptTech {
    pub id: TechnicianId,
    pub point: LatLon,
    pub radius_m: f64,
    pub skills: BTreeSet<Product>,
    pub on_duty: bool,
    /// Remaining capacity for the day (daily capacity minus bookings).
    pub capacity: u32,
}

/// A feasible pair, by index into the job and technician slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    pub job: u32,
    pub tech: u32,
    pub cost_m: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Assignment {
    pub job_id: JobId,
    pub technician_id: TechnicianId,
    pub distance_m: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnassignedReason {
    /// No on-duty technician with the skill has the job inside their radius
    /// (or every such technician has zero remaining capacity).
    NoFeasibleTechnician,
    /// Feasible technicians exist but their capacity went to other jobs.
    CapacityExhausted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Unassigned {
    pub job_id: JobId,
    pub reason: UnassignedReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OptResult {
    /// In job input order.
    pub assignments: Vec<Assignment>,
    pub unassigned: Vec<Unassigned>,
    pub total_distance_m: i64,
}

/// One bit per product line; `Product`'s variants are declared in `ALL` order.
fn product_bit(p: Product) -> u16 {
    1 << (p as u16)
}

/// All feasible (job, technician) pairs. Technicians are sorted by latitude
/// so each job only measures those within the largest radius in latitude.
pub fn feasible_edges(jobs: &[OptJob], techs: &[OptTech]) -> Vec<Edge> {
    let mut usable: Vec<(f64, u32, u16)> = techs
        .iter()
        .enumerate()
        .filter(|(_, t)| t.on_duty && t.capacity > 0 && t.radius_m > 0.0)
        .map(|(i, t)| {
            (
                t.point.lat,
                i as u32,
                t.skills.iter().fold(0, |m, p| m | product_bit(*p)),
            )
        })
        .collect();
    usable.sort_by(|a, b| a.0.total_cmp(&b.0));
    let max_r = usable
        .iter()
        .map(|u| techs[u.1 as usize].radius_m)
        .fold(0.0, f64::max);
    // Degrees of latitude spanned by max_r, with a margin for rounding.
    let dlat = (max_r / EARTH_RADIUS_M).to_degrees() * 1.000_001 + 1e-9;
    let mut edges = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        let bit = product_bit(job.product);
        let lo = usable.partition_point(|u| u.0 < job.point.lat - dlat);
        for &(lat, ti, skills) in &usable[lo..] {
            if lat > job.point.lat + dlat {
                break;
            }
            if skills & bit == 0 {
                continue;
            }
            let t = &techs[ti as usize];
            let d = t.point.haversine_m(job.point);
            if d <= t.radius_m {
                edges.push(Edge {
                    job: j as u32,
                    tech: ti,
                    cost_m: d.round() as i64,
                });
            }
        }
    }
    edges
}

/// Solves jobs against technicians: feasibility, then [`solve`].
pub fn optimize(jobs: &[OptJob], techs: &[OptTech]) -> OptResult {
    let edges = feasible_edges(jobs, techs);
    let caps: Vec<u32> = techs.iter().map(|t| t.capacity).collect();
    let chosen = solve(jobs.len(), &caps, &edges);
    report(jobs, techs, &edges, &chosen)
}

/// Global nearest-first greedy (the shortest feasible pair first), for
/// comparison: it can leave assignable jobs out and costs more.
pub fn greedy_nearest_first(jobs: &[OptJob], techs: &[OptTech]) -> OptResult {
    let mut edges = feasible_edges(jobs, techs);
    edges.sort_by_key(|e| (e.cost_m, e.job, e.tech));
    let mut left: Vec<u32> = techs.iter().map(|t| t.capacity).collect();
    let mut chosen = vec![None; jobs.len()];
    for (k, e) in edges.iter().enumerate() {
        if chosen[e.job as usize].is_none() && left[e.tech as usize] > 0 {
            left[e.tech as usize] -= 1;
            chosen[e.job as usize] = Some(k);
        }
    }
    report(jobs, techs, &edges, &chosen)
}

fn report(
    jobs: &[OptJob],
    techs: &[OptTech],
    edges: &[Edge],
    chosen: &[Option<usize>],
) -> OptResult {
    let mut has_edge = vec![false; jobs.len()];
    for e in edges {
        has_edge[e.job as usize] = true;
    }
    let mut out = OptResult {
        assignments: Vec::new(),
        unassigned: Vec::new(),
        total_distance_m: 0,
    };
    for (j, c) in chosen.iter().enumerate() {
        match c {
            Some(k) => {
                let e = edges[*k];
                out.total_distance_m += e.cost_m;
                out.assignments.push(Assignment {
                    job_id: jobs[j].id,
                    technician_id: techs[e.tech as usize].id,
                    distance_m: e.cost_m,
                });
            }
            None => out.unassigned.push(Unassigned {
                job_id: jobs[j].id,
                reason: if has_edge[j] {
                    UnassignedReason::CapacityExhausted
                } else {
                    UnassignedReason::NoFeasibleTechnician
                },
            }),
        }
    }
    out
}

/// The exact solver on a prepared edge list. Returns, per job, the index of
/// its chosen edge. Costs must be non-negative.
pub fn solve(n_jobs: usize, capacities: &[u32], edges: &[Edge]) -> Vec<Option<usize>> {
    let n_techs = capacities.len();
    // Union-find over jobs (0..n_jobs) and technicians (n_jobs..).
    let mut parent: Vec<u32> = (0..(n_jobs + n_techs) as u32).collect();
    fn find(p: &mut [u32], mut x: u32) -> u32 {
        while p[x as usize] != x {
            p[x as usize] = p[p[x as usize] as usize];
            x = p[x as usize];
        }
        x
    }
    for e in edges {
        let (a, b) = (
            find(&mut parent, e.job),
            find(&mut parent, n_jobs as u32 + e.tech),
        );
        if a != b {
            parent[a as usize] = b;
        }
    }
    // Group edges by component root (counting sort).
    let roots: Vec<u32> = edges.iter().map(|e| find(&mut parent, e.job)).collect();
    let mut start = vec![0u32; n_jobs + n_techs + 1];
    for &r in &roots {
        start[r as usize + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut order = vec![0u32; edges.len()];
    let mut fill = start.clone();
    for (k, &r) in roots.iter().enumerate() {
        order[fill[r as usize] as usize] = k as u32;
        fill[r as usize] += 1;
    }
    let mut chosen = vec![None; n_jobs];
    let mut flow = Flow::default();
    for r in 0..n_jobs + n_techs {
        let (a, b) = (start[r] as usize, start[r + 1] as usize);
        if a < b {
            flow.solve_component(&order[a..b], edges, capacities, &mut chosen);
        }
    }
    chosen
}

/// Reusable buffers for one component's min-cost flow.
#[derive(Default)]
struct Flow {
    // Local node ids: 0 = source, 1 = sink, then jobs, then technicians.
    local_of: std::collections::HashMap<(bool, u32), u32>,
    global_job: Vec<u32>,
    // Arcs (with their reverse at index ^ 1), grouped per node in CSR form.
    to: Vec<u32>,
    cap: Vec<u32>,
    cost: Vec<i64>,
    edge_of: Vec<u32>,
    adj_start: Vec<u32>,
    adj: Vec<u32>,
    pot: Vec<i64>,
    dist: Vec<i64>,
    prev_arc: Vec<u32>,
    done: Vec<bool>,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
}

const NONE: u32 = u32::MAX;

impl Flow {
    fn add_arc(
        &mut self,
        from: u32,
        to: u32,
        cap: u32,
        cost: i64,
        edge: u32,
        tails: &mut Vec<u32>,
    ) {
        for (f, t, c, w) in [(from, to, cap, cost), (to, from, 0, -cost)] {
            tails.push(f);
            self.to.push(t);
            self.cap.push(c);
            self.cost.push(w);
            self.edge_of.push(edge);
        }
    }

    fn solve_component(
        &mut self,
        ks: &[u32],
        edges: &[Edge],
        caps: &[u32],
        chosen: &mut [Option<usize>],
    ) {
        self.local_of.clear();
        self.global_job.clear();
        self.to.clear();
        self.cap.clear();
        self.cost.clear();
        self.edge_of.clear();
        let mut tails = Vec::with_capacity(ks.len() * 2 + 64);
        let mut n: u32 = 2;
        let mut pending = Vec::new();
        for &k in ks {
            let e = edges[k as usize];
            let mut node =
                |is_tech: bool, g: u32, this: &mut Self, pending: &mut Vec<(bool, u32, u32)>| {
                    *this.local_of.entry((is_tech, g)).or_insert_with(|| {
                        let id = n;
                        n += 1;
                        pending.push((is_tech, g, id));
                        id
                    })
                };
            let j = node(false, e.job, self, &mut pending);
            let t = node(true, e.tech, self, &mut pending);
            self.add_arc(j, t, 1, e.cost_m, k, &mut tails);
        }
        for &(is_tech, g, id) in &pending {
            if is_tech {
                self.add_arc(id, 1, caps[g as usize], 0, NONE, &mut tails);
            } else {
                self.add_arc(0, id, 1, 0, NONE, &mut tails);
            }
        }
        let nodes = n as usize;
        // CSR adjacency by tail.
        self.adj_start.clear();
        self.adj_start.resize(nodes + 1, 0);
        for &t in &tails {
            self.adj_start[t as usize + 1] += 1;
        }
        for i in 1..=nodes {
            self.adj_start[i] += self.adj_start[i - 1];
        }
        self.adj.clear();
        self.adj.resize(tails.len(), 0);
        let mut fill = self.adj_start.clone();
        for (a, &t) in tails.iter().enumerate() {
            self.adj[fill[t as usize] as usize] = a as u32;
            fill[t as usize] += 1;
        }
        self.pot.clear();
        self.pot.resize(nodes, 0);
        self.dist.resize(nodes, 0);
        self.prev_arc.resize(nodes, NONE);
        self.done.resize(nodes, false);
        let flow_bound: u32 = pending.iter().filter(|p| !p.0).count() as u32;
        let mut flow = 0;
        while flow < flow_bound && self.augment(nodes) {
            flow += 1;
        }
        // Read the job -> technician arcs carrying flow.
        for a in (0..self.to.len()).step_by(2) {
            let k = self.edge_of[a];
            if k != NONE && self.cap[a] == 0 {
                chosen[edges[k as usize].job as usize] = Some(k as usize);
            }
        }
    }

    /// One shortest augmenting path source -> sink; false when none exists.
    fn augment(&mut self, nodes: usize) -> bool {
        const INF: i64 = i64::MAX / 4;
        self.dist[..nodes].fill(INF);
        self.prev_arc[..nodes].fill(NONE);
        self.done[..nodes].fill(false);
        self.heap.clear();
        self.dist[0] = 0;
        self.heap.push(Reverse((0, 0)));
        let mut reached = None;
        while let Some(Reverse((d, u))) = self.heap.pop() {
            let u = u as usize;
            if self.done[u] {
                continue;
            }
            self.done[u] = true;
            if u == 1 {
                reached = Some(d);
                break;
            }
            let pu = self.pot[u];
            for i in self.adj_start[u]..self.adj_start[u + 1] {
                let a = self.adj[i as usize] as usize;
                if self.cap[a] == 0 {
                    continue;
                }
                let v = self.to[a] as usize;
                let nd = d + self.cost[a] + pu - self.pot[v];
                if nd < self.dist[v] {
                    self.dist[v] = nd;
                    self.prev_arc[v] = a as u32;
                    self.heap.push(Reverse((nd, v as u32)));
                }
            }
        }
        let Some(d_sink) = reached else {
            return false;
        };
        // Settled nodes move by their distance, the rest by the sink's: this
        // keeps every residual reduced cost non-negative.
        for v in 0..nodes {
            self.pot[v] += if self.done[v] { self.dist[v] } else { d_sink };
        }
        let mut v = 1usize;
        while v != 0 {
            let a = self.prev_arc[v] as usize;
            self.cap[a] -= 1;
            self.cap[a ^ 1] += 1;
            v = self.to[a ^ 1] as usize;
        }
        true
    }
}

/// Random instances for tests, benchmarks and the OR-Tools comparison:
/// deterministic for a seed.
#[allow(
    clippy::expect_used,
    reason = "instance generator for tests and benchmarks; its points are in range by construction"
)]
pub mod instances {
    use super::{BTreeSet, JobId, LatLon, OptJob, OptTech, Product, TechnicianId, EARTH_RADIUS_M};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Layout {
        /// Uniform over mainland China's bounding box (lat 18-53, lon 73-135).
        UniformChina,
        /// Around 30 large cities; jobs within ~25 km, stations within ~15 km.
        Clustered,
    }

    const CITIES: [(f64, f64); 30] = [
        (39.90, 116.40),
        (31.23, 121.47),
        (23.13, 113.26),
        (22.54, 114.06),
        (30.57, 104.07),
        (29.56, 106.55),
        (30.59, 114.31),
        (34.34, 108.94),
        (32.06, 118.80),
        (30.27, 120.16),
        (39.34, 117.36),
        (36.07, 120.38),
        (38.04, 114.51),
        (34.75, 113.63),
        (28.23, 112.94),
        (25.04, 102.71),
        (26.65, 106.63),
        (22.82, 108.37),
        (26.07, 119.30),
        (28.68, 115.86),
        (31.82, 117.23),
        (36.65, 117.12),
        (41.80, 123.43),
        (43.82, 125.32),
        (45.80, 126.53),
        (37.87, 112.55),
        (40.84, 111.75),
        (36.06, 103.83),
        (43.83, 87.62),
        (20.04, 110.35),
    ];

    /// Offsets a point by a Gaussian-ish (sum of uniforms) distance in metres.
    fn jitter(rng: &mut ChaCha8Rng, lat: f64, lon: f64, sigma_m: f64) -> LatLon {
        let g = |rng: &mut ChaCha8Rng| (0..4).map(|_| rng.gen::<f64>() - 0.5).sum::<f64>() * 1.732;
        let dn = g(rng) * sigma_m;
        let de = g(rng) * sigma_m;
        let dlat = (dn / EARTH_RADIUS_M).to_degrees();
        let dlon = (de / (EARTH_RADIUS_M * lat.to_radians().cos())).to_degrees();
        LatLon::new(
            (lat + dlat).clamp(-90.0, 90.0),
            (lon + dlon).clamp(-180.0, 180.0),
        )
        .expect("in range")
    }

    /// `capacity` None draws 1..=4 per technician.
    pub fn random(
        seed: u64,
        n_jobs: usize,
        n_techs: usize,
        capacity: Option<u32>,
        layout: Layout,
    ) -> (Vec<OptJob>, Vec<OptTech>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let point = |rng: &mut ChaCha8Rng, sigma: f64| match layout {
            Layout::UniformChina => {
                LatLon::new(rng.gen_range(18.0..53.0), rng.gen_range(73.0..135.0))
                    .expect("in range")
            }
            Layout::Clustered => {
                let (lat, lon) = CITIES[rng.gen_range(0..CITIES.len())];
                jitter(rng, lat, lon, sigma)
            }
        };
        let techs = (0..n_techs)
            .map(|i| {
                let p = point(&mut rng, 15_000.0);
                let mut skills = BTreeSet::new();
                while skills.len() < 3 {
                    skills.insert(Product::ALL[rng.gen_range(0..Product::ALL.len())]);
                }
                OptTech {
                    id: TechnicianId::new(i as i64 + 1).expect("positive"),
                    point: p,
                    radius_m: f64::from(rng.gen_range(30..=80)) * 1000.0,
                    skills,
                    on_duty: rng.gen_bool(0.9),
                    capacity: capacity.unwrap_or_else(|| rng.gen_range(1..=4)),
                }
            })
            .collect();
        let jobs = (0..n_jobs)
            .map(|i| OptJob {
                id: JobId(i as i64 + 1),
                point: point(&mut rng, 25_000.0),
                product: Product::ALL[rng.gen_range(0..Product::ALL.len())],
            })
            .collect();
        (jobs, techs)
    }
}

#[cfg(test)]
mod tests {
    use super::instances::{random, Layout};
    use super::*;

    /// Lexicographic optimum (most assigned, then least cost) by enumeration.
    fn brute(n_jobs: usize, caps: &[u32], edges: &[Edge]) -> (usize, i64) {
        fn go(
            j: usize,
            n: usize,
            left: &mut Vec<u32>,
            by_job: &[Vec<Edge>],
            acc: (usize, i64),
            best: &mut (usize, i64),
        ) {
            if j == n {
                if acc.0 > best.0 || (acc.0 == best.0 && acc.1 < best.1) {
                    *best = acc;
                }
                return;
            }
            go(j + 1, n, left, by_job, acc, best);
            for e in &by_job[j] {
                if left[e.tech as usize] > 0 {
                    left[e.tech as usize] -= 1;
                    go(j + 1, n, left, by_job, (acc.0 + 1, acc.1 + e.cost_m), best);
                    left[e.tech as usize] += 1;
                }
            }
        }
        let mut by_job = vec![Vec::new(); n_jobs];
        for e in edges {
            by_job[e.job as usize].push(*e);
        }
        let mut best = (0, 0);
        go(0, n_jobs, &mut caps.to_vec(), &by_job, (0, 0), &mut best);
        best
    }

    #[test]
    fn matches_brute_force_on_random_small_instances() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut strictly_better_than_greedy = 0;
        for case in 0..400 {
            let n_jobs = rng.gen_range(1..=8);
            let n_techs = rng.gen_range(1..=4);
            let caps: Vec<u32> = (0..n_techs).map(|_| rng.gen_range(0..=3)).collect();
            let mut edges = Vec::new();
            for j in 0..n_jobs {
                for t in 0..n_techs {
                    if rng.gen_bool(0.6) {
                        edges.push(Edge {
                            job: j as u32,
                            tech: t as u32,
                            cost_m: rng.gen_range(0..50),
                        });
                    }
                }
            }
            let chosen = solve(n_jobs, &caps, &edges);
            // Feasible: each chosen edge is the job's, capacities respected.
            let mut used = vec![0u32; n_techs];
            let mut cost = 0;
            for (j, c) in chosen.iter().enumerate() {
                if let Some(k) = c {
                    assert_eq!(edges[*k].job as usize, j);
                    used[edges[*k].tech as usize] += 1;
                    cost += edges[*k].cost_m;
                }
            }
            assert!(used.iter().zip(&caps).all(|(u, c)| u <= c), "case {case}");
            let got = (chosen.iter().flatten().count(), cost);
            assert_eq!(
                got,
                brute(n_jobs, &caps, &edges),
                "case {case}: {caps:?} {edges:?}"
            );
            // Greedy on the same edges, to show the optimiser matters.
            let mut sorted: Vec<usize> = (0..edges.len()).collect();
            sorted.sort_by_key(|&k| (edges[k].cost_m, k));
            let (mut left, mut done, mut g) = (caps.clone(), vec![false; n_jobs], (0usize, 0i64));
            for k in sorted {
                let e = edges[k];
                if !done[e.job as usize] && left[e.tech as usize] > 0 {
                    left[e.tech as usize] -= 1;
                    done[e.job as usize] = true;
                    g = (g.0 + 1, g.1 + e.cost_m);
                }
            }
            assert!(g.0 <= got.0 && (g.0 < got.0 || g.1 >= got.1));
            if g != got {
                strictly_better_than_greedy += 1;
            }
        }
        assert!(
            strictly_better_than_greedy > 10,
            "{strictly_better_than_greedy}"
        );
    }

    #[test]
    fn prefers_assigning_more_jobs_over_saving_distance() {
        // Job A can use T1 (1 km) or T2 (50 km); job B only T1 (40 km). Greedy
        // gives T1 to A and drops B; the optimum assigns both.
        let p = |lat: f64| LatLon::new(lat, 116.0).unwrap();
        let tech = |id, lat, r: f64| OptTech {
            id: TechnicianId::new(id).unwrap(),
            point: p(lat),
            radius_m: r,
            skills: [Product::Notebook].into(),
            on_duty: true,
            capacity: 1,
        };
        let m = 1.0 / 111.195; // degrees per km of latitude
        let techs = vec![tech(1, 30.0, 60_000.0), tech(2, 30.0 + 51.0 * m, 60_000.0)];
        let jobs = vec![
            OptJob {
                id: JobId(10),
                point: p(30.0 + 1.0 * m),
                product: Product::Notebook,
            },
            OptJob {
                id: JobId(11),
                point: p(30.0 - 40.0 * m),
                product: Product::Notebook,
            },
            OptJob {
                id: JobId(12),
                point: p(30.0),
                product: Product::Printer,
            },
        ];
        let opt = optimize(&jobs, &techs);
        assert_eq!(opt.assignments.len(), 2);
        assert!(
            (opt.total_distance_m - 90_000).abs() < 50,
            "{}",
            opt.total_distance_m
        );
        assert_eq!(
            opt.unassigned,
            [Unassigned {
                job_id: JobId(12),
                reason: UnassignedReason::NoFeasibleTechnician
            }]
        );
        let greedy = greedy_nearest_first(&jobs, &techs);
        assert_eq!(greedy.assignments.len(), 1);
        assert_eq!(
            greedy.unassigned[0].reason,
            UnassignedReason::CapacityExhausted
        );
    }

    #[test]
    fn feasibility_filters_skill_duty_radius_capacity() {
        let (jobs, mut techs) = random(3, 300, 120, None, Layout::Clustered);
        techs[0].capacity = 0;
        let edges = feasible_edges(&jobs, &techs);
        // Brute-force feasibility agrees with the prefiltered edge list.
        let mut want = Vec::new();
        for (j, job) in jobs.iter().enumerate() {
            for (t, tech) in techs.iter().enumerate() {
                let d = tech.point.haversine_m(job.point);
                if tech.on_duty
                    && tech.capacity > 0
                    && tech.skills.contains(&job.product)
                    && d <= tech.radius_m
                {
                    want.push((j as u32, t as u32, d.round() as i64));
                }
            }
        }
        let mut got: Vec<_> = edges.iter().map(|e| (e.job, e.tech, e.cost_m)).collect();
        got.sort_unstable();
        want.sort_unstable();
        assert!(!want.is_empty());
        assert_eq!(got, want);
    }

    #[test]
    fn never_worse_than_greedy_on_city_instances() {
        for seed in 0..5 {
            let (jobs, techs) = random(seed, 400, 80, None, Layout::Clustered);
            let opt = optimize(&jobs, &techs);
            let greedy = greedy_nearest_first(&jobs, &techs);
            assert!(opt.assignments.len() >= greedy.assignments.len());
            if opt.assignments.len() == greedy.assignments.len() {
                assert!(opt.total_distance_m <= greedy.total_distance_m);
            }
            // Capacity respected.
            for t in &techs {
                let n = opt
                    .assignments
                    .iter()
                    .filter(|a| a.technician_id == t.id)
                    .count();
                assert!(n as u32 <= t.capacity);
            }
            assert_eq!(opt.assignments.len() + opt.unassigned.len(), jobs.len());
        }
    }
}
