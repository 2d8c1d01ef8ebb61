//! Offline geocoding of free-text Chinese addresses to divisions.
//!
//! A query is normalised (full-width → ASCII, traditional → simplified,
//! lower case, whitespace and punctuation dropped but remembered as word
//! boundaries for pinyin), then every division name in it is found in one
//! pass of an Aho-Corasick automaton over all keys (full names, short names,
//! colloquial aliases like 凉山州, pinyin). Aho-Corasick finds all
//! overlapping occurrences of ~15,000 keys in time linear in the query, which
//! is what keeps a lookup in the microseconds; the `pinyin` crate gives every
//! reading of polyphonic characters (重庆 chong/zhong) so the pinyin keys are
//! built from data rather than a hand list.
//!
//! Occurrences are then combined into hierarchy chains: a division scores its
//! own key plus the best chain of its ancestors found earlier in the text
//! (province → city → district). So 凉山西昌 reads as 凉山 + 西昌 (one chain)
//! rather than the 山西 hidden across them, and 南京鼓楼 picks Nanjing's 鼓楼区
//! while 鼓楼区 alone ties four districts and is reported as ambiguous.
//! Text after the last division of the chosen chain is the street
//! `remainder`.
//!
//! Towns (乡/镇/街道) are a fourth level, matched by their full name, the
//! name without its kind (北滘 for 北滘镇) and the other kinds (观澜镇 for
//! 观澜街道); former names (闸北区, 襄樊) match today's division and say so.
//! Three rules keep the answer on the caller's side:
//! * a short name directly followed by a road, gate, building or park word
//!   (青阳北路, 安定门, 松山湖) is most likely part of that name, not a
//!   division: it weighs a quarter;
//! * once the text has named a province or city, nothing outside it that is
//!   named later is offered; a full name that contradicts it is reported in
//!   `conflicts` and halves the confidence;
//! * candidates that fit equally are ordered by a prior, the division's
//!   residents' committees (a proxy for its urban population), and stay
//!   `ambiguous`.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use pinyin::ToPinyinMulti;
use serde::Serialize;
use utoipa::ToSchema;

use crate::basic::Adcode;
use crate::places::gazetteer::{
    short_name, Division, FormerName, Gazetteer, Level, TownCode, TOWN_SUFFIXES,
};
use crate::places::traditional::simplify;

/// The result of geocoding one query.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Geocoded {
    pub query: String,
    /// Best match first, then ranked alternatives; empty if nothing matched.
    pub matches: Vec<GeoMatch>,
    /// Whether several divisions fit the text equally well (all of them are
    /// then at the head of `matches`, with equal confidence, the likelier
    /// first).
    pub ambiguous: bool,
    /// The text after the matched division (street, building, ...).
    pub remainder: String,
    /// Division names in the text that lie outside the province or city it
    /// named before them (广州市鼓楼区: `["鼓楼区"]`); the confidence of
    /// every match is then halved.
    pub conflicts: Vec<String>,
}

/// One matched division with its WGS-84 centre point.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GeoMatch {
    /// The division's adcode; for a town, its county's (or city's).
    pub adcode: Adcode,
    pub level: Level,
    pub province: String,
    pub city: Option<String>,
    pub district: Option<String>,
    /// For `level: "town"`: the town's 9-digit code.
    #[serde(rename = "code")]
    pub town_code: Option<TownCode>,
    /// For `level: "town"`: the town's name.
    pub town: Option<String>,
    pub name: String,
    /// The former name the text used (闸北区 for today's 静安区).
    pub formerly: Option<String>,
    /// For a town, its county's point: the open data has no town points.
    pub lat: f64,
    pub lon: f64,
    /// In [0, 1]; grows with the length of matched text and is shared out
    /// between ties. A match with `confidence >= 0.5` in an answer that is
    /// not `ambiguous` may be taken without asking the caller; anything else
    /// is a question for the caller.
    pub confidence: f64,
}

/// How a key names its division; longer and more formal keys weigh more.
#[derive(Debug, Clone, Copy, PartialEq)]
enum KeyKind {
    Full,
    Alias,
    Short,
    /// A pinyin key built from a rare reading of one of its characters.
    RareReading,
}

#[derive(Debug, Clone, Copy)]
struct KeyTarget {
    division: usize,
    kind: KeyKind,
    /// Length of the key in Chinese characters (for pinyin, of its source).
    chars: usize,
    /// A town's key: towns weigh less than a county of the same name.
    town: bool,
    /// For a town's short key: its own kind, as an index into
    /// `TOWN_SUFFIXES` (北滘 + 镇). The full name and the other kinds are
    /// read from the text after the short name instead of being keys of
    /// their own, which keeps the automaton to one key a town.
    suffix: Option<u8>,
    /// The key is this former name of the division.
    former: Option<u32>,
}

