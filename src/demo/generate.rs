//! The demo network generator: a deterministic, invented station directory
//! and technician roster shaped like the reference network of a national PC
//! brand. Stations sit near real division centres from the gazetteer; names,
//! addresses, phone numbers and people are made up, drawn from the tables in
//! `data/demo/tables/`. The same seed always gives the same network, byte for
//! byte, so `data/demo/` can be regenerated and checked against the generator.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::tables::{TableError, Tables};
use crate::basic::{Adcode, FieldError, LatLon};
use crate::dispatch::{Technician, TechnicianId};
use crate::network::model::{Product, Service, Station, StationDraft, StationId};
use crate::network::{export, import};
use crate::places::{Division, Gazetteer, Level, Region};

/// The seed the committed `data/demo/` files were generated with.
pub const DEFAULT_SEED: u64 = 2260;

/// Station count the generator aims for (all seeds give exactly this many
/// when the gazetteer has enough divisions).
const TARGET_STATIONS: usize = 540;
/// Stations offering on-site repair.
const TARGET_ONSITE: usize = 300;
/// Upper bound of the offset from a division centre.
const MAX_JITTER_KM: f64 = 3.0;
/// Lower bound, so a station never sits exactly on a division centre.
const MIN_JITTER_KM: f64 = 0.2;

pub const STATIONS_FILE: &str = "stations.csv";
pub const TECHNICIANS_FILE: &str = "technicians.csv";

/// Header of `stations.csv`, the same columns the importer reads.
pub const STATION_COLUMNS: [&str; 16] = import::CSV_COLUMNS;

/// Header of `technicians.csv`, the columns a `TechnicianDraft` reads.
pub const TECHNICIAN_COLUMNS: [&str; 6] = [
    "id",
    "station_id",
    "name",
    "skills",
    "daily_capacity",
    "on_duty",
];

/// The generated network: stations in id order of generation (adcode
/// order), technicians grouped by station.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoNetwork {
    pub seed: u64,
    pub stations: Vec<Station>,
    pub technicians: Vec<Technician>,
}

/// Why the generator could not build a network. Apart from broken tables
/// these mean the generator itself is wrong: it should only ever build
/// values that validate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("division {0} has no centre to place a station at")]
    NoCentre(Adcode),
    #[error("station {0} repairs nothing, so it can have no technician")]
    NoProducts(StationId),
    #[error("built an invalid point near division {adcode}: {error}")]
    InvalidPoint { adcode: Adcode, error: FieldError },
    #[error("built an invalid station {id}: {errors:?}")]
    InvalidStation { id: String, errors: Vec<FieldError> },
    #[error("built an invalid technician id: {0}")]
    InvalidTechnician(FieldError),
    #[error("demo table {0} has no rows")]
    EmptyTable(&'static str),
}

/// A prefecture-level city and the places in it where stations can go.
struct City<'g> {
    /// Province adcode for municipalities, prefecture adcode otherwise.
    key: Adcode,
    province: String,
    name: String,
    short_name: String,
    /// Districts and counties with a centre, in adcode order; the city
    /// itself when it has none (e.g. 东莞, whose towns are not divisions).
    sites: Vec<&'g Division>,
    /// Index into `sites` of the seat: the site nearest the city centre.
    seat: usize,
    /// Stations wanted from the big-city table, if listed there.
    big: Option<usize>,
}

/// One planned station before it gets its details.
struct Slot<'c, 'g> {
    city: &'c City<'g>,
    site: &'g Division,
    /// First station of its city (the city's service centre).
    main: bool,
}

fn is_municipality(province_code: u32) -> bool {
    matches!(province_code, 11 | 12 | 31 | 50)
}

/// `市辖区`, `县` and the `省直辖县级行政区划` groupings are codes, not cities.
fn is_placeholder(d: &Division) -> bool {
    d.name == "市辖区" || d.name == "县" || d.name.contains("直辖")
}

fn city_key(a: Adcode) -> Adcode {
    if is_municipality(a.province_code()) {
        a.province()
    } else {
        a.prefecture()
    }
}

/// Short form for station names: `四川省` -> `四川`, `涪城区` -> `涪城`.
fn short(d: &Division) -> String {
    if d.short_name.trim().is_empty() {
        d.name.clone()
    } else {
        d.short_name.clone()
    }
}

