#!/usr/bin/env python3
"""Checks the batch optimiser against OR-Tools on the same instances.

The Rust benchmark writes the instances (technician capacities and the
feasible job-technician edges in integer metres) together with its own
result and timings:

    REPAIRNET_OPT_INSTANCES=/tmp/repairnet-opt cargo bench --bench optimize
    pip install ortools
    python3 scripts/ortools_compare.py /tmp/repairnet-opt

For each instance this builds source -> job (cap 1), job -> technician
(cap 1, cost metres), technician -> sink (cap = capacity), solves it with
SimpleMinCostFlow.solve_max_flow_with_min_cost (maximum flow first, then
minimum cost: the same objective as the Rust solver), and compares the
assigned count and total metres exactly. Exit status 1 on any mismatch.
"""

import glob
import json
import os
import statistics
import sys
import time

import numpy as np
from ortools.graph.python import min_cost_flow


def solve(inst):
    n_jobs, n_techs = inst["n_jobs"], inst["n_techs"]
    source, sink = n_jobs + n_techs, n_jobs + n_techs + 1
    edges = np.array(inst["edges"], dtype=np.int64).reshape(-1, 3)
    caps = np.array(inst["capacities"], dtype=np.int64)
    jobs = np.arange(n_jobs, dtype=np.int64)
    techs = np.arange(n_techs, dtype=np.int64)
    tails = np.concatenate([np.full(n_jobs, source), edges[:, 0], n_jobs + techs])
    heads = np.concatenate([jobs, n_jobs + edges[:, 1], np.full(n_techs, sink)])
    capacity = np.concatenate([np.ones(n_jobs + len(edges), dtype=np.int64), caps])
    cost = np.concatenate([np.zeros(n_jobs, dtype=np.int64), edges[:, 2], np.zeros(n_techs, dtype=np.int64)])

    t0 = time.perf_counter()
    mcf = min_cost_flow.SimpleMinCostFlow()
    mcf.add_arcs_with_capacity_and_unit_cost(tails, heads, capacity, cost)
    # Max-flow mode still needs the source and sink marked by supply sign.
    mcf.set_node_supply(source, n_jobs)
    mcf.set_node_supply(sink, -n_jobs)
    t1 = time.perf_counter()
    status = mcf.solve_max_flow_with_min_cost()
    t2 = time.perf_counter()
    if status != mcf.OPTIMAL:
        raise RuntimeError(f"{inst['name']}: OR-Tools status {status}")
    return mcf.maximum_flow(), mcf.optimal_cost(), (t1 - t0) * 1e3, (t2 - t1) * 1e3


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "/tmp/repairnet-opt"
    files = sorted(glob.glob(os.path.join(folder, "*.json")))
    if not files:
        sys.exit(f"no instances in {folder}; run the Rust benchmark with REPAIRNET_OPT_INSTANCES first")
    ok = True
    print(f"{'instance':<26} {'edges':>6} {'assigned':>8} {'optimal m':>12} {'greedy m (n)':>20} "
          f"{'rust ms':>8} {'or-tools ms':>11} {'build ms':>8} {'speed-up':>8}  match")
    for path in files:
        with open(path) as f:
            inst = json.load(f)
        runs = [solve(inst) for _ in range(7)]
        flow, cost = runs[0][0], runs[0][1]
        build_ms = statistics.median(r[2] for r in runs)
        solve_ms = statistics.median(r[3] for r in runs)
        rust = inst["rust"]
        same = flow == rust["assigned"] and cost == rust["cost_m"]
        ok &= same
        greedy = f"{rust['greedy_cost_m']} ({rust['greedy_assigned']})"
        print(f"{inst['name']:<26} {len(inst['edges']):>6} {flow:>8} {cost:>12} {greedy:>20} "
              f"{rust['solve_ms']:>8.3f} {solve_ms:>11.3f} {build_ms:>8.3f} "
              f"{solve_ms / max(rust['solve_ms'], 1e-9):>7.1f}x  {'yes' if same else 'NO: rust ' + str((rust['assigned'], rust['cost_m']))}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
