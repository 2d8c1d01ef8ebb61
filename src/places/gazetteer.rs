//! The administrative divisions of China (province, prefecture, county and
//! town level) with their names, short names, centre points, former names
//! and a prior, embedded in the binary from `data/cn-divisions/` and parsed
//! once on first use.
//!
//! The points are AMap district centres in GCJ-02; they are converted to
//! WGS-84 here, once, so nothing downstream ever sees GCJ-02. Towns have no
//! point of their own in the open data: a town answers with its county's.
//! Placeholder rows (`市辖区`, `县`, `省直辖县级行政区划`, ...) are not real
//! divisions and are dropped; real rows without a point (codes now gone)
//! are kept for [`Gazetteer::get`] but never matched by the geocoder, which
//! knows their names as former names of today's division instead.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::basic::{Adcode, LatLon};
use crate::places::crs::Crs;
use crate::places::geocode::Index;

/// The level of a division: province, prefecture-level city, county-level
/// district, or town (乡 / 镇 / 街道).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Province,
    City,
    District,
    Town,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
            Level::District => "district",
            Level::Town => "town",
        }
    }

    /// The level an adcode denotes: `xx0000` province, `xxxx00` prefecture.
    pub fn of_adcode(a: Adcode) -> Level {
        if a.value().is_multiple_of(10_000) {
            Level::Province
        } else if a.value().is_multiple_of(100) {
            Level::City
        } else {
            Level::District
        }
    }
}

/// A town's 9-digit statistics code: its county's adcode and three digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ToSchema)]
#[schema(value_type = String, example = "440606103")]
pub struct TownCode(u32);

impl TownCode {
    pub fn parse(s: &str) -> Option<TownCode> {
        (s.len() == 9 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0'))
            .then(|| s.parse().ok().map(TownCode))
            .flatten()
    }

    /// The county (or city) code the town's code starts with.
    pub fn adcode(self) -> Option<Adcode> {
        Adcode::from_u32(self.0 / 1000).ok()
    }
}

impl std::fmt::Display for TownCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:09}", self.0)
    }
}

impl Serialize for TownCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One administrative division.
#[derive(Debug, Clone)]
pub struct Division {
    pub adcode: Adcode,
    pub level: Level,
    /// Full official name, e.g. 涪城区.
    pub name: String,
    /// The name without its administrative suffix, e.g. 涪城.
    pub short_name: String,
    pub province: String,
    /// The prefecture-level city; for a municipality's districts, the
    /// municipality itself. `None` for provinces and for county-level units
    /// governed directly by their province (e.g. 仙桃市).
    pub city: Option<String>,
    /// The county-level name, for districts and towns.
    pub district: Option<String>,
    /// The town's code, for towns only (their `adcode` is their county's,
    /// or their city's for the towns of 东莞 and 中山 and of development
    /// zones outside any county).
    pub town_code: Option<TownCode>,
    /// Centre point, WGS-84 (a town's is its county's).
    pub location: Option<LatLon>,
    /// Residents' committees (居委会) in the division: the prior that puts
    /// the likelier of equally fitting places first (see `data/cn-divisions`).
    pub prior: u32,
}

/// A name that is not a division's own: a name no longer in use and the
/// division that took its place, or a zone or area and the division it
/// lies in.
#[derive(Debug, Clone)]
pub struct FormerName {
    pub name: String,
    /// Index of today's division.
    pub(crate) division: usize,
}

/// All divisions, indexed by adcode and by name for the geocoder.
pub struct Gazetteer {
    /// Provinces, cities and counties in adcode order, then the towns.
    divisions: Vec<Division>,
    /// How many of `divisions` are not towns.
    counties_end: usize,
    by_code: HashMap<Adcode, usize>,
    pub(crate) former: Vec<FormerName>,
    pub(crate) index: Index,
}

/// The files a gazetteer is built from (see `data/cn-divisions/SOURCE.md`);
/// all but `divisions` may be empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    /// `adcode,name,longitude,latitude`.
    pub divisions: &'a str,
    /// `code,name,adcode,committees`.
    pub towns: &'a str,
    /// `adcode,committees`.
    pub committees: &'a str,
    /// `former,adcode,former_code`.
    pub former_derived: &'a str,
    /// `former,successor,within,year,source`.
    pub former_curated: &'a str,
    /// `code,name,adcode`.
    pub zones: &'a str,
    /// `name,division,within,kind`.
    pub areas_curated: &'a str,
}

