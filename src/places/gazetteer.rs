//! The administrative divisions of China (province, prefecture, county level)
//! with their names, short names and centre points, embedded in the binary
//! from `data/cn-divisions/adcodes.csv` and parsed once on first use.
//!
//! The file's points are AMap district centres in GCJ-02; they are converted
//! to WGS-84 here, once, so nothing downstream ever sees GCJ-02.
//! Placeholder rows (`市辖区`, `县`, `省直辖县级行政区划`, ...) are not real
//! divisions and are dropped; real rows without a point (obsolete codes) are
//! kept for [`Gazetteer::get`] but never matched by the geocoder.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::basic::{Adcode, LatLon};
use crate::places::crs::Crs;
use crate::places::geocode::Index;

/// The level of a division in the three-level hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Province,
    City,
    District,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
            Level::District => "district",
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
    /// The county-level name, for districts only.
    pub district: Option<String>,
    /// Centre point, WGS-84.
    pub location: Option<LatLon>,
}

/// All divisions, indexed by adcode and by name for the geocoder.
pub struct Gazetteer {
    divisions: Vec<Division>,
    by_code: HashMap<Adcode, usize>,
    pub(crate) index: Index,
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

impl Gazetteer {
    /// The gazetteer built into the binary.
    #[allow(
        clippy::expect_used,
        reason = "the embedded file is fixed at build time and parsed by the tests"
    )]
    pub fn embedded() -> &'static Gazetteer {
        EMBEDDED.get_or_init(|| {
            Gazetteer::from_csv(include_str!("../../data/cn-divisions/adcodes.csv"))
                .expect("embedded divisions file is valid")
        })
    }

    /// Parses `adcode,name,longitude,latitude` rows (12-digit codes, GCJ-02
    /// points, empty point for placeholders).
    pub fn from_csv(text: &str) -> Result<Gazetteer, GazetteerError> {
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
                    Level::District => names.get(&r.adcode.prefecture()).cloned(),
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
                    location: r.location,
                }
            })
            .collect();
        let by_code = divisions
            .iter()
            .enumerate()
            .map(|(i, d)| (d.adcode, i))
            .collect();
        let index = Index::build(&divisions)?;
        Ok(Gazetteer {
            divisions,
            by_code,
            index,
        })
    }

    pub fn get(&self, a: Adcode) -> Option<&Division> {
        self.by_code.get(&a).map(|&i| &self.divisions[i])
    }

    /// All divisions in adcode order.
    pub fn divisions(&self) -> impl Iterator<Item = &Division> {
        self.divisions.iter()
    }

    pub(crate) fn division(&self, i: usize) -> &Division {
        &self.divisions[i]
    }
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
        // 3,511 rows minus the placeholder rows.
        assert!((3_150..3_300).contains(&n), "{n} divisions");
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