impl KeyTarget {
    fn weight(&self) -> f64 {
        let w = weight(self.kind, self.chars);
        let w = if self.town { w - 0.5 } else { w };
        // Today's name wins a tie with a former one, within NEAR_TIE: the
        // answer stays a question (东山区: 鹤岗's, or 广州's of before 2005).
        if self.former.is_some() {
            w - 0.05
        } else {
            w
        }
    }
}

/// The matching automata over all divisions' keys.
pub(crate) struct Index {
    han: AhoCorasick,
    han_targets: Vec<Vec<KeyTarget>>,
    latin: AhoCorasick,
    latin_targets: Vec<Vec<KeyTarget>>,
}

/// Readings of a name, one per combination of its characters' readings
/// (capped), each with whether it uses only the characters' main readings.
/// Rare readings still match but lose to main ones (郴州 may read "lanzhou",
/// 兰州 does).
fn pinyin_keys(name: &str) -> Vec<(String, bool)> {
    let mut keys = vec![(String::new(), true)];
    for c in name.chars() {
        let Some(multi) = c.to_pinyin_multi() else {
            return Vec::new();
        };
        let mut readings: Vec<&str> = Vec::new();
        for r in multi.into_iter().map(pinyin::Pinyin::plain) {
            if !readings.contains(&r) {
                readings.push(r);
            }
        }
        readings.truncate(3);
        let mut next = Vec::new();
        for (k, main) in &keys {
            for (i, r) in readings.iter().enumerate() {
                if next.len() < 8 {
                    next.push((format!("{k}{r}").replace('ü', "v"), *main && i == 0));
                }
            }
        }
        keys = next;
    }
    keys
}

/// Conventional romanisations that are not pinyin but are what callers type.
const EXONYMS: [(&str, &str); 8] = [
    ("lhasa", "拉萨市"),
    ("urumqi", "乌鲁木齐市"),
    ("hohhot", "呼和浩特市"),
    ("kashgar", "喀什地区"),
    ("shigatse", "日喀则市"),
    ("peking", "北京市"),
    ("canton", "广州市"),
    ("amoy", "厦门市"),
];

impl Index {
    pub(crate) fn build(
        divisions: &[Division],
        former: &[FormerName],
        areas: &[FormerName],
    ) -> Result<Index, aho_corasick::BuildError> {
        let mut han: HashMap<String, Vec<KeyTarget>> = HashMap::new();
        let mut latin: HashMap<String, Vec<KeyTarget>> = HashMap::new();
        for (i, d) in divisions.iter().enumerate() {
            if d.location.is_none() {
                continue;
            }
            if d.level == Level::Town {
                // No pinyin for towns: 41,000 more readings would mostly
                // collide with counties and each other.
                let (key, kind, suffix) = town_key(d);
                let t = KeyTarget {
                    division: i,
                    kind,
                    chars: key.chars().count(),
                    town: true,
                    suffix,
                    former: None,
                };
                push_unique(han.entry(key).or_default(), t);
                continue;
            }
            let mut keys = vec![(d.name.clone(), KeyKind::Full)];
            if d.short_name != d.name {
                keys.push((d.short_name.clone(), KeyKind::Short));
            }
            // How people say autonomous units: 凉山州, 恩施州, 大通县.
            for (suffix, spoken) in [("自治州", "州"), ("自治县", "县"), ("自治旗", "旗")]
            {
                if d.name.ends_with(suffix) && d.short_name != d.name {
                    keys.push((format!("{}{spoken}", d.short_name), KeyKind::Alias));
                }
            }
            for (key, kind) in keys {
                let chars = key.chars().count();
                let target = KeyTarget {
                    division: i,
                    kind,
                    chars,
                    town: false,
                    suffix: None,
                    former: None,
                };
                for (p, main) in pinyin_keys(&key) {
                    let kind = if main { kind } else { KeyKind::RareReading };
                    push_unique(latin.entry(p).or_default(), KeyTarget { kind, ..target });
                }
                push_unique(han.entry(key).or_default(), target);
            }
        }
        for (f, name) in former.iter().enumerate() {
            let short = short_name(&name.name);
            let mut keys = vec![(name.name.clone(), KeyKind::Full)];
            // 闸北 for 闸北区, unless the short form is a name of today.
            if short != name.name && !han.contains_key(&short) {
                keys.push((short, KeyKind::Short));
            }
            for (key, kind) in keys {
                let t = KeyTarget {
                    division: name.division,
                    kind,
                    chars: key.chars().count(),
                    town: false,
                    suffix: None,
                    former: u32::try_from(f).ok(),
                };
                push_unique(han.entry(key).or_default(), t);
            }
        }
        for a in areas {
            let t = KeyTarget {
                division: a.division,
                kind: KeyKind::Full,
                chars: a.name.chars().count(),
                town: false,
                suffix: None,
                former: None,
            };
            push_unique(han.entry(a.name.clone()).or_default(), t);
        }
        for (romanised, name) in EXONYMS {
            if let Some(i) = divisions.iter().position(|d| d.name == name) {
                let target = KeyTarget {
                    division: i,
                    kind: KeyKind::Short,
                    chars: divisions[i].short_name.chars().count(),
                    town: false,
                    suffix: None,
                    former: None,
                };
                push_unique(latin.entry(romanised.to_owned()).or_default(), target);
            }
        }
        let (han, han_targets) = automaton(han)?;
        let (latin, latin_targets) = automaton(latin)?;
        Ok(Index {
            han,
            han_targets,
            latin,
            latin_targets,
        })
    }
}