impl Sources<'static> {
    /// The files built into the binary.
    pub const EMBEDDED: Sources<'static> = Sources {
        divisions: include_str!("../../data/cn-divisions/divisions.csv"),
        towns: include_str!("../../data/cn-divisions/towns.csv"),
        committees: include_str!("../../data/cn-divisions/committees.csv"),
        former_derived: include_str!("../../data/cn-divisions/former-derived.csv"),
        former_curated: include_str!("../../data/cn-divisions/former-curated.csv"),
        zones: include_str!("../../data/cn-divisions/zones.csv"),
        areas_curated: include_str!("../../data/cn-divisions/areas-curated.csv"),
    };
}

/// Why the divisions file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GazetteerError {
    #[error("line {line}: {message}")]
    Row { line: usize, message: String },
    #[error("missing header `adcode,name,longitude,latitude`")]
    Header,
    #[error("the name index cannot be built: {0}")]
    Index(#[from] aho_corasick::BuildError),
    #[error("{file} line {line}: {message}")]
    Extra {
        file: &'static str,
        line: usize,
        message: String,
    },
}

/// Province-level units whose districts have no prefecture level of their own.
pub(crate) const MUNICIPALITIES: [u32; 4] = [110000, 120000, 310000, 500000];

/// Rows that only group other rows and name no place.
const PLACEHOLDERS: [&str; 4] = [
    "市辖区",
    "县",
    "省直辖县级行政区划",
    "自治区直辖县级行政区划",
];

static EMBEDDED: OnceLock<Gazetteer> = OnceLock::new();
static SNAPSHOT_2020: OnceLock<Gazetteer> = OnceLock::new();

