#!/usr/bin/env python3
"""Runs cpca 0.5.5 over data/geocode-eval.csv: accuracy per form and
throughput (addresses per second, one process), for comparison with the
Rust geocoder (tests/geocode_eval.rs, benches/geocode.rs).

Setup: python3 -m venv .venv && .venv/bin/pip install cpca==0.5.5
Run:   .venv/bin/python scripts/cpca_compare.py [--repeat N]

cpca returns one division per address and no ambiguity flag, so an
ambiguous row counts as correct when cpca's adcode is one of the expected
alternatives (a lenient reading in cpca's favour).
"""

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

import cpca

EVAL = Path(__file__).resolve().parent.parent / "data" / "geocode-eval.csv"
SPOKEN_FORMS = {"short", "spoken"}


def load():
    with EVAL.open(encoding="utf-8") as f:
        return [
            (r["query"], set(r["expected_adcode"].split("|")), r["form"])
            for r in csv.DictReader(f)
        ]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5, help="timing passes over the list")
    args = ap.parse_args()
    rows = load()
    queries = [q for q, _, _ in rows]

    cpca.transform(queries[:5])  # load cpca's dictionaries before timing
    df = cpca.transform(queries)
    got = [str(a) if a is not None else "" for a in df["adcode"]]

    per_form = defaultdict(lambda: [0, 0])
    for (q, expected, form), adcode in zip(rows, got):
        ok = adcode[:6] in expected
        per_form[form][0] += ok
        per_form[form][1] += 1
    total_ok = sum(v[0] for v in per_form.values())
    print(f"{'form':<15} correct / total")
    for form in sorted(per_form):
        ok, n = per_form[form]
        print(f"{form:<15} {ok:>4} / {n:<4} {100 * ok / n:5.1f} %")
    print(f"{'overall':<15} {total_ok:>4} / {len(rows):<4} {100 * total_ok / len(rows):5.1f} %")
    sp_ok = sum(per_form[f][0] for f in SPOKEN_FORMS)
    sp_n = sum(per_form[f][1] for f in SPOKEN_FORMS)
    print(f"{'short+spoken':<15} {sp_ok:>4} / {sp_n:<4} {100 * sp_ok / sp_n:5.1f} %")

    # Throughput: one call per address, as a live API would make it, and
    # one batched call over the whole list (cpca's own preferred use).
    start = time.perf_counter()
    for _ in range(args.repeat):
        for q in queries:
            cpca.transform([q])
    single = args.repeat * len(queries) / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(args.repeat):
        cpca.transform(queries)
    batch = args.repeat * len(queries) / (time.perf_counter() - start)
    print(f"throughput one-by-one: {single:,.0f} addresses/s")
    print(f"throughput batched:    {batch:,.0f} addresses/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
