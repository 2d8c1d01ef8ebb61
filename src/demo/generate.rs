//! The demo network: a deterministic, invented station directory and
//! technician roster shaped like the reference network of a national PC
//! brand. Stations sit near real division centres from the gazetteer; names,
//! addresses, phone numbers and people are made up. The same seed always
//! gives the same network, byte for byte, so `data/demo/` can be regenerated
//! and checked against the generator.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::basic::{Adcode, LatLon};
use crate::network::model::{Product, Service, Station, StationDraft};
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
pub const STATION_COLUMNS: [&str; 15] = super::import::CSV_COLUMNS;

/// Header of `technicians.csv`.
pub const TECHNICIAN_COLUMNS: [&str; 6] = [
    "id",
    "station_id",
    "name",
    "skills",
    "daily_capacity",
    "on_duty",
];

/// A technician of the demo roster (the dispatch layer imports these).
#[derive(Debug, Clone, PartialEq)]
pub struct DemoTechnician {
    /// Positive integer, as the database assigns technician ids.
    pub id: i64,
    pub station_id: String,
    pub name: String,
    pub skills: BTreeSet<Product>,
    pub daily_capacity: u8,
    pub on_duty: bool,
}

/// The generated network: stations in id order of generation (adcode
/// order), technicians grouped by station.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoNetwork {
    pub seed: u64,
    pub stations: Vec<Station>,
    pub technicians: Vec<DemoTechnician>,
}

/// Cities that get several stations, by city key (province adcode for the
/// four municipalities, prefecture adcode otherwise) and station count.
/// The big national cities first, then provincial capitals and other
/// large cities.
const BIG_CITIES: &[(u32, usize)] = &[
    (110000, 8), // 北京
    (310000, 8), // 上海
    (440100, 7), // 广州
    (440300, 7), // 深圳
    (510100, 6), // 成都
    (500000, 6), // 重庆
    (420100, 5), // 武汉
    (610100, 5), // 西安
    (330100, 5), // 杭州
    (320100, 5), // 南京
    (120000, 5), // 天津
    (210100, 4), // 沈阳
    (370100, 4), // 济南
    (370200, 4), // 青岛
    (320500, 4), // 苏州
    (330200, 4), // 宁波
    (340100, 4), // 合肥
    (350100, 4), // 福州
    (410100, 4), // 郑州
    (430100, 4), // 长沙
    (530100, 4), // 昆明
    (210200, 3), // 大连
    (220100, 3), // 长春
    (230100, 3), // 哈尔滨
    (130100, 3), // 石家庄
    (140100, 3), // 太原
    (150100, 3), // 呼和浩特
    (320200, 3), // 无锡
    (350200, 3), // 厦门
    (360100, 3), // 南昌
    (440600, 3), // 佛山
    (450100, 3), // 南宁
    (460100, 3), // 海口
    (520100, 3), // 贵阳
    (620100, 3), // 兰州
    (650100, 3), // 乌鲁木齐
    (540100, 2), // 拉萨
    (630100, 2), // 西宁
    (640100, 2), // 银川
];

/// Prefectures left out: 三沙 is a scatter of islands with no place for a
/// walk-in workshop.
const EXCLUDED_CITIES: &[u32] = &[460300];