impl Gazetteer {
    /// The gazetteer built into the binary: today's divisions, towns,
    /// former names and prior.
    #[allow(
        clippy::expect_used,
        reason = "the embedded files are fixed at build time and parsed by the tests"
    )]
    pub fn embedded() -> &'static Gazetteer {
        EMBEDDED.get_or_init(|| {
            Gazetteer::from_sources(&Sources::EMBEDDED).expect("embedded divisions files are valid")
        })
    }

    /// The three-level cpca snapshot alone (no towns, no former names), as
    /// the demo network was generated from it: the demo stays the same when
    /// the gazetteer is brought up to date.
    #[allow(
        clippy::expect_used,
        reason = "the embedded file is fixed at build time and parsed by the tests"
    )]
    pub fn snapshot_2020() -> &'static Gazetteer {
        SNAPSHOT_2020.get_or_init(|| {
            Gazetteer::from_csv(include_str!("../../data/cn-divisions/adcodes.csv"))
                .expect("embedded divisions file is valid")
        })
    }

    /// Parses `adcode,name,longitude,latitude` rows (12-digit codes, GCJ-02
    /// points, empty point for placeholders).
    pub fn from_csv(text: &str) -> Result<Gazetteer, GazetteerError> {
        Gazetteer::from_sources(&Sources {
            divisions: text,
            ..Sources::default()
        })
    }

    /// Builds the gazetteer from its files.
    pub fn from_sources(src: &Sources<'_>) -> Result<Gazetteer, GazetteerError> {
        let text = src.divisions;
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, h)) if h.trim_start_matches('\u{feff}').starts_with("adcode,name") => {}
            _ => return Err(GazetteerError::Header),
        }
        struct Row {
            adcode: Adcode,
            name: String,
            location: Option<LatLon>,
        }
        let mut rows = Vec::new();
        for (i, line) in lines {
            let line_no = i + 1;
            if line.trim().is_empty() {
                continue;
            }
            let err = |message: String| GazetteerError::Row {
                line: line_no,
                message,
            };
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            if cols.len() != 4 {
                return Err(err(format!("expected 4 columns, got {}", cols.len())));
            }
            let code = cols[0];
            if code.len() != 12 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(format!("adcode must be 12 digits, got {code:?}")));
            }
            let adcode = Adcode::parse(&code[..6]).map_err(|e| err(e.message))?;
            let name = cols[1].to_owned();
            if name.is_empty() {
                return Err(err("empty name".into()));
            }
            if PLACEHOLDERS.contains(&name.as_str()) {
                continue;
            }
            let location = match (cols[2], cols[3]) {
                ("", "") => None,
                (lon, lat) => {
                    let parse = |s: &str| s.parse::<f64>().map_err(|e| err(format!("{s:?}: {e}")));
                    let p = LatLon::new(parse(lat)?, parse(lon)?).map_err(|e| err(e.message))?;
                    Some(Crs::Gcj02.to_wgs84(p))
                }
            };
            rows.push(Row {
                adcode,
                name,
                location,
            });
        }
        rows.sort_by_key(|r| r.adcode);
        rows.dedup_by_key(|r| r.adcode);
        let names: HashMap<Adcode, String> =
            rows.iter().map(|r| (r.adcode, r.name.clone())).collect();

        let divisions: Vec<Division> = rows
            .into_iter()
            .map(|r| {
                let level = Level::of_adcode(r.adcode);
                let province = names
                    .get(&r.adcode.province())
                    .cloned()
                    .unwrap_or_else(|| r.name.clone());
                let municipality = MUNICIPALITIES.contains(&r.adcode.province().value());
                let city = match level {
                    Level::Province => None,
                    Level::City => Some(r.name.clone()),
                    Level::District if municipality => Some(province.clone()),
                    // of_adcode never says Town: towns come from their own file.
                    Level::District | Level::Town => names.get(&r.adcode.prefecture()).cloned(),
                };
                let district = (level == Level::District).then(|| r.name.clone());
                Division {
                    adcode: r.adcode,
                    level,
                    short_name: short_name(&r.name),
                    name: r.name,
                    province,
                    city,
                    district,
                    town_code: None,
                    location: r.location,
                    prior: 0,
                }
            })
            .collect();
        let mut divisions = divisions;
        let by_code: HashMap<Adcode, usize> = divisions
            .iter()
            .enumerate()
            .map(|(i, d)| (d.adcode, i))
            .collect();
        let counties_end = divisions.len();
        for (line, r) in rows_of("committees.csv", src.committees, 2)? {
            let adcode =
                Adcode::parse(r[0]).map_err(|e| extra("committees.csv", line, e.message))?;
            let n: u32 = r[1]
                .parse()
                .map_err(|_| extra("committees.csv", line, format!("not a count: {:?}", r[1])))?;
            if let Some(&i) = by_code.get(&adcode) {
                divisions[i].prior = n;
            }
        }
        // Cities and provinces weigh what their counties weigh together.
        let mut sums: HashMap<Adcode, u32> = HashMap::new();
        for d in divisions.iter().filter(|d| d.level == Level::District) {
            *sums.entry(d.adcode.province()).or_default() += d.prior;
            if d.adcode.prefecture() != d.adcode.province() {
                *sums.entry(d.adcode.prefecture()).or_default() += d.prior;
            }
        }
        for d in divisions.iter_mut().filter(|d| d.level != Level::District) {
            d.prior = d.prior.max(sums.get(&d.adcode).copied().unwrap_or(0));
        }
        let town_rows = rows_of("towns.csv", src.towns, 4)?;
        let mut name_count: HashMap<&str, usize> = HashMap::new();
        for (_, r) in &town_rows {
            *name_count.entry(r[1]).or_default() += 1;
        }
        for (line, r) in town_rows {
            let err = |m: String| extra("towns.csv", line, m);
            let code =
                TownCode::parse(r[0]).ok_or_else(|| err(format!("not a town code: {:?}", r[0])))?;
            let home = Adcode::parse(r[2]).map_err(|e| err(e.message))?;
            let &h = by_code
                .get(&home)
                .ok_or_else(|| err(format!("unknown adcode {home}")))?;
            let prior: u32 = r[3]
                .parse()
                .map_err(|_| err(format!("not a count: {:?}", r[3])))?;
            let name = r[1].trim();
            if name.is_empty() {
                return Err(err("empty name".into()));
            }
            let parent = &divisions[h];
            // A farm, zone or office with a generic name (良种场, 开发区,
            // 工业园区) names no place anyone would say.
            let generic = TOWN_SUFFIXES.contains(&name)
                || (!TOWN_SUFFIXES.iter().any(|k| name.ends_with(k))
                    && (name_count.get(name).copied().unwrap_or(0) > 1
                        || name.chars().count() < 3
                        || GENERIC_UNITS.iter().any(|g| name.ends_with(g))));
            if parent.location.is_none() || generic {
                continue;
            }
            let town = Division {
                adcode: parent.adcode,
                level: Level::Town,
                name: name.to_owned(),
                short_name: town_short_name(name),
                province: parent.province.clone(),
                city: parent.city.clone(),
                district: parent.district.clone(),
                town_code: Some(code),
                location: parent.location,
                prior,
            };
            divisions.push(town);
        }
        let mut former = Vec::new();
        let located = |a: Adcode| {
            by_code
                .get(&a)
                .copied()
                .filter(|&i| divisions[i].location.is_some())
        };
        for (line, r) in rows_of("former-derived.csv", src.former_derived, 3)? {
            let adcode =
                Adcode::parse(r[1]).map_err(|e| extra("former-derived.csv", line, e.message))?;
            let i = located(adcode).ok_or_else(|| {
                extra(
                    "former-derived.csv",
                    line,
                    format!("no located division {adcode}"),
                )
            })?;
            former.push(FormerName {
                name: r[0].to_owned(),
                division: i,
            });
        }
        let named = |file: &'static str, line: usize, name: &str, within: &str| {
            let hits: Vec<usize> = (0..counties_end)
                .filter(|&i| {
                    let d = &divisions[i];
                    d.name == name
                        && d.location.is_some()
                        && (d.province == within || d.city.as_deref() == Some(within))
                })
                .collect();
            match hits[..] {
                [i] => Ok(i),
                _ => Err(extra(
                    file,
                    line,
                    format!("{name} in {within} names {} divisions", hits.len()),
                )),
            }
        };
        for (line, r) in rows_of("former-curated.csv", src.former_curated, 5)? {
            former.push(FormerName {
                name: r[0].to_owned(),
                division: named("former-curated.csv", line, r[1], r[2])?,
            });
        }
        // Zones and areas known by name (郑州经济技术开发区, 郑东新区, 中关村).
        let mut areas = Vec::new();
        for (line, r) in rows_of("areas-curated.csv", src.areas_curated, 4)? {
            areas.push(FormerName {
                name: r[0].to_owned(),
                division: named("areas-curated.csv", line, r[1], r[2])?,
            });
        }
        for (line, r) in rows_of("zones.csv", src.zones, 3)? {
            let adcode = Adcode::parse(r[2]).map_err(|e| extra("zones.csv", line, e.message))?;
            let i = located(adcode)
                .ok_or_else(|| extra("zones.csv", line, format!("no located division {adcode}")))?;
            areas.push(FormerName {
                name: r[1].to_owned(),
                division: i,
            });
        }
        let index = Index::build(&divisions, &former, &areas)?;
        Ok(Gazetteer {
            divisions,
            counties_end,
            by_code,
            former,
            index,
        })
    }

    pub fn get(&self, a: Adcode) -> Option<&Division> {
        self.by_code.get(&a).map(|&i| &self.divisions[i])
    }

    /// All provinces, cities and counties in adcode order (no towns).
    pub fn divisions(&self) -> impl Iterator<Item = &Division> {
        self.divisions[..self.counties_end].iter()
    }

    /// All towns.
    pub fn towns(&self) -> impl Iterator<Item = &Division> {
        self.divisions[self.counties_end..].iter()
    }

    /// Former names with the division each now is.
    pub fn former_names(&self) -> impl Iterator<Item = (&str, &Division)> {
        self.former
            .iter()
            .map(|f| (f.name.as_str(), &self.divisions[f.division]))
    }

    pub(crate) fn division(&self, i: usize) -> &Division {
        &self.divisions[i]
    }
}