/// The cities of the mainland with at least one site, in adcode order.
fn cities<'g>(gaz: &'g Gazetteer, t: &Tables) -> Vec<City<'g>> {
    let mut divisions: Vec<&Division> = gaz.divisions().collect();
    divisions.sort_by_key(|d| d.adcode);

    let mut heads: BTreeMap<Adcode, &Division> = BTreeMap::new();
    let mut sites: BTreeMap<Adcode, Vec<&Division>> = BTreeMap::new();
    for d in &divisions {
        let a = d.adcode;
        if Region::of_adcode(a).is_none() || is_placeholder(d) {
            continue;
        }
        let muni = is_municipality(a.province_code());
        match d.level {
            Level::Province if muni => {
                heads.insert(a, d);
            }
            // Only true prefectures: county-level cities directly under a
            // province (仙桃, 济源, 石河子…) are not prefecture-level.
            Level::City if !muni && a.prefecture() == a => {
                heads.insert(a, d);
            }
            Level::District if d.location.is_some() => {
                sites.entry(city_key(a)).or_default().push(d);
            }
            _ => {}
        }
    }

    let mut out = Vec::new();
    for (key, head) in heads {
        if t.excluded_cities.contains(&key) {
            continue;
        }
        let Some(centre) = head
            .location
            .or_else(|| sites.get(&key).and_then(|s| s.first()?.location))
        else {
            continue;
        };
        let mut city_sites = sites.remove(&key).unwrap_or_default();
        if city_sites.is_empty() {
            city_sites.push(head);
        }
        let seat = city_sites
            .iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| {
                let da = centre.haversine_m(a.location.unwrap_or(centre));
                let db = centre.haversine_m(b.location.unwrap_or(centre));
                da.total_cmp(&db)
            })
            .map_or(0, |(i, _)| i);
        out.push(City {
            key,
            province: head.province.clone(),
            name: head.name.clone(),
            short_name: short(head),
            sites: city_sites,
            seat,
            big: t
                .big_cities
                .iter()
                .find(|b| b.city == key)
                .map(|b| b.stations),
        });
    }
    out
}

/// Weighted sampling without replacement (Efraimidis–Spirakis): the `k`
/// items with the largest `u^(1/w)`, returned as a set of indices.
fn weighted_sample(rng: &mut ChaCha8Rng, weights: &[f64], k: usize) -> BTreeSet<usize> {
    let mut keyed: Vec<(f64, usize)> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let u: f64 = rng.gen_range(f64::EPSILON..1.0);
            (u.powf(1.0 / w.max(f64::EPSILON)), i)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    keyed.into_iter().take(k).map(|(_, i)| i).collect()
}

fn is_urban(d: &Division) -> bool {
    d.name.ends_with('区')
}

/// How many stations each city gets: the big-city table, one elsewhere,
/// then second stations for cities with several urban districts until the
/// network reaches its target size.
fn station_counts(rng: &mut ChaCha8Rng, cities: &[City<'_>]) -> Vec<usize> {
    let mut counts: Vec<usize> = cities
        .iter()
        .map(|c| c.big.unwrap_or(1).min(c.sites.len()))
        .collect();
    let planned: usize = counts.iter().sum();
    let extra = TARGET_STATIONS.saturating_sub(planned);
    let weights: Vec<f64> = cities
        .iter()
        .map(|c| {
            if c.big.is_some() || c.sites.len() < 2 {
                0.0
            } else {
                1.0 + c.sites.iter().filter(|d| is_urban(d)).count() as f64
            }
        })
        .collect();
    let eligible = weights.iter().filter(|w| **w > 0.0).count();
    for i in weighted_sample(rng, &weights, extra.min(eligible)) {
        counts[i] += 1;
    }
    counts
}

/// Which sites of a city get its `n` stations: the seat first, then other
/// sites, urban districts before counties.
fn pick_sites<'g>(rng: &mut ChaCha8Rng, city: &City<'g>, n: usize) -> Vec<&'g Division> {
    let mut rest: Vec<&Division> = city
        .sites
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != city.seat)
        .map(|(_, d)| *d)
        .collect();
    // Urban districts near the seat first; the pick among the nearest
    // candidates is random so the spread differs from city to city.
    let seat = city.sites[city.seat].location;
    let away = |d: &Division| match (seat, d.location) {
        (Some(a), Some(b)) => a.haversine_m(b),
        _ => f64::INFINITY,
    };
    rest.sort_by(|a, b| {
        is_urban(b)
            .cmp(&is_urban(a))
            .then(away(a).total_cmp(&away(b)))
            .then(a.adcode.cmp(&b.adcode))
    });
    let wanted = n.saturating_sub(1);
    rest.truncate(wanted * 2);
    rest.shuffle(rng);
    let mut chosen = vec![city.sites[city.seat]];
    chosen.extend(rest.into_iter().take(wanted));
    chosen.sort_by_key(|d| d.adcode);
    chosen
}