/// Endings of a town's short name that make it a road's, a zone's or a
/// county's name (朝阳区 of 朝阳区街道).
const NOT_A_TOWN_NAME: [&str; 7] = ["路", "街", "大道", "巷", "园区", "区", "县"];

/// A town's one key: the name without its kind (北滘 of 北滘镇), whose kind
/// is then read from the text (北滘镇, or 北滘街道 as callers still say of a
/// 镇 turned 街道); or the full name when it has no kind or when the short
/// one is a road's or a zone's name anywhere (东大街 of 东大街街道).
fn town_key(d: &Division) -> (String, KeyKind, Option<u8>) {
    let generic = NOT_A_TOWN_NAME.iter().any(|w| d.short_name.ends_with(w));
    let own = TOWN_SUFFIXES
        .iter()
        .position(|k| d.short_name.len() + k.len() == d.name.len() && d.name.ends_with(k))
        .and_then(|i| u8::try_from(i).ok());
    match own {
        Some(i) if !generic && d.short_name != d.name => {
            (d.short_name.clone(), KeyKind::Short, Some(i))
        }
        _ => (d.name.clone(), KeyKind::Full, None),
    }
}

/// Adds a key's target, keeping only the heaviest way a key names a division.
fn push_unique(v: &mut Vec<KeyTarget>, t: KeyTarget) {
    match v.iter_mut().find(|x| x.division == t.division) {
        Some(x) if t.weight() > x.weight() => *x = t,
        Some(_) => {}
        None => v.push(t),
    }
}

/// How close (as a share of the best score) a runner-up must be for a
/// match to be reported as ambiguous.
const NEAR_TIE: f64 = 0.02;

fn automaton(
    keys: HashMap<String, Vec<KeyTarget>>,
) -> Result<(AhoCorasick, Vec<Vec<KeyTarget>>), aho_corasick::BuildError> {
    let (patterns, targets): (Vec<String>, Vec<Vec<KeyTarget>>) = keys.into_iter().unzip();
    let ac = AhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        .build(&patterns)?;
    Ok((ac, targets))
}

/// A query normalised for matching: the kept characters, the byte offset of
/// each in the original query, and which positions start a new word.
struct Normalized {
    text: String,
    /// For each char of `text`: (byte offset in `text`, byte offset in query).
    chars: Vec<(usize, usize)>,
    word_start: Vec<bool>,
}

fn normalize(query: &str) -> Normalized {
    let mut text = String::with_capacity(query.len());
    let mut chars = Vec::new();
    let mut word_start = Vec::new();
    let mut gap = true;
    let mut prev_letter = false;
    for (offset, c) in query.char_indices() {
        let c = match c {
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            _ => c,
        };
        let c = simplify(c).to_ascii_lowercase();
        if c.is_alphanumeric() {
            let letter = c.is_ascii_alphabetic();
            word_start.push(gap || letter != prev_letter);
            chars.push((text.len(), offset));
            text.push(c);
            gap = false;
            prev_letter = letter;
        } else {
            gap = true;
        }
    }
    Normalized {
        text,
        chars,
        word_start,
    }
}

/// One key found in the query, in char positions of the normalised text.
#[derive(Debug, Clone, Copy)]
struct Occurrence {
    start: usize,
    end: usize,
    division: usize,
    weight: f64,
    /// Said by its full name (or a former full name), not shortened.
    full: bool,
    /// Directly followed by a road, gate, building or park word.
    inside_name: bool,
    former: Option<u32>,
}

/// What, right after a short name, shows it is part of a longer name (a
/// road, gate, building, park, estate, community or village) rather than a
/// division: 北京路, 青阳北路, 安定门, 松山湖, 东平街, 金陵社区. Longest
/// first.
#[rustfmt::skip]
const INSIDE_NAME: [&str; 32] = [
    "工业园", "工业区", "开发区", "东大街", "西大街", "南大街", "北大街", "东路", "西路",
    "南路", "北路", "中路", "大街", "大道", "大厦", "广场", "国际", "花园", "小区", "公园",
    "商城", "大桥", "胡同", "山庄", "社区", "路", "街", "巷", "弄", "门", "湖", "村",
];

/// What, right after a town's short name, shows it is part of a county's.
const COUNTY_KINDS: [char; 6] = ['区', '县', '市', '州', '旗', '盟'];

/// How much a short name inside a longer name still weighs.
const INSIDE_NAME_FACTOR: f64 = 0.25;