fn extra(file: &'static str, line: usize, message: String) -> GazetteerError {
    GazetteerError::Extra {
        file,
        line,
        message,
    }
}

/// The rows of one of the smaller files after its header, with their line
/// numbers; every row must have `cols` fields.
fn rows_of<'a>(
    file: &'static str,
    text: &'a str,
    cols: usize,
) -> Result<Vec<(usize, Vec<&'a str>)>, GazetteerError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        // None of these files quotes: names hold no comma.
        let r: Vec<&str> = line.split(',').map(str::trim).collect();
        if r.len() != cols {
            return Err(extra(
                file,
                i + 1,
                format!("expected {cols} columns, got {}", r.len()),
            ));
        }
        out.push((i + 1, r));
    }
    Ok(out)
}

/// Kinds of town-level unit, longest first; what is left is how people
/// name the town (北滘镇 → 北滘, 观澜街道 → 观澜, 将台地区 → 将台).
pub(crate) const TOWN_SUFFIXES: [&str; 8] = [
    "街道办事处",
    "地区办事处",
    "办事处",
    "街道",
    "苏木",
    "地区",
    "镇",
    "乡",
];

/// Endings of town-level units that are institutions rather than places.
const GENERIC_UNITS: [&str; 8] = [
    "场",
    "所",
    "区划",
    "办公室",
    "监狱",
    "公司",
    "管委会",
    "委员会",
];

