//! GB/T 2260 administrative division codes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::FieldError;

/// A six-digit GB/T 2260 administrative division code (e.g. 510703).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ToSchema)]
#[schema(value_type = String, example = "510703")]
pub struct Adcode(u32);

impl Adcode {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        match s.parse::<u32>() {
            Ok(v) if s.len() == 6 && (110_000..=829_999).contains(&v) => Ok(Self(v)),
            _ => Err(FieldError::new(
                "adcode",
                format!("adcode must be 6 digits between 110000 and 829999, got {s:?}"),
            )),
        }
    }
    pub fn from_u32(v: u32) -> Result<Self, FieldError> {
        Self::parse(&format!("{v:06}"))
    }
    /// A JSON string or number, as station files carry it.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, FieldError> {
        match v {
            serde_json::Value::String(s) => Adcode::parse(s),
            serde_json::Value::Number(n) => {
                n.as_u64().and_then(|v| u32::try_from(v).ok()).map_or_else(
                    || Err(FieldError::new("adcode", "adcode must be 6 digits")),
                    Adcode::from_u32,
                )
            }
            _ => Err(FieldError::new("adcode", "adcode must be 6 digits")),
        }
    }
    pub fn value(self) -> u32 {
        self.0
    }
    /// The two-digit province prefix (e.g. 51 for 四川).
    pub fn province_code(self) -> u32 {
        self.0 / 10_000
    }
    /// The province-level adcode (e.g. 510000).
    #[must_use]
    pub fn province(self) -> Adcode {
        Adcode(self.0 / 10_000 * 10_000)
    }
    /// The prefecture-level adcode (e.g. 510700).
    #[must_use]
    pub fn prefecture(self) -> Adcode {
        Adcode(self.0 / 100 * 100)
    }
}

impl fmt::Display for Adcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl FromStr for Adcode {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Adcode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Adcode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            N(u32),
        }
        match Raw::deserialize(d)? {
            Raw::S(s) => Adcode::parse(&s),
            Raw::N(n) => Adcode::from_u32(n),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adcode_validation_and_levels() {
        assert_eq!(Adcode::parse("510703").unwrap().value(), 510_703);
        assert_eq!(
            Adcode::parse("510703").unwrap().prefecture().to_string(),
            "510700"
        );
        assert_eq!(
            Adcode::parse("510703").unwrap().province().to_string(),
            "510000"
        );
        assert!(Adcode::parse("51070").is_err());
        assert!(Adcode::parse("abcdef").is_err());
        assert_eq!(
            Adcode::from_json(&serde_json::json!(510703)).unwrap(),
            Adcode::from_json(&serde_json::json!("510703")).unwrap()
        );
        assert!(Adcode::from_json(&serde_json::json!(-1)).is_err());
        assert!(Adcode::from_json(&serde_json::json!(null)).is_err());
    }
}
