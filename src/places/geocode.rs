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

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use pinyin::ToPinyinMulti;
use serde::Serialize;
use utoipa::ToSchema;

use crate::basic::Adcode;
use crate::places::gazetteer::{Division, Gazetteer, Level};
use crate::places::traditional::simplify;

/// The result of geocoding one query.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Geocoded {
    pub query: String,
    /// Best match first, then ranked alternatives; empty if nothing matched.
    pub matches: Vec<GeoMatch>,
    /// Whether several divisions fit the text equally well (all of them are
    /// then at the head of `matches`, with equal confidence).
    pub ambiguous: bool,
    /// The text after the matched division (street, building, ...).
    pub remainder: String,
}

/// One matched division with its WGS-84 centre point.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GeoMatch {
    pub adcode: Adcode,
    pub level: Level,
    pub province: String,
    pub city: Option<String>,
    pub district: Option<String>,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    /// In [0, 1]; grows with the length of matched text and is shared out
    /// between ties.
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
    pub(crate) fn build(divisions: &[Division]) -> Result<Index, aho_corasick::BuildError> {
        let mut han: HashMap<String, Vec<KeyTarget>> = HashMap::new();
        let mut latin: HashMap<String, Vec<KeyTarget>> = HashMap::new();
        for (i, d) in divisions.iter().enumerate() {
            if d.location.is_none() {
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
                };
                for (p, main) in pinyin_keys(&key) {
                    let kind = if main { kind } else { KeyKind::RareReading };
                    push_unique(latin.entry(p).or_default(), KeyTarget { kind, ..target });
                }
                push_unique(han.entry(key).or_default(), target);
            }
        }
        for (romanised, name) in EXONYMS {
            if let Some(i) = divisions.iter().position(|d| d.name == name) {
                let target = KeyTarget {
                    division: i,
                    kind: KeyKind::Short,
                    chars: divisions[i].short_name.chars().count(),
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

/// Adds a key's target, keeping only the heaviest way a key names a division.
fn push_unique(v: &mut Vec<KeyTarget>, t: KeyTarget) {
    match v.iter_mut().find(|x| x.division == t.division) {
        Some(x) if weight(t.kind, t.chars) > weight(x.kind, x.chars) => *x = t,
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
}

/// Characters that, right after a bare short name, show it is a street name
/// (北京路, 中山街) rather than a division.
const STREET_MARKERS: [char; 5] = ['路', '街', '巷', '弄', '道'];

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
            let (start, end) = (pos(m.start()), pos(m.end()));
            let street = n.text[m.end()..]
                .chars()
                .next()
                .is_some_and(|c| STREET_MARKERS.contains(&c));
            for t in &self.han_targets[m.pattern().as_usize()] {
                let mut w = weight(t.kind, t.chars);
                if street && t.kind == KeyKind::Short {
                    w *= 0.5;
                }
                out.push(Occurrence {
                    start,
                    end,
                    division: t.division,
                    weight: w,
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
                        weight: weight(t.kind, t.chars) - 0.1,
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
        Level::City => b.level == Level::District && b.adcode.prefecture() == a.adcode,
        Level::District => false,
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
    }
}

/// The longest address anyone may give (intake, corrections, nearest,
/// geocode); also all the geocoder reads of a longer text.
pub const MAX_ADDRESS_CHARS: usize = 200;

#[derive(Debug, Clone, Copy)]
struct Candidate {
    division: usize,
    score: f64,
    end: usize,
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
        // where that chain starts.
        let mut best: Vec<(f64, usize)> = Vec::with_capacity(occ.len());
        for (i, o) in occ.iter().enumerate() {
            let d = self.division(o.division);
            let mut chain = (o.weight, o.start);
            for (j, p) in occ[..i].iter().enumerate() {
                if p.end <= o.start && contains(self.division(p.division), d) {
                    let s = best[j].0 + o.weight;
                    if s > chain.0 {
                        chain = (s, best[j].1);
                    }
                }
            }
            best.push(chain);
        }
        let mut by_division: HashMap<usize, Candidate> = HashMap::new();
        for (o, &(score, start)) in occ.iter().zip(&best) {
            let d = self.division(o.division);
            let score = score - POSITION_PENALTY * start as f64 + level_bonus(d.level);
            let c = Candidate {
                division: o.division,
                score,
                end: o.end,
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
        cands.sort_by(|a, b| {
            b.score.total_cmp(&a.score).then_with(|| {
                self.division(a.division)
                    .adcode
                    .cmp(&self.division(b.division).adcode)
            })
        });
        let Some(top) = cands.first().copied() else {
            return Geocoded {
                query: q.to_owned(),
                matches: Vec::new(),
                ambiguous: false,
                remainder: String::new(),
            };
        };
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
                Some(GeoMatch {
                    adcode: d.adcode,
                    level: d.level,
                    province: d.province.clone(),
                    city: d.city.clone(),
                    district: d.district.clone(),
                    name: d.name.clone(),
                    lat: p.lat,
                    lon: p.lon,
                    confidence: (1.0 - (-c.score.max(0.0) / 3.0).exp()) / share,
                })
            })
            .collect();
        let remainder = match n.chars.get(top.end) {
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn empty_and_unmatched_queries_return_nothing() {
        for q in ["", "   ", "hello world", "12345", "？！"] {
            let r = g().geocode(q);
            assert!(r.matches.is_empty(), "{q}: {:?}", r.matches);
            assert!(!r.ambiguous);
        }
    }
}