/// A town's name without its kind, never shorter than two characters.
pub fn town_short_name(name: &str) -> String {
    for suffix in TOWN_SUFFIXES {
        if let Some(rest) = name.strip_suffix(suffix) {
            if rest.chars().count() >= 2 {
                return rest.to_owned();
            }
        }
    }
    name.to_owned()
}

/// Ethnic group names that appear in autonomous-area names, longest first so
/// 哈萨克 is tried before shorter names.
const ETHNIC: &[&str] = &[
    "乌孜别克",
    "柯尔克孜",
    "达斡尔",
    "鄂伦春",
    "鄂温克",
    "塔吉克",
    "塔塔尔",
    "维吾尔",
    "哈萨克",
    "俄罗斯",
    "蒙古",
    "土家",
    "哈尼",
    "傈僳",
    "拉祜",
    "东乡",
    "纳西",
    "景颇",
    "仫佬",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "德昂",
    "保安",
    "裕固",
    "独龙",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
    "布依",
    "朝鲜",
    "高山",
    "回",
    "藏",
    "苗",
    "彝",
    "壮",
    "满",
    "侗",
    "瑶",
    "白",
    "傣",
    "黎",
    "佤",
    "畲",
    "水",
    "土",
    "羌",
    "怒",
    "京",
];

/// Removes trailing ethnic names (`彝族`, `土家族苗族`, `哈萨克`) from what is
/// left of an autonomous area's name, keeping at least two characters.
fn strip_ethnic(mut s: &str) -> &str {
    'outer: loop {
        for e in ETHNIC {
            let with_zu = format!("{e}族");
            // Single-character names only with 族: a bare 白 or 水 is too
            // likely part of the place name itself.
            let cands: &[&str] = if e.chars().count() > 1 {
                &[&with_zu, e]
            } else {
                &[&with_zu]
            };
            for c in cands {
                if let Some(rest) = s.strip_suffix(c) {
                    if rest.chars().count() >= 2 {
                        s = rest;
                        continue 'outer;
                    }
                }
            }
        }
        return s;
    }
}