/// A point `MIN_JITTER_KM..MAX_JITTER_KM` from `p` in a random direction,
/// rounded to the 6 decimals the CSV keeps.
fn jitter(rng: &mut ChaCha8Rng, p: LatLon) -> Result<LatLon, FieldError> {
    let bearing = rng.gen_range(0.0..std::f64::consts::TAU);
    let km = rng.gen_range(MIN_JITTER_KM..MAX_JITTER_KM);
    let dlat = km * bearing.cos() / 111.195;
    let dlon = km * bearing.sin() / (111.195 * p.lat.to_radians().cos());
    let round = |v: f64| (v * 1e6).round() / 1e6;
    LatLon::new(round(p.lat + dlat), round(p.lon + dlon))
}

fn phone(rng: &mut ChaCha8Rng, t: &Tables, key: Adcode) -> String {
    let code4 = key.value() / 100;
    let code2 = key.province_code();
    let area = t
        .area_codes
        .iter()
        .find(|a| a.prefix == code4 || a.prefix == code2)
        .map(|a| a.area_code.as_str());
    match area {
        // Some stations publish the brand's national service line.
        _ if rng.gen_bool(0.06) => format!(
            "400-{}{:02}-{:04}",
            rng.gen_range(6..=9),
            rng.gen_range(0..100),
            rng.gen_range(0..10_000)
        ),
        // Three-digit area codes go with eight-digit local numbers.
        Some(a) if a.len() == 3 => format!(
            "{a}-{}{:07}",
            rng.gen_range(5..=8),
            rng.gen_range(0..10_000_000)
        ),
        Some(a) => format!(
            "{a}-{}{:06}",
            rng.gen_range(2..=8),
            rng.gen_range(0..1_000_000)
        ),
        None => format!(
            "1{}{}{:08}",
            ["3", "5", "8"][rng.gen_range(0..3)],
            rng.gen_range(0..10),
            rng.gen_range(0..100_000_000)
        ),
    }
}

fn address(
    rng: &mut ChaCha8Rng,
    t: &Tables,
    city: &City<'_>,
    site: &Division,
) -> Result<String, GenerateError> {
    let stem = pick(rng, &t.road_stems, "road_stems")?;
    let suffix = pick(rng, &t.road_suffixes, "road_suffixes")?;
    let number = rng.gen_range(1..=399);
    let district = if site.adcode == city.key {
        ""
    } else {
        site.name.as_str()
    };
    Ok(format!("{}{district}{stem}{suffix}{number}号", city.name))
}

fn products(rng: &mut ChaCha8Rng, big_main: bool) -> BTreeSet<Product> {
    let mut out = BTreeSet::from([Product::Notebook]);
    let server = if big_main { 0.5 } else { 0.08 };
    for (p, chance) in [
        (Product::Desktop, 0.85),
        (Product::Monitor, 0.8),
        (Product::AllInOne, 0.5),
        (Product::Tablet, 0.4),
        (Product::Printer, 0.3),
        (Product::Server, server),
    ] {
        if rng.gen_bool(chance) {
            out.insert(p);
        }
    }
    out
}

/// An item of a table, uniformly. The tables are checked non-empty when
/// parsed, so the error only guards against that check going missing.
fn pick<'t>(
    rng: &mut ChaCha8Rng,
    items: &'t [String],
    table: &'static str,
) -> Result<&'t str, GenerateError> {
    items
        .choose(rng)
        .map(String::as_str)
        .ok_or(GenerateError::EmptyTable(table))
}