fn weight(kind: KeyKind, chars: usize) -> f64 {
    chars as f64
        + match kind {
            KeyKind::Full => 1.0,
            KeyKind::Alias => 0.5,
            KeyKind::Short => 0.0,
            KeyKind::RareReading => -0.3,
        }
}

impl Index {
    fn occurrences(&self, n: &Normalized) -> Vec<Occurrence> {
        let byte_to_char: HashMap<usize, usize> = n
            .chars
            .iter()
            .enumerate()
            .map(|(i, &(b, _))| (b, i))
            .chain(std::iter::once((n.text.len(), n.chars.len())))
            .collect();
        let pos = |b: usize| byte_to_char[&b];
        let mut out = Vec::new();
        for m in self.han.find_overlapping_iter(&n.text) {
            let start = pos(m.start());
            // A town's short name followed by a town kind: its full name
            // (北滘镇) or another kind of it (观澜镇 for 观澜街道).
            let said_kind = TOWN_SUFFIXES
                .iter()
                .position(|k| n.text[m.end()..].starts_with(k));
            for t in &self.han_targets[m.pattern().as_usize()] {
                let (kind, bytes, chars) = match (t.suffix, said_kind) {
                    (Some(own), Some(said)) => {
                        let k = TOWN_SUFFIXES[said];
                        let kind = if usize::from(own) == said {
                            KeyKind::Full
                        } else {
                            KeyKind::Alias
                        };
                        (kind, m.end() + k.len(), t.chars + k.chars().count())
                    }
                    _ => (t.kind, m.end(), t.chars),
                };
                let t = KeyTarget { kind, chars, ..*t };
                let end = pos(bytes);
                let after = &n.text[bytes..];
                let full = t.kind == KeyKind::Full;
                // A two-character full name (叶县, 宁县) is as easily a
                // road's name (叶县东路) as a short one; a town's short
                // name right before 区 or 县 is inside a county's (东新 in
                // 郑东新区).
                let loose = !full || (t.chars <= 2 && t.former.is_none());
                let inside_name = loose
                    && (INSIDE_NAME.iter().any(|w| after.starts_with(w))
                        || (t.town && after.starts_with(COUNTY_KINDS)));
                let mut w = t.weight();
                if inside_name {
                    w *= INSIDE_NAME_FACTOR;
                }
                out.push(Occurrence {
                    start,
                    end,
                    division: t.division,
                    weight: w,
                    full,
                    inside_name,
                    former: t.former,
                });
            }
        }
        // Pinyin keys must line up with word boundaries or with each other
        // (luzhoujiangyang), or "anyang" would be found inside "jiangyang".
        let mut latin: Vec<(usize, usize, usize)> = self
            .latin
            .find_overlapping_iter(&n.text)
            .map(|m| (pos(m.start()), pos(m.end()), m.pattern().as_usize()))
            .collect();
        if latin.is_empty() {
            return out;
        }
        latin.sort_unstable();
        let len = n.chars.len();
        let boundary = |i: usize| i == len || n.word_start[i];
        let mut starts: Vec<bool> = (0..=len).map(boundary).collect();
        let mut started = Vec::new();
        for &(s, e, p) in &latin {
            if starts[s] {
                starts[e] = true;
                started.push((s, e, p));
            }
        }
        for &(s, e, p) in &started {
            if boundary(e) || started.iter().any(|&(s2, _, _)| s2 == e) {
                for t in &self.latin_targets[p] {
                    out.push(Occurrence {
                        start: s,
                        end: e,
                        division: t.division,
                        weight: t.weight() - 0.1,
                        full: false,
                        inside_name: false,
                        former: t.former,
                    });
                }
            }
        }
        out
    }
}

/// Whether division `a` contains division `b`.
fn contains(a: &Division, b: &Division) -> bool {
    match a.level {
        Level::Province => b.level != Level::Province && b.adcode.province() == a.adcode,
        Level::City => {
            matches!(b.level, Level::District | Level::Town) && b.adcode.prefecture() == a.adcode
        }
        Level::District => b.level == Level::Town && b.adcode == a.adcode,
        Level::Town => false,
    }
}

/// Per-char penalty for text before a chain: addresses go from large to
/// small, so an early name is more likely the division than a later one.
const POSITION_PENALTY: f64 = 0.01;

fn level_bonus(l: Level) -> f64 {
    // Only breaks ties of the same key (吉林 the province over 吉林市),
    // smaller than any position difference.
    match l {
        Level::Province => 0.003,
        Level::City => 0.002,
        Level::District => 0.0,
        Level::Town => -0.001,
    }
}

/// The longest address anyone may give (intake, corrections, nearest,
/// geocode); also all the geocoder reads of a longer text.
pub const MAX_ADDRESS_CHARS: usize = 200;

#[derive(Debug, Clone, Copy)]
struct Candidate {
    division: usize,
    score: f64,
    /// The candidate's own occurrence.
    occurrence: usize,
}