/// Long-distance area codes by the first four adcode digits (municipalities
/// by the first two). Cities missing here get an invented mobile number.
const AREA_CODES: &[(u32, &str)] = &[
    (11, "010"),
    (12, "022"),
    (31, "021"),
    (50, "023"),
    (1301, "0311"),
    (1302, "0315"),
    (1303, "0335"),
    (1304, "0310"),
    (1305, "0319"),
    (1306, "0312"),
    (1307, "0313"),
    (1308, "0314"),
    (1309, "0317"),
    (1310, "0316"),
    (1311, "0318"),
    (1401, "0351"),
    (1402, "0352"),
    (1403, "0353"),
    (1404, "0355"),
    (1405, "0356"),
    (1406, "0349"),
    (1407, "0354"),
    (1408, "0359"),
    (1409, "0350"),
    (1410, "0357"),
    (1411, "0358"),
    (1501, "0471"),
    (1502, "0472"),
    (1503, "0473"),
    (1504, "0476"),
    (1505, "0475"),
    (1506, "0477"),
    (1507, "0470"),
    (1508, "0478"),
    (1509, "0474"),
    (1522, "0482"),
    (1525, "0479"),
    (1529, "0483"),
    (2101, "024"),
    (2102, "0411"),
    (2103, "0412"),
    (2106, "0415"),
    (2107, "0416"),
    (2108, "0417"),
    (2109, "0418"),
    (2110, "0419"),
    (2111, "0427"),
    (2113, "0421"),
    (2114, "0429"),
    (2201, "0431"),
    (2202, "0432"),
    (2203, "0434"),
    (2204, "0437"),
    (2205, "0435"),
    (2206, "0439"),
    (2207, "0438"),
    (2208, "0436"),
    (2224, "0433"),
    (2301, "0451"),
    (2302, "0452"),
    (2303, "0467"),
    (2304, "0468"),
    (2305, "0469"),
    (2306, "0459"),
    (2307, "0458"),
    (2308, "0454"),
    (2309, "0464"),
    (2310, "0453"),
    (2311, "0456"),
    (2312, "0455"),
    (2327, "0457"),
    (3201, "025"),
    (3202, "0510"),
    (3203, "0516"),
    (3204, "0519"),
    (3205, "0512"),
    (3206, "0513"),
    (3207, "0518"),
    (3208, "0517"),
    (3209, "0515"),
    (3210, "0514"),
    (3211, "0511"),
    (3212, "0523"),
    (3213, "0527"),
    (3301, "0571"),
    (3302, "0574"),
    (3303, "0577"),
    (3304, "0573"),
    (3305, "0572"),
    (3306, "0575"),
    (3307, "0579"),
    (3308, "0570"),
    (3309, "0580"),
    (3310, "0576"),
    (3311, "0578"),
    (3401, "0551"),
    (3402, "0553"),
    (3403, "0552"),
    (3404, "0554"),
    (3405, "0555"),
    (3406, "0561"),
    (3407, "0562"),
    (3408, "0556"),
    (3410, "0559"),
    (3411, "0550"),
    (3412, "0558"),
    (3413, "0557"),
    (3415, "0564"),
    (3416, "0558"),
    (3417, "0566"),
    (3418, "0563"),
    (3501, "0591"),
    (3502, "0592"),
    (3503, "0594"),
    (3504, "0598"),
    (3505, "0595"),
    (3506, "0596"),
    (3507, "0599"),
    (3508, "0597"),
    (3509, "0593"),
    (3601, "0791"),
    (3602, "0798"),
    (3603, "0799"),
    (3604, "0792"),
    (3605, "0790"),
    (3606, "0701"),
    (3607, "0797"),
    (3608, "0796"),
    (3609, "0795"),
    (3610, "0794"),
    (3611, "0793"),
    (3701, "0531"),
    (3702, "0532"),
    (3703, "0533"),
    (3704, "0632"),
    (3705, "0546"),
    (3706, "0535"),
    (3707, "0536"),
    (3708, "0537"),
    (3709, "0538"),
    (3710, "0631"),
    (3711, "0633"),
    (3713, "0539"),
    (3714, "0534"),
    (3715, "0635"),
    (3716, "0543"),
    (3717, "0530"),
    (4101, "0371"),
    (4103, "0379"),
    (4104, "0375"),
    (4105, "0372"),
    (4106, "0392"),
    (4107, "0373"),
    (4108, "0391"),
    (4109, "0393"),
    (4110, "0374"),
    (4111, "0395"),
    (4112, "0398"),
    (4113, "0377"),
    (4114, "0370"),
    (4115, "0376"),
    (4116, "0394"),
    (4117, "0396"),
    (4201, "027"),
    (4202, "0714"),
    (4203, "0719"),
    (4205, "0717"),
    (4206, "0710"),
    (4207, "0711"),
    (4208, "0724"),
    (4209, "0712"),
    (4210, "0716"),
    (4211, "0713"),
    (4212, "0715"),
    (4213, "0722"),
    (4228, "0718"),
    (4301, "0731"),
    (4304, "0734"),
    (4305, "0739"),
    (4306, "0730"),
    (4307, "0736"),
    (4308, "0744"),
    (4309, "0737"),
    (4310, "0735"),
    (4311, "0746"),
    (4312, "0745"),
    (4313, "0738"),
    (4331, "0743"),
    (4401, "020"),
    (4402, "0751"),
    (4403, "0755"),
    (4404, "0756"),
    (4405, "0754"),
    (4406, "0757"),
    (4407, "0750"),
    (4408, "0759"),
    (4409, "0668"),
    (4412, "0758"),
    (4413, "0752"),
    (4414, "0753"),
    (4415, "0660"),
    (4416, "0762"),
    (4417, "0662"),
    (4418, "0763"),
    (4419, "0769"),
    (4420, "0760"),
    (4451, "0768"),
    (4452, "0663"),
    (4453, "0766"),
    (4501, "0771"),
    (4502, "0772"),
    (4503, "0773"),
    (4504, "0774"),
    (4505, "0779"),
    (4506, "0770"),
    (4507, "0777"),
    (4508, "0775"),
    (4509, "0775"),
    (4510, "0776"),
    (4511, "0774"),
    (4512, "0778"),
    (4513, "0772"),
    (4514, "0771"),
    (4601, "0898"),
    (4602, "0898"),
    (4604, "0898"),
    (5101, "028"),
    (5103, "0813"),
    (5104, "0812"),
    (5105, "0830"),
    (5106, "0838"),
    (5107, "0816"),
    (5108, "0839"),
    (5109, "0825"),
    (5110, "0832"),
    (5111, "0833"),
    (5113, "0817"),
    (5115, "0831"),
    (5116, "0826"),
    (5117, "0818"),
    (5118, "0835"),
    (5119, "0827"),
    (5132, "0837"),
    (5133, "0836"),
    (5134, "0834"),
    (5201, "0851"),
    (5202, "0858"),
    (5205, "0857"),
    (5206, "0856"),
    (5223, "0859"),
    (5226, "0855"),
    (5227, "0854"),
    (5301, "0871"),
    (5303, "0874"),
    (5304, "0877"),
    (5305, "0875"),
    (5306, "0870"),
    (5307, "0888"),
    (5308, "0879"),
    (5309, "0883"),
    (5323, "0878"),
    (5325, "0873"),
    (5326, "0876"),
    (5328, "0691"),
    (5329, "0872"),
    (5331, "0692"),
    (5333, "0886"),
    (5334, "0887"),
    (5401, "0891"),
    (5402, "0892"),
    (5403, "0895"),
    (5404, "0894"),
    (5405, "0893"),
    (5406, "0896"),
    (5425, "0897"),
    (6101, "029"),
    (6102, "0919"),
    (6103, "0917"),
    (6104, "029"),
    (6105, "0913"),
    (6106, "0911"),
    (6107, "0916"),
    (6108, "0912"),
    (6109, "0915"),
    (6110, "0914"),
    (6201, "0931"),
    (6202, "0937"),
    (6203, "0935"),
    (6204, "0943"),
    (6205, "0938"),
    (6206, "0935"),
    (6207, "0936"),
    (6208, "0933"),
    (6209, "0937"),
    (6210, "0934"),
    (6211, "0932"),
    (6212, "0939"),
    (6229, "0930"),
    (6230, "0941"),
    (6301, "0971"),
    (6302, "0972"),
    (6322, "0970"),
    (6323, "0973"),
    (6325, "0974"),
    (6326, "0975"),
    (6327, "0976"),
    (6328, "0977"),
    (6401, "0951"),
    (6402, "0952"),
    (6403, "0953"),
    (6404, "0954"),
    (6405, "0955"),
    (6501, "0991"),
    (6502, "0990"),
    (6504, "0995"),
    (6505, "0902"),
    (6523, "0994"),
    (6527, "0909"),
    (6528, "0996"),
    (6529, "0997"),
    (6530, "0908"),
    (6531, "0998"),
    (6532, "0903"),
    (6540, "0999"),
    (6542, "0901"),
    (6543, "0906"),
];