/// An opening-hours rule, by weight (the table is checked to have a
/// positive total that fits a `u32`, so the range is never empty).
fn opening_hours<'t>(rng: &mut ChaCha8Rng, t: &'t Tables) -> Result<&'t str, GenerateError> {
    let total: u32 = t.opening_hours.iter().map(|h| h.weight).sum();
    let mut pick = rng.gen_range(0..total);
    for h in &t.opening_hours {
        if pick < h.weight {
            return Ok(&h.opening_hours);
        }
        pick -= h.weight;
    }
    t.opening_hours
        .first()
        .map(|h| h.opening_hours.as_str())
        .ok_or(GenerateError::EmptyTable("opening_hours"))
}

/// On-site radius: 20–50 km in compact cities; in sprawling prefectures
/// (sites far apart) it grows with the spread, up to 120 km.
fn onsite_radius(rng: &mut ChaCha8Rng, city: &City<'_>, at: LatLon) -> f64 {
    let spread_km = city
        .sites
        .iter()
        .filter_map(|d| d.location)
        .map(|p| at.haversine_m(p) / 1000.0)
        .fold(0.0, f64::max);
    let urban = 5.0 * f64::from(rng.gen_range(4..=10u8));
    if city.big.is_some() || spread_km <= 100.0 {
        urban
    } else {
        (5.0 * (spread_km * 0.5 / 5.0).round()).clamp(55.0, 120.0)
    }
}

/// The technicians of an on-site station, numbered on from `next_id`.
fn technicians(
    rng: &mut ChaCha8Rng,
    t: &Tables,
    station: &Station,
    big: bool,
    next_id: &mut usize,
) -> Result<Vec<Technician>, GenerateError> {
    // Drawn as `i32`, as the committed files were: another integer type
    // would draw other numbers from the same seed.
    let n: i32 = if big {
        rng.gen_range(3..=6)
    } else {
        rng.gen_range(1..=4)
    };
    let offered: Vec<Product> = station.products.iter().copied().collect();
    let mut out = Vec::new();
    for _ in 0..n {
        let mut skills: BTreeSet<Product> = offered
            .iter()
            .copied()
            .filter(|p| {
                let chance = if *p == Product::Notebook { 0.92 } else { 0.5 };
                rng.gen_bool(chance)
            })
            .collect();
        if skills.is_empty() {
            let Some(p) = offered.choose(rng) else {
                return Err(GenerateError::NoProducts(station.id.clone()));
            };
            skills.insert(*p);
        }
        let surname = pick(rng, &t.surnames, "surnames")?;
        let given = pick(rng, &t.given_names, "given_names")?;
        *next_id += 1;
        let id = i64::try_from(*next_id)
            .map_err(|_| FieldError::new("id", "technician id out of range"))
            .and_then(TechnicianId::new)
            .map_err(GenerateError::InvalidTechnician)?;
        // A `u8` range for the same reason as `n`.
        let daily_capacity = u32::from(rng.gen_range(3..=8u8));
        out.push(Technician {
            id,
            station_id: station.id.clone(),
            name: format!("{surname}{given}"),
            skills,
            daily_capacity,
            on_duty: rng.gen_bool(0.9),
        });
    }
    Ok(out)
}

