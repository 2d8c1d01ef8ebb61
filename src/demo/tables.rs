//! The hand-written tables behind the demo network: which cities get several
//! stations, area codes, road names, people's names and opening hours. They
//! live as CSV files in `data/demo/tables/` (its README explains each one)
//! so they can be read and edited as data; they are embedded in the binary
//! and parsed once, on first use.

use std::sync::LazyLock;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::basic::Adcode;

/// A table that does not parse, or parses to something the generator cannot
/// use. Cloneable so the parse result can be cached and handed out again.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("demo table {file}: {message}")]
pub struct TableError {
    pub file: &'static str,
    pub message: String,
}

impl TableError {
    fn new(file: &'static str, message: impl Into<String>) -> Self {
        Self {
            file,
            message: message.into(),
        }
    }
}

/// A city that gets several stations.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct BigCity {
    /// Province adcode for the four municipalities, prefecture adcode
    /// otherwise (the generator's city key).
    pub city: Adcode,
    pub stations: usize,
}

/// A long-distance area code for the cities whose adcode starts with
/// `prefix` (four digits; two for the municipalities).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct AreaCode {
    pub prefix: u32,
    pub area_code: String,
}

/// An opening-hours rule and its share of the stations.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Hours {
    pub opening_hours: String,
    pub weight: u32,
}

#[derive(Deserialize)]
struct Excluded {
    city: Adcode,
}

/// All tables, in file order: the generator draws from them by index, so
/// reordering a file changes the network.
#[derive(Debug, Clone)]
pub(super) struct Tables {
    pub big_cities: Vec<BigCity>,
    pub excluded_cities: Vec<Adcode>,
    pub area_codes: Vec<AreaCode>,
    pub road_stems: Vec<String>,
    pub road_suffixes: Vec<String>,
    pub surnames: Vec<String>,
    pub given_names: Vec<String>,
    pub opening_hours: Vec<Hours>,
}

macro_rules! table {
    ($file:literal) => {
        (
            $file,
            include_str!(concat!("../../data/demo/tables/", $file)),
        )
    };
}

const BIG_CITIES: (&str, &str) = table!("big_cities.csv");
const EXCLUDED_CITIES: (&str, &str) = table!("excluded_cities.csv");
const AREA_CODES: (&str, &str) = table!("area_codes.csv");
const ROAD_STEMS: (&str, &str) = table!("road_stems.csv");
const ROAD_SUFFIXES: (&str, &str) = table!("road_suffixes.csv");
const SURNAMES: (&str, &str) = table!("surnames.csv");
const GIVEN_NAMES: (&str, &str) = table!("given_names.csv");
const OPENING_HOURS: (&str, &str) = table!("opening_hours.csv");

static EMBEDDED: LazyLock<Result<Tables, TableError>> = LazyLock::new(Tables::parse);

impl Tables {
    /// The embedded tables, parsed on first use.
    pub fn embedded() -> Result<&'static Tables, TableError> {
        EMBEDDED.as_ref().map_err(Clone::clone)
    }

    fn parse() -> Result<Tables, TableError> {
        let excluded: Vec<Excluded> = rows(EXCLUDED_CITIES)?;
        let tables = Tables {
            big_cities: rows(BIG_CITIES)?,
            excluded_cities: excluded.into_iter().map(|e| e.city).collect(),
            area_codes: rows(AREA_CODES)?,
            road_stems: words(ROAD_STEMS)?,
            road_suffixes: words(ROAD_SUFFIXES)?,
            surnames: words(SURNAMES)?,
            given_names: words(GIVEN_NAMES)?,
            opening_hours: rows(OPENING_HOURS)?,
        };
        tables.check()?;
        Ok(tables)
    }

    /// What serde cannot see: the generator picks from every table, so none
    /// may be empty, and a weighted pick needs a positive total.
    fn check(&self) -> Result<(), TableError> {
        let empty = |file: &'static str, len: usize| {
            if len == 0 {
                Err(TableError::new(file, "has no rows"))
            } else {
                Ok(())
            }
        };
        empty(BIG_CITIES.0, self.big_cities.len())?;
        empty(AREA_CODES.0, self.area_codes.len())?;
        empty(ROAD_STEMS.0, self.road_stems.len())?;
        empty(ROAD_SUFFIXES.0, self.road_suffixes.len())?;
        empty(SURNAMES.0, self.surnames.len())?;
        empty(GIVEN_NAMES.0, self.given_names.len())?;
        let total = self
            .opening_hours
            .iter()
            .try_fold(0u32, |sum, h| sum.checked_add(h.weight));
        if matches!(total, None | Some(0)) {
            return Err(TableError::new(
                OPENING_HOURS.0,
                "weights must add up to a positive number",
            ));
        }
        if let Some(a) = self
            .area_codes
            .iter()
            .find(|a| !matches!(a.prefix, 10..=99 | 1000..=9999))
        {
            return Err(TableError::new(
                AREA_CODES.0,
                format!("prefix {} is neither two nor four digits", a.prefix),
            ));
        }
        Ok(())
    }
}

/// The rows of a CSV table with a header, by column name; extra columns
/// (the place names kept for readers) are ignored.
fn rows<T: DeserializeOwned>((file, text): (&'static str, &str)) -> Result<Vec<T>, TableError> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| TableError::new(file, e.to_string()))
}

/// A one-column table: its header names the column, each row is one word.
fn words(table: (&'static str, &str)) -> Result<Vec<String>, TableError> {
    let rows: Vec<(String,)> = rows(table)?;
    let words: Vec<String> = rows.into_iter().map(|(w,)| w.trim().to_owned()).collect();
    if words.iter().any(String::is_empty) {
        return Err(TableError::new(table.0, "has an empty row"));
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tables_parse() {
        let t = Tables::embedded().unwrap();
        assert_eq!(t.big_cities.len(), 39);
        assert_eq!(t.excluded_cities.len(), 1);
        assert_eq!(t.area_codes.len(), 326);
        assert_eq!(t.road_stems.len(), 24);
        assert_eq!(t.road_suffixes.len(), 8);
        assert_eq!(t.surnames.len(), 30);
        assert_eq!(t.given_names.len(), 36);
        let total: u32 = t.opening_hours.iter().map(|h| h.weight).sum();
        assert_eq!(total, 100, "weights are percentages");
    }

    #[test]
    fn big_cities_are_city_keys_and_area_codes_look_like_area_codes() {
        let t = Tables::embedded().unwrap();
        for b in &t.big_cities {
            let muni = matches!(b.city.province_code(), 11 | 12 | 31 | 50);
            let key = if muni {
                b.city.province()
            } else {
                b.city.prefecture()
            };
            assert_eq!(b.city, key, "{}", b.city);
            assert!((2..=8).contains(&b.stations), "{}", b.city);
        }
        for a in &t.area_codes {
            assert!(a.area_code.starts_with('0'), "{}", a.prefix);
            assert!(matches!(a.area_code.len(), 3 | 4), "{}", a.prefix);
        }
    }

    #[test]
    fn a_broken_table_names_its_file() {
        let err = rows::<AreaCode>(("area_codes.csv", "prefix,area_code\nx,010\n")).unwrap_err();
        assert_eq!(err.file, "area_codes.csv");
        let err = words(("surnames.csv", "surname\n王\n \n")).unwrap_err();
        assert_eq!(err.file, "surnames.csv");
    }
}