/// The name as people say it: 凉山彝族自治州 → 凉山, 广西壮族自治区 → 广西,
/// 涪城区 → 涪城, 浦东新区 → 浦东. Never shortens to a single character
/// (沛县, 城区 and 东区 stay whole).
pub fn short_name(name: &str) -> String {
    const AUTONOMOUS: [&str; 4] = ["自治区", "自治州", "自治县", "自治旗"];
    for suffix in AUTONOMOUS {
        if let Some(rest) = name.strip_suffix(suffix) {
            // 鄂温克族自治旗: the name is the people's name itself.
            let s = strip_ethnic(rest);
            let s = s
                .strip_suffix('族')
                .filter(|t| t.chars().count() >= 2)
                .unwrap_or(s);
            return s.to_owned();
        }
    }
    const SUFFIXES: [&str; 12] = [
        "特别行政区",
        "地区",
        "林区",
        "新区",
        "特区",
        "矿区",
        "省",
        "市",
        "区",
        "县",
        "旗",
        "盟",
    ];
    for suffix in SUFFIXES {
        if let Some(rest) = name.strip_suffix(suffix) {
            if rest.chars().count() >= 2 {
                return rest.to_owned();
            }
        }
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(v: u32) -> Adcode {
        Adcode::from_u32(v).unwrap()
    }

    #[test]
    fn short_names_strip_suffixes_but_never_to_one_character() {
        let cases = [
            ("凉山彝族自治州", "凉山"),
            ("广西壮族自治区", "广西"),
            ("新疆维吾尔自治区", "新疆"),
            ("宁夏回族自治区", "宁夏"),
            ("内蒙古自治区", "内蒙古"),
            ("香港特别行政区", "香港"),
            ("涪城区", "涪城"),
            ("四川省", "四川"),
            ("绵阳市", "绵阳"),
            ("浦东新区", "浦东"),
            ("神农架林区", "神农架"),
            ("阿里地区", "阿里"),
            ("兴安盟", "兴安"),
            ("科尔沁右翼前旗", "科尔沁右翼前"),
            ("黔东南苗族侗族自治州", "黔东南"),
            ("巴音郭楞蒙古自治州", "巴音郭楞"),
            ("塔什库尔干塔吉克自治县", "塔什库尔干"),
            ("积石山保安族东乡族撒拉族自治县", "积石山"),
            ("鄂温克族自治旗", "鄂温克"),
            ("鄂伦春自治旗", "鄂伦春"),
            ("本溪满族自治县", "本溪"),
            ("沙市区", "沙市"),
            ("沛县", "沛县"),
            ("城区", "城区"),
            ("东区", "东区"),
            ("矿区", "矿区"),
        ];
        for (full, short) in cases {
            assert_eq!(short_name(full), short, "{full}");
        }
    }

    #[test]
    fn loads_every_real_row_and_converts_points_to_wgs84() {
        let g = Gazetteer::embedded();
        let n = g.divisions().count();
        // Today's 3,2xx divisions and the codes gone since the cpca
        // snapshot, less the placeholder rows.
        assert!((3_300..3_450).contains(&n), "{n} divisions");
        assert!((38_000..42_000).contains(&g.towns().count()));
        assert!(g
            .divisions()
            .all(|d| !PLACEHOLDERS.contains(&d.name.as_str())));
        let fucheng = g.get(code(510703)).unwrap();
        assert_eq!(fucheng.name, "涪城区");
        assert_eq!(fucheng.short_name, "涪城");
        assert_eq!(fucheng.level, Level::District);
        assert_eq!(fucheng.province, "四川省");
        assert_eq!(fucheng.city.as_deref(), Some("绵阳市"));
        assert_eq!(fucheng.district.as_deref(), Some("涪城区"));
        // The file's GCJ-02 point moved back by the local offset (~500 m).
        let gcj = LatLon::new(31.455101, 104.756944).unwrap();
        let wgs = fucheng.location.unwrap();
        let moved = gcj.haversine_m(wgs);
        assert!((100.0..1_000.0).contains(&moved), "{moved} m");
        assert!(gcj.haversine_m(Crs::Gcj02.from_wgs84(wgs)) < 0.01);
        assert_eq!(g.get(code(510000)).unwrap().level, Level::Province);
        assert_eq!(g.get(code(510700)).unwrap().level, Level::City);
        assert!(g.get(code(510701)).is_none(), "市辖区 placeholder kept");
    }

    #[test]
    fn municipality_districts_hang_under_the_municipality() {
        let g = Gazetteer::embedded();
        let jingan = g.get(code(310106)).unwrap();
        assert_eq!(jingan.name, "静安区");
        assert_eq!(jingan.province, "上海市");
        assert_eq!(jingan.city.as_deref(), Some("上海市"));
        let xiantao = g.get(code(429004)).unwrap();
        assert_eq!(xiantao.province, "湖北省");
        assert_eq!(xiantao.city, None);
    }

    #[test]
    fn area_rule_agrees_with_the_gazetteer() {
        // Every mainland centre is in the shifted area; HK, Macau, Taiwan not.
        let g = Gazetteer::embedded();
        let wrong: Vec<String> = g
            .divisions()
            .filter_map(|d| {
                let p = d.location?;
                let outside = matches!(d.adcode.province_code(), 71 | 81 | 82);
                (crate::places::crs::is_shifted(p) == outside)
                    .then(|| format!("{} {} {:.4},{:.4}", d.adcode, d.name, p.lat, p.lon))
            })
            .collect();
        assert!(wrong.is_empty(), "{} wrong: {wrong:#?}", wrong.len());
    }

    #[test]
    fn rejects_malformed_files() {
        assert!(matches!(
            Gazetteer::from_csv("a,b\n"),
            Err(GazetteerError::Header)
        ));
        let bad = "adcode,name,longitude,latitude\n5107,涪城区,104.7,31.4\n";
        assert!(matches!(
            Gazetteer::from_csv(bad),
            Err(GazetteerError::Row { line: 2, .. })
        ));
    }
}