impl Gazetteer {
    /// Geocodes free text (Chinese, pinyin, traditional characters) to the
    /// best matching division and ranked alternatives.
    ///
    /// Only the first [`MAX_ADDRESS_CHARS`] characters are read: the chain
    /// search below is quadratic in the matches found, and a long repeated
    /// pinyin syllable (`xianxian…`, found by fuzzing) took seconds.
    pub fn geocode(&self, q: &str) -> Geocoded {
        let q = match q.char_indices().nth(MAX_ADDRESS_CHARS) {
            Some((cut, _)) => &q[..cut],
            None => q,
        };
        let n = normalize(q);
        let mut occ = self.index.occurrences(&n);
        occ.sort_by_key(|o| (o.end, o.start));
        // best[i]: score of the best chain ending with occurrence i, and
        // where that chain starts. Only counties and up contain anything.
        let mut best: Vec<(f64, usize)> = Vec::with_capacity(occ.len());
        let mut parents: Vec<usize> = Vec::new();
        for (i, o) in occ.iter().enumerate() {
            let d = self.division(o.division);
            let mut chain = (o.weight, o.start);
            // A road named after a town (北京路 in 广州's 北京街道) says
            // little about where on it the caller is: it refines nothing.
            let chainable: &[usize] = if o.inside_name && d.level == Level::Town {
                &[]
            } else {
                &parents
            };
            for &j in chainable {
                let p = &occ[j];
                if p.end <= o.start && contains(self.division(p.division), d) {
                    let s = best[j].0 + o.weight;
                    if s > chain.0 {
                        chain = (s, best[j].1);
                    }
                }
            }
            best.push(chain);
            if d.level != Level::Town {
                parents.push(i);
            }
        }
        let mut by_division: HashMap<usize, Candidate> = HashMap::new();
        for (k, (o, &(score, start))) in occ.iter().zip(&best).enumerate() {
            let d = self.division(o.division);
            let score = score - POSITION_PENALTY * start as f64 + level_bonus(d.level);
            let c = Candidate {
                division: o.division,
                score,
                occurrence: k,
            };
            by_division
                .entry(o.division)
                .and_modify(|old| {
                    if score > old.score {
                        *old = c;
                    }
                })
                .or_insert(c);
        }
        let mut cands: Vec<Candidate> = by_division.into_values().collect();
        // The context: provinces and cities the text names outright. Nothing
        // named after one of them and lying outside it is offered.
        // A name that a heavier one overlaps is not said (鞍山 in 马鞍山市).
        let context: Vec<&Occurrence> = occ
            .iter()
            .filter(|o| {
                !o.inside_name
                    && matches!(
                        self.division(o.division).level,
                        Level::Province | Level::City
                    )
                    && !occ.iter().any(|y| {
                        y.division != o.division
                            && y.start < o.end
                            && o.start < y.end
                            && y.weight >= o.weight
                    })
            })
            .collect();
        let fits = |c: &Candidate| {
            let own = &occ[c.occurrence];
            let d = self.division(c.division);
            context.iter().all(|x| {
                let xd = self.division(x.division);
                x.end > own.start || x.division == c.division || contains(xd, d) || contains(d, xd)
            })
        };
        let (kept, dropped): (Vec<Candidate>, Vec<Candidate>) =
            cands.drain(..).partition(|c| fits(c));
        cands = kept;
        cands.sort_by(|a, b| {
            let (da, db) = (self.division(a.division), self.division(b.division));
            b.score
                .total_cmp(&a.score)
                .then_with(|| db.prior.cmp(&da.prior))
                .then_with(|| da.adcode.cmp(&db.adcode))
                .then_with(|| da.town_code.cmp(&db.town_code))
        });
        let Some(top) = cands.first().copied() else {
            return Geocoded {
                query: q.to_owned(),
                matches: Vec::new(),
                ambiguous: false,
                remainder: String::new(),
                conflicts: Vec::new(),
            };
        };
        // A full name the context ruled out contradicts the text, unless it
        // is part of a name that was kept (东区 inside 宁波市江东区).
        let kept_spans: Vec<(usize, usize)> = cands
            .iter()
            .map(|c| (occ[c.occurrence].start, occ[c.occurrence].end))
            .collect();
        let mut conflicts: Vec<String> = Vec::new();
        for c in &dropped {
            let o = &occ[c.occurrence];
            let lower = matches!(
                self.division(c.division).level,
                Level::District | Level::Town | Level::City
            );
            let covered = kept_spans.iter().any(|&(s, e)| s < o.end && o.start < e);
            if o.full && lower && !covered {
                let text = original(q, &n, o.start, o.end);
                if !conflicts.contains(&text) {
                    conflicts.push(text);
                }
            }
        }
        let top_div = self.division(top.division);
        // Divisions that the best one lies in are implied, not alternatives.
        cands.retain(|c| {
            c.division == top.division || !contains(self.division(c.division), top_div)
        });
        let ties = cands
            .iter()
            .take_while(|c| (c.score - top.score).abs() < 1e-9)
            .count();
        // A runner-up within a hair of the best (朝阳 alone: the city in
        // 辽宁 against the districts of 北京 and 长春) is a question for the
        // caller, not an answer, even when the scores are not exactly equal.
        // A place inside the best one (喀什市 in 喀什地区) is a refinement of
        // it, not an alternative.
        let near_tie = cands.get(ties).is_some_and(|c| {
            c.score >= top.score * (1.0 - NEAR_TIE) && !contains(top_div, self.division(c.division))
        });
        let doubt = if conflicts.is_empty() { 1.0 } else { 0.5 };
        let matches = cands
            .iter()
            .take(ties.max(5))
            .filter(|c| c.score >= 0.5 * top.score)
            .filter_map(|c| {
                let d = self.division(c.division);
                let share = if (c.score - top.score).abs() < 1e-9 {
                    ties as f64
                } else {
                    1.0
                };
                // Only located divisions are indexed; a match needs a point.
                let p = d.location?;
                let formerly = occ[c.occurrence]
                    .former
                    .and_then(|f| self.former.get(f as usize))
                    .map(|f| f.name.clone());
                let town = d.level == Level::Town;
                Some(GeoMatch {
                    adcode: d.adcode,
                    level: d.level,
                    province: d.province.clone(),
                    city: d.city.clone(),
                    district: d.district.clone(),
                    town_code: d.town_code,
                    town: town.then(|| d.name.clone()),
                    name: d.name.clone(),
                    formerly,
                    lat: p.lat,
                    lon: p.lon,
                    confidence: doubt * confidence(c.score) / share,
                })
            })
            .collect();
        let remainder = match n.chars.get(occ[top.occurrence].end) {
            Some(&(_, byte)) => q[byte..]
                .trim_start_matches(|c: char| !c.is_alphanumeric())
                .trim_end()
                .to_owned(),
            None => String::new(),
        };
        Geocoded {
            query: q.to_owned(),
            matches,
            ambiguous: ties > 1 || near_tie,
            remainder,
            conflicts,
        }
    }
}