/// Generates the demo network from the gazetteer and the embedded tables.
/// Deterministic: the same gazetteer, tables and seed give the same network.
pub fn generate(gaz: &Gazetteer, seed: u64) -> Result<DemoNetwork, GenerateError> {
    let t = Tables::embedded()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cities = cities(gaz, t);
    let counts = station_counts(&mut rng, &cities);

    let mut slots: Vec<Slot<'_, '_>> = Vec::new();
    for (city, &n) in cities.iter().zip(&counts) {
        let seat = city.sites[city.seat].adcode;
        for site in pick_sites(&mut rng, city, n) {
            slots.push(Slot {
                city,
                site,
                main: site.adcode == seat,
            });
        }
    }

    // Every city's service centre is a strong candidate for on-site repair;
    // other stations less so.
    let weights: Vec<f64> = slots
        .iter()
        .map(|s| if s.main { 4.0 } else { 1.5 })
        .collect();
    let onsite = weighted_sample(&mut rng, &weights, TARGET_ONSITE.min(slots.len()));

    let mut letters: BTreeMap<Adcode, u8> = BTreeMap::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut stations = Vec::with_capacity(slots.len());
    let mut technicians_out = Vec::new();
    let mut next_tech = 0usize;
    for (i, slot) in slots.iter().enumerate() {
        let letter = letters.entry(slot.site.adcode).or_insert(b'A');
        let id = format!("S{}{}", slot.site.adcode, *letter as char);
        *letter += 1;
        let Some(centre) = slot.site.location else {
            return Err(GenerateError::NoCentre(slot.site.adcode));
        };
        let location = jitter(&mut rng, centre).map_err(|error| GenerateError::InvalidPoint {
            adcode: slot.site.adcode,
            error,
        })?;
        let big = slot.city.big.is_some();
        // 广安区 of 广安 gives 广安服务站, not 广安广安服务站.
        let place = match short(slot.site) {
            p if slot.site.adcode == slot.city.key || p == slot.city.short_name => String::new(),
            p => p,
        };
        let kind = if slot.main && big {
            "服务中心"
        } else {
            "服务站"
        };
        let mut name = format!("{}{place}{kind}", slot.city.short_name);
        // 伊宁市 and 伊宁县 share a short name; the full name tells them apart.
        if !names.insert(name.clone()) {
            name = format!("{}{}{kind}", slot.city.short_name, slot.site.name);
            names.insert(name.clone());
        }
        let is_onsite = onsite.contains(&i);
        let services = if is_onsite {
            vec![Service::Onsite, Service::CarryIn]
        } else {
            vec![Service::CarryIn]
        };
        let radius = is_onsite.then(|| onsite_radius(&mut rng, slot.city, centre));
        let draft = StationDraft {
            id,
            name,
            province: slot.city.province.clone(),
            city: slot.city.name.clone(),
            adcode: serde_json::Value::String(slot.site.adcode.to_string()),
            region: Region::of_adcode(slot.site.adcode).map(|r| r.code().to_owned()),
            // Fields are evaluated in order, and each draws from `rng`.
            address: address(&mut rng, t, slot.city, slot.site)?,
            phone: phone(&mut rng, t, slot.city.key),
            lat: location.lat,
            lon: location.lon,
            services: services.iter().map(ToString::to_string).collect(),
            products: products(&mut rng, big && slot.main)
                .iter()
                .map(ToString::to_string)
                .collect(),
            opening_hours: opening_hours(&mut rng, t)?.to_owned(),
            timezone: "Asia/Shanghai".to_owned(),
            onsite_radius_km: radius,
        };
        let draft_id = draft.id.clone();
        let station = Station::try_from(draft).map_err(|errors| GenerateError::InvalidStation {
            id: draft_id,
            errors,
        })?;
        if is_onsite {
            technicians_out.extend(technicians(&mut rng, t, &station, big, &mut next_tech)?);
        }
        stations.push(station);
    }

    Ok(DemoNetwork {
        seed,
        stations,
        technicians: technicians_out,
    })
}

/// Writes `stations.csv` (the importer's columns) to `out`.
pub fn write_stations<W: io::Write>(net: &DemoNetwork, mut out: W) -> io::Result<()> {
    let bytes =
        export::to_csv(&net.stations, crate::places::Crs::Wgs84).map_err(io::Error::other)?;
    out.write_all(&bytes)?;
    out.flush()
}

/// Writes `technicians.csv` to `out`.
pub fn write_technicians<W: io::Write>(net: &DemoNetwork, out: W) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(TECHNICIAN_COLUMNS)?;
    for t in &net.technicians {
        w.write_record([
            t.id.to_string(),
            t.station_id.to_string(),
            t.name.clone(),
            crate::basic::join_list(&t.skills),
            t.daily_capacity.to_string(),
            t.on_duty.to_string(),
        ])?;
    }
    w.flush()
}