/// Common road-name stems; combined with a suffix and a number they give
/// addresses like `临园路88号`.
const ROAD_STEMS: &[&str] = &[
    "人民", "解放", "建设", "中山", "新华", "胜利", "文化", "和平", "长江", "滨江", "迎宾", "科技",
    "创业", "临园", "学府", "金融", "光明", "友谊", "幸福", "青年", "花园", "振兴", "东风", "工业",
];
const ROAD_SUFFIXES: &[&str] = &["路", "大道", "街", "东路", "西路", "南路", "北路", "中路"];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
];
const GIVEN_NAMES: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "刚", "平", "辉",
    "建华", "志强", "海燕", "晓东", "文博", "子轩", "浩然", "雨桐", "俊杰", "思远", "嘉怡", "宇航",
    "建国", "丽娟", "春雷", "玉兰", "国强", "佳琪", "鹏飞", "晨曦",
];

/// Opening hours with their weights (out of 100); all OSM syntax.
const HOURS: &[(&str, u32)] = &[
    ("Mo-Su 09:00-18:00", 68),
    ("Mo-Sa 09:00-18:00", 17),
    ("Mo-Fr 08:30-17:30; Sa 09:00-12:00", 8),
    ("Mo-Su 08:00-20:00", 7),
];

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
fn cities(gaz: &Gazetteer) -> Vec<City<'_>> {
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
        if EXCLUDED_CITIES.contains(&key.value()) {
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
            big: BIG_CITIES
                .iter()
                .find(|(k, _)| *k == key.value())
                .map(|(_, n)| *n),
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
fn jitter(rng: &mut ChaCha8Rng, p: LatLon) -> LatLon {
    let bearing = rng.gen_range(0.0..std::f64::consts::TAU);
    let km = rng.gen_range(MIN_JITTER_KM..MAX_JITTER_KM);
    let dlat = km * bearing.cos() / 111.195;
    let dlon = km * bearing.sin() / (111.195 * p.lat.to_radians().cos());
    let round = |v: f64| (v * 1e6).round() / 1e6;
    LatLon::new(round(p.lat + dlat), round(p.lon + dlon)).expect("a few km from a valid point")
}

fn phone(rng: &mut ChaCha8Rng, key: Adcode) -> String {
    let code4 = key.value() / 100;
    let code2 = key.province_code();
    let area = AREA_CODES
        .iter()
        .find(|(k, _)| *k == code4 || *k == code2)
        .map(|(_, c)| *c);
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

fn address(rng: &mut ChaCha8Rng, city: &City<'_>, site: &Division) -> String {
    let stem = ROAD_STEMS.choose(rng).expect("non-empty");
    let suffix = ROAD_SUFFIXES.choose(rng).expect("non-empty");
    let number = rng.gen_range(1..=399);
    let district = if site.adcode == city.key {
        ""
    } else {
        site.name.as_str()
    };
    format!("{}{district}{stem}{suffix}{number}号", city.name)
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

fn opening_hours(rng: &mut ChaCha8Rng) -> &'static str {
    let total: u32 = HOURS.iter().map(|(_, w)| w).sum();
    let mut pick = rng.gen_range(0..total);
    for (h, w) in HOURS {
        if pick < *w {
            return h;
        }
        pick -= w;
    }
    HOURS[0].0
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

fn technicians(
    rng: &mut ChaCha8Rng,
    station: &Station,
    big: bool,
    next_id: &mut usize,
) -> Vec<DemoTechnician> {
    let n = if big {
        rng.gen_range(3..=6)
    } else {
        rng.gen_range(1..=4)
    };
    let offered: Vec<Product> = station.products.iter().copied().collect();
    (0..n)
        .map(|_| {
            let mut skills: BTreeSet<Product> = offered
                .iter()
                .copied()
                .filter(|p| {
                    let chance = if *p == Product::Notebook { 0.92 } else { 0.5 };
                    rng.gen_bool(chance)
                })
                .collect();
            if skills.is_empty() {
                skills.insert(*offered.choose(rng).expect("stations repair something"));
            }
            let surname = SURNAMES.choose(rng).expect("non-empty");
            let given = GIVEN_NAMES.choose(rng).expect("non-empty");
            *next_id += 1;
            DemoTechnician {
                id: *next_id as i64,
                station_id: station.id.to_string(),
                name: format!("{surname}{given}"),
                skills,
                daily_capacity: rng.gen_range(3..=8),
                on_duty: rng.gen_bool(0.9),
            }
        })
        .collect()
}

/// Generates the demo network from the gazetteer. Deterministic: the same
/// gazetteer and seed give the same network.
pub fn generate(gaz: &Gazetteer, seed: u64) -> DemoNetwork {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cities = cities(gaz);
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
        let centre = slot.site.location.expect("sites have a centre");
        let location = jitter(&mut rng, centre);
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
            address: address(&mut rng, slot.city, slot.site),
            phone: phone(&mut rng, slot.city.key),
            lat: location.lat,
            lon: location.lon,
            services: services.iter().map(ToString::to_string).collect(),
            products: products(&mut rng, big && slot.main)
                .iter()
                .map(ToString::to_string)
                .collect(),
            opening_hours: opening_hours(&mut rng).to_owned(),
            timezone: "Asia/Shanghai".to_owned(),
            onsite_radius_km: radius,
        };
        let station = Station::try_from(draft)
            .unwrap_or_else(|e| panic!("demo generator built an invalid station: {e:?}"));
        if is_onsite {
            technicians_out.extend(technicians(&mut rng, &station, big, &mut next_tech));
        }
        stations.push(station);
    }

    DemoNetwork {
        seed,
        stations,
        technicians: technicians_out,
    }
}

/// Writes `stations.csv` (the importer's columns) to `out`.
pub fn write_stations<W: io::Write>(net: &DemoNetwork, mut out: W) -> io::Result<()> {
    let bytes = super::export::to_csv(&net.stations).map_err(io::Error::other)?;
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
            t.station_id.clone(),
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

    const STATIONS_CSV: &str = include_str!("../../data/demo/stations.csv");
    const TECHNICIANS_CSV: &str = include_str!("../../data/demo/technicians.csv");

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
        let gaz = Gazetteer::embedded();
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
        let net = generate(Gazetteer::embedded(), DEFAULT_SEED);
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
    fn technicians_belong_to_onsite_stations_and_fit_their_products() {
        let net = generate(Gazetteer::embedded(), DEFAULT_SEED);
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
        let gaz = Gazetteer::embedded();
        let a = generate(gaz, DEFAULT_SEED);
        let b = generate(gaz, DEFAULT_SEED + 1);
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
            generate(gaz, DEFAULT_SEED + 1),
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