/// Confidence of a score: 1 - e^(-score/3), so a two-character short name
/// alone (2.0) stays below 0.5 and a full county name (4.0) is above it.
fn confidence(score: f64) -> f64 {
    1.0 - (-score.max(0.0) / 3.0).exp()
}

/// The query's own text for chars `start..end` of its normalised form.
fn original(q: &str, n: &Normalized, start: usize, end: usize) -> String {
    let from = n.chars.get(start).map_or(q.len(), |c| c.1);
    let to = n.chars.get(end).map_or(q.len(), |c| c.1);
    q.get(from..to).unwrap_or_default().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::places::gazetteer::MUNICIPALITIES;

    fn g() -> &'static Gazetteer {
        Gazetteer::embedded()
    }

    fn best(q: &str) -> u32 {
        let r = g().geocode(q);
        assert!(!r.matches.is_empty(), "{q}: no match");
        r.matches[0].adcode.value()
    }

    #[test]
    fn near_equal_candidates_are_a_question_for_the_caller() {
        // 朝阳 alone: the city in 辽宁 leads the districts of 北京 and 长春
        // by a hair; the agent must ask which.
        let r = g().geocode("朝阳");
        assert!(r.ambiguous, "{r:?}");
        let codes: Vec<u32> = r.matches.iter().map(|m| m.adcode.value()).collect();
        assert!(
            codes.contains(&211300) && codes.contains(&110105),
            "{codes:?}"
        );
        // A place inside the best match refines it: not ambiguous.
        let r = g().geocode("新疆喀什");
        assert!(!r.ambiguous, "{r:?}");
        // With the province said, 朝阳 is the city in 辽宁.
        let r = g().geocode("辽宁朝阳");
        assert!(!r.ambiguous);
        assert_eq!(r.matches[0].adcode.value(), 211300);
    }

    #[test]
    fn full_form_with_street_remainder() {
        let r = g().geocode("四川省绵阳市涪城区临园路东段68号");
        assert_eq!(r.matches[0].adcode.value(), 510703);
        assert_eq!(r.matches[0].level, Level::District);
        assert_eq!(r.matches[0].city.as_deref(), Some("绵阳市"));
        assert!(!r.ambiguous);
        assert_eq!(r.remainder, "临园路东段68号");
        assert!(r.matches[0].confidence > 0.9);
        assert!(r
            .matches
            .iter()
            .all(|m| (0.0..=1.0).contains(&m.confidence)));
    }

    #[test]
    fn missing_province_and_short_forms() {
        assert_eq!(best("绵阳市涪城区"), 510703);
        assert_eq!(best("绵阳涪城"), 510703);
        assert_eq!(best("郑州二七"), 410103);
        assert_eq!(best("青岛崂山"), 370212);
        assert_eq!(best("泸州江阳"), 510502);
    }

    #[test]
    fn spoken_text_around_the_address() {
        let r = g().geocode("师傅我家住成都武侯区那边");
        assert_eq!(r.matches[0].adcode.value(), 510107);
        assert_eq!(r.remainder, "那边");
        assert_eq!(best("麻烦上门到郑州二七区大学路"), 410103);
    }

    #[test]
    fn names_inside_names_do_not_fool_the_hierarchy() {
        let r = g().geocode("凉山西昌");
        assert_eq!(r.matches[0].adcode.value(), 513401);
        assert_eq!(r.matches[0].province, "四川省");
        assert!(!r.ambiguous);
    }

    #[test]
    fn ambiguous_district_names_are_reported() {
        let r = g().geocode("鼓楼区");
        assert!(r.ambiguous);
        let mut codes: Vec<u32> = r
            .matches
            .iter()
            .take_while(|m| (m.confidence - r.matches[0].confidence).abs() < 1e-9)
            .map(|m| m.adcode.value())
            .collect();
        codes.sort_unstable();
        assert_eq!(codes, vec![320106, 320302, 350102, 410204]);
        let r = g().geocode("南京鼓楼");
        assert!(!r.ambiguous);
        assert_eq!(r.matches[0].adcode.value(), 320106);
    }

    #[test]
    fn municipalities_county_cities_and_autonomous_units() {
        let r = g().geocode("上海静安");
        assert_eq!(r.matches[0].adcode.value(), 310106);
        assert_eq!(r.matches[0].city.as_deref(), Some("上海市"));
        assert_eq!(best("北京市朝阳区建国路"), 110105);
        assert_eq!(best("昆山"), 320583);
        assert_eq!(best("凉山州"), 513400);
        assert_eq!(best("延边"), 222400);
        assert_eq!(best("广西南宁"), 450100);
        assert_eq!(best("恩施州利川"), 422802);
    }

    #[test]
    fn pinyin_in_any_case_and_spacing() {
        for q in ["Zigong", "ZIGONG", "zigong shi"] {
            assert_eq!(best(q), 510300, "{q}");
        }
        // Main readings beat rare ones: 郴 can also read "lan".
        assert_eq!(best("Lanzhou"), 620100);
        assert_eq!(best("Lhasa"), 540100);
        for q in ["luzhou jiangyang", "LuzhouJiangyang", "luzhoujiangyang"] {
            assert_eq!(best(q), 510502, "{q}");
        }
    }

    #[test]
    fn traditional_full_width_and_punctuation() {
        assert_eq!(best("瀘州江陽區"), 510502);
        assert_eq!(best("四川省，绵阳市　涪城区"), 510703);
        assert_eq!(best("ＺＩＧＯＮＧ"), 510300);
    }

    #[test]
    fn street_names_after_a_city_do_not_win() {
        assert_eq!(best("广州北京路"), 440100);
        assert_eq!(best("厦门中山路"), 350200);
    }

    /// What a confident answer is: an agent may take it without asking.
    fn confident(r: &Geocoded) -> bool {
        !r.ambiguous && r.matches.first().is_some_and(|m| m.confidence >= 0.5)
    }

    #[test]
    fn towns_are_a_fourth_level() {
        for (q, town, adcode) in [
            ("北滘镇兴业东路2号", "北滘镇", 440606),
            ("北滘镇", "北滘镇", 440606),
            ("周市镇青阳北路923号", "周市镇", 320583),
            ("昆山周市", "周市镇", 320583),
            ("佛山顺德北滘", "北滘镇", 440606),
            // The kind a caller says need not be today's.
            ("观澜镇富康工业区", "观澜街道", 440309),
        ] {
            let r = g().geocode(q);
            let m = &r.matches[0];
            assert_eq!(m.level, Level::Town, "{q}: {r:?}");
            assert_eq!(m.town.as_deref(), Some(town), "{q}");
            assert_eq!(m.adcode.value(), adcode, "{q}");
            assert!(m.town_code.is_some_and(|t| t.adcode() == Some(m.adcode)));
        }
        // A town name shared by several counties is a question, the one
        // with more residents' committees first.
        let r = g().geocode("观澜街道富康工业区");
        assert!(r.ambiguous, "{r:?}");
        assert_eq!(r.matches[0].adcode.value(), 440309);
        assert_eq!(r.remainder, "富康工业区");
    }

    #[test]
    fn former_names_answer_todays_division() {
        for (q, adcode, formerly) in [
            ("闸北区", 310106, "闸北区"),
            ("卢湾区", 310101, "卢湾区"),
            ("北京市崇文区", 110101, "崇文区"),
            ("襄樊市", 420600, "襄樊市"),
            ("宣武区广安门", 110102, "宣武区"),
            ("宁波市江东区", 330212, "江东区"),
            ("深圳龙华新区", 440309, "龙华新区"),
            ("杭州市江干区", 330102, "江干区"),
            ("成都郫县", 510117, "郫县"),
            ("莱芜市", 370100, "莱芜市"),
        ] {
            let r = g().geocode(q);
            assert!(confident(&r), "{q}: {r:?}");
            assert_eq!(r.matches[0].adcode.value(), adcode, "{q}");
            assert_eq!(r.matches[0].formerly.as_deref(), Some(formerly), "{q}");
        }
        // Today's name says nothing of a former one.
        assert!(g().geocode("上海静安区").matches[0].formerly.is_none());
    }

    #[test]
    fn every_change_of_the_last_ten_years_in_municipalities_and_capitals() {
        const CAPITALS: [&str; 27] = [
            "石家庄市",
            "太原市",
            "呼和浩特市",
            "沈阳市",
            "长春市",
            "哈尔滨市",
            "南京市",
            "杭州市",
            "合肥市",
            "福州市",
            "南昌市",
            "济南市",
            "郑州市",
            "武汉市",
            "长沙市",
            "广州市",
            "南宁市",
            "海口市",
            "成都市",
            "贵阳市",
            "昆明市",
            "拉萨市",
            "西安市",
            "兰州市",
            "西宁市",
            "银川市",
            "乌鲁木齐市",
        ];
        let mut checked = 0;
        for (former, today) in g().former_names() {
            let muni = MUNICIPALITIES.contains(&today.adcode.province().value());
            let city = today.city.as_deref().unwrap_or(&today.name);
            if !muni && !CAPITALS.contains(&city) {
                continue;
            }
            let within = if muni { &today.province } else { city };
            let q = format!("{within}{former}");
            let r = g().geocode(&q);
            assert!(confident(&r), "{q}: {r:?}");
            let m = &r.matches[0];
            if m.adcode == today.adcode {
                assert_eq!(m.formerly.as_deref(), Some(former), "{q}");
            } else {
                // A former city whose name lives on in a district of its
                // successor (济南市莱芜市: 莱芜区) may answer that district.
                assert_eq!(today.level, Level::City, "{q}: {r:?}");
                assert_eq!(m.adcode.prefecture(), today.adcode, "{q}: {r:?}");
            }
            checked += 1;
        }
        assert!(checked >= 40, "only {checked} changes checked");
    }

    #[test]
    fn context_wins_over_names_elsewhere() {
        // 宁波 said: 攀枝花's 东区 is not offered.
        let r = g().geocode("宁波市江东区");
        assert!(r.matches.iter().all(|m| m.province == "浙江省"), "{r:?}");
        // 深圳 said: 海口's 龙华区 is not offered.
        let r = g().geocode("深圳龙华新区");
        assert!(r
            .matches
            .iter()
            .all(|m| m.city.as_deref() == Some("深圳市")));
        // 鞍山 inside 马鞍山 is not a context.
        assert_eq!(best("马鞍山市雨山区"), 340504);
        // A county the city does not hold: reported, and confidence halves.
        let r = g().geocode("广州市鼓楼区");
        assert_eq!(r.conflicts, vec!["鼓楼区".to_owned()]);
        assert_eq!(r.matches[0].adcode.value(), 440100);
        assert!(!confident(&r));
    }

    #[test]
    fn names_inside_street_gate_and_park_names_are_not_divisions() {
        // With nothing else said: no confident answer.
        for q in [
            "工业园区东平街299号",
            "安定门东大街",
            "青阳北路923号",
            "兴业东路2号",
        ] {
            let r = g().geocode(q);
            assert!(!confident(&r), "{q}: {r:?}");
        }
        // 安定门 is a sub-district of 东城区: the right place is offered.
        let r = g().geocode("安定门东大街");
        assert_eq!(r.matches[0].adcode.value(), 110101, "{r:?}");
        // With the city said, the city.
        assert_eq!(best("郑州郑东新区东风南路"), 410100);
        let r = g().geocode("郑东新区东风南路");
        assert_eq!(r.matches[0].adcode.value(), 410100);
        assert!(confident(&r));
        // 松山湖 is in 东莞, not 赤峰's 松山区.
        let r = g().geocode("松山湖新城大道");
        assert_eq!(r.matches[0].city.as_deref(), Some("东莞市"), "{r:?}");
    }

    #[test]
    fn equal_candidates_come_likelier_first() {
        let r = g().geocode("南山区");
        assert!(r.ambiguous);
        assert_eq!(r.matches[0].adcode.value(), 440305, "{r:?}");
        assert_eq!(r.matches[1].adcode.value(), 230404);
        // What else the text names decides.
        let r = g().geocode("南山区蛇口街道");
        assert!(!r.ambiguous);
        assert_eq!(r.matches[0].adcode.value(), 440305);
    }

    #[test]
    fn empty_and_unmatched_queries_return_nothing() {
        for q in ["", "   ", "hello world", "12345", "？！"] {
            let r = g().geocode(q);
            assert!(r.matches.is_empty(), "{q}: {:?}", r.matches);
            assert!(!r.ambiguous);
        }
    }
}