/// Writes `stations.csv` and `technicians.csv` into `dir`, creating it.
pub fn write_csv(net: &DemoNetwork, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_stations(net, std::fs::File::create(dir.join(STATIONS_FILE))?)?;
    write_technicians(net, std::fs::File::create(dir.join(TECHNICIANS_FILE))?)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::demo::load::{demo_technicians, STATIONS_CSV, TECHNICIANS_CSV};

    fn split(cell: &str) -> Vec<String> {
        cell.split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Parses the committed file the way an importer would.
    fn committed_stations() -> Vec<Station> {
        let mut r = csv::Reader::from_reader(STATIONS_CSV.as_bytes());
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header, STATION_COLUMNS);
        r.records()
            .enumerate()
            .map(|(i, rec)| {
                let rec = rec.unwrap();
                let f = |k: usize| rec.get(k).unwrap().to_owned();
                let draft = StationDraft {
                    id: f(0),
                    name: f(1),
                    province: f(2),
                    city: f(3),
                    adcode: serde_json::Value::String(f(4)),
                    region: Some(f(5)),
                    address: f(6),
                    phone: f(7),
                    lat: f(8).parse().unwrap(),
                    lon: f(9).parse().unwrap(),
                    services: split(&f(10)),
                    products: split(&f(11)),
                    opening_hours: f(12),
                    timezone: f(13),
                    onsite_radius_km: (!f(14).is_empty()).then(|| f(14).parse().unwrap()),
                };
                Station::try_from(draft)
                    .unwrap_or_else(|e| panic!("row {} is invalid: {e:?}", i + 2))
            })
            .collect()
    }

    #[test]
    fn committed_stations_validate_and_meet_the_shape() {
        let stations = committed_stations();
        assert!(stations.len() >= 500, "{} stations", stations.len());

        let ids: HashSet<_> = stations.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids.len(), stations.len(), "station ids repeat");
        let names: HashSet<_> = stations.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), stations.len(), "station names repeat");

        let cities: HashSet<_> = stations
            .iter()
            .map(|s| (s.province.as_str(), s.city.as_str()))
            .collect();
        assert!(cities.len() >= 300, "{} cities", cities.len());

        let provinces: BTreeSet<u32> = stations.iter().map(|s| s.adcode.province_code()).collect();
        assert_eq!(provinces.len(), 31, "{provinces:?}");
        assert!(provinces.iter().all(|p| ![71, 81, 82].contains(p)));

        let onsite = stations
            .iter()
            .filter(|s| s.offers(Service::Onsite))
            .count();
        assert!((250..=350).contains(&onsite), "{onsite} on-site stations");
        for s in &stations {
            assert!(s.offers(Service::CarryIn), "{}", s.id);
            assert!(s.repairs(Product::Notebook), "{}", s.id);
            if let Some(r) = s.onsite_radius_km {
                assert!((20.0..=120.0).contains(&r), "{}: radius {r}", s.id);
            }
            assert!(s.id.as_str().starts_with(&format!("S{}", s.adcode)));
            assert_eq!(s.timezone, chrono_tz::Asia::Shanghai);
        }
    }

    #[test]
    fn stations_agree_with_the_gazetteer_and_never_coincide() {
        let gaz = Gazetteer::snapshot_2020();
        let stations = committed_stations();
        for s in &stations {
            let d = gaz
                .get(s.adcode)
                .unwrap_or_else(|| panic!("{}: adcode {} unknown", s.id, s.adcode));
            assert_eq!(s.province, d.province, "{}", s.id);
            match d.level {
                Level::District => assert_eq!(d.city.as_ref(), Some(&s.city), "{}", s.id),
                _ => assert_eq!(d.name, s.city, "{}", s.id),
            }
            assert!(s.address.starts_with(&s.city), "{}", s.id);
            assert_eq!(Some(s.region), Region::of_adcode(s.adcode));
            let centre = d.location.expect("stations sit at divisions with a centre");
            let off = s.location.haversine_m(centre);
            assert!(off <= MAX_JITTER_KM * 1000.0 + 1.0, "{}: {off} m", s.id);
        }
        for (i, a) in stations.iter().enumerate() {
            for b in &stations[i + 1..] {
                let d = a.location.haversine_m(b.location);
                assert!(d > 100.0, "{} and {} are {d} m apart", a.id, b.id);
            }
        }
    }

    #[test]
    fn big_cities_have_several_stations_over_distinct_districts() {
        let stations = committed_stations();
        for city in [
            "北京市",
            "上海市",
            "广州市",
            "深圳市",
            "成都市",
            "重庆市",
            "武汉市",
        ] {
            let here: Vec<_> = stations.iter().filter(|s| s.city == city).collect();
            assert!((3..=8).contains(&here.len()), "{city}: {}", here.len());
            let districts: HashSet<_> = here.iter().map(|s| s.adcode).collect();
            assert_eq!(districts.len(), here.len(), "{city}");
        }
    }

    #[test]
    fn generate_reproduces_the_committed_files() {
        let net = generate(Gazetteer::snapshot_2020(), DEFAULT_SEED).unwrap();
        let mut stations = Vec::new();
        write_stations(&net, &mut stations).unwrap();
        assert!(
            String::from_utf8(stations).unwrap() == STATIONS_CSV,
            "data/demo/stations.csv is stale: regenerate it with `repairnet demo-data --out data/demo`"
        );
        let mut techs = Vec::new();
        write_technicians(&net, &mut techs).unwrap();
        assert!(
            String::from_utf8(techs).unwrap() == TECHNICIANS_CSV,
            "data/demo/technicians.csv is stale: regenerate it with `repairnet demo-data --out data/demo`"
        );
    }

    #[test]
    fn the_loader_reads_back_the_generated_technicians() {
        let net = generate(Gazetteer::snapshot_2020(), DEFAULT_SEED).unwrap();
        assert_eq!(demo_technicians().unwrap(), net.technicians);
    }

    #[test]
    fn technicians_belong_to_onsite_stations_and_fit_their_products() {
        let net = generate(Gazetteer::snapshot_2020(), DEFAULT_SEED).unwrap();
        let by_id: BTreeMap<&str, &Station> =
            net.stations.iter().map(|s| (s.id.as_str(), s)).collect();
        let mut per_station: BTreeMap<&str, usize> = BTreeMap::new();
        let mut ids = HashSet::new();
        for t in &net.technicians {
            assert!(ids.insert(t.id), "{} repeats", t.id);
            let s = by_id[t.station_id.as_str()];
            assert!(s.offers(Service::Onsite), "{} at carry-in {}", t.id, s.id);
            assert!(!t.skills.is_empty() && t.skills.is_subset(&s.products));
            assert!((3..=8).contains(&t.daily_capacity));
            assert!(t.name.chars().count() >= 2);
            *per_station.entry(s.id.as_str()).or_default() += 1;
        }
        let onsite = net
            .stations
            .iter()
            .filter(|s| s.offers(Service::Onsite))
            .count();
        assert_eq!(per_station.len(), onsite, "an on-site station has nobody");
        assert!(per_station.values().all(|n| (1..=6).contains(n)));
        let on_duty = net.technicians.iter().filter(|t| t.on_duty).count() as f64;
        let share = on_duty / net.technicians.len() as f64;
        assert!((0.8..=0.97).contains(&share), "{share}");
    }

    #[test]
    fn other_seeds_differ_but_keep_the_shape() {
        let gaz = Gazetteer::snapshot_2020();
        let a = generate(gaz, DEFAULT_SEED).unwrap();
        let b = generate(gaz, DEFAULT_SEED + 1).unwrap();
        assert_ne!(a.stations, b.stations);
        assert_eq!(a.stations.len(), b.stations.len());
        let onsite = |n: &DemoNetwork| {
            n.stations
                .iter()
                .filter(|s| s.offers(Service::Onsite))
                .count()
        };
        assert_eq!(onsite(&a), onsite(&b));
        assert_eq!(
            generate(gaz, DEFAULT_SEED + 1).unwrap(),
            b,
            "same seed, same network"
        );
    }

    #[test]
    fn weighted_sample_takes_k_distinct_and_never_zero_weight() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let weights = [0.0, 1.0, 5.0, 0.0, 2.0, 1.0];
        let got = weighted_sample(&mut rng, &weights, 3);
        assert_eq!(got.len(), 3);
        assert!(!got.contains(&0) && !got.contains(&3), "{got:?}");
    }
}
