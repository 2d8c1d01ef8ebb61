//! Technicians, customers and job vocabulary. Values are validated on
//! construction so storage and HTTP never re-check them.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::basic::{parse_list, string_enum, FieldError, Fields};
use crate::network::model::{Product, StationId};

string_enum!(
    /// Customer service tier; SLA targets differ per tier (see `policy.json`).
    Tier { Standard => "standard", Vip => "vip" }
);

string_enum!(
    /// On-site repair at the customer's address, or carried in to a station.
    JobKind { Onsite => "onsite", CarryIn => "carry_in" }
);

string_enum!(
    /// What the customer asks for.
    RequestKind { QualityProblem => "quality_problem", NoReasonReturn => "no_reason_return" }
);

string_enum!(
    /// Who damaged the item, if anyone.
    Damage { None => "none", Customer => "customer" }
);

/// The state of the returned item, as the agent records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct ItemCondition {
    /// Can be sold again as new (no use marks, seals intact where required).
    pub resalable: bool,
    /// Packaging, accessories and the warranty card are all present.
    pub packaging_complete: bool,
    pub custom_made: bool,
    pub special_price: bool,
}

/// A database row id of a job.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A technician's id: a positive integer (the database row id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(transparent)]
pub struct TechnicianId(i64);

impl TechnicianId {
    pub fn new(v: i64) -> Result<Self, FieldError> {
        if v > 0 {
            Ok(Self(v))
        } else {
            Err(FieldError::new(
                "id",
                format!("technician id must be a positive integer, got {v}"),
            ))
        }
    }
    pub fn value(self) -> i64 {
        self.0
    }
}

impl fmt::Display for TechnicianId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for TechnicianId {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<i64>()
            .map_err(|_| {
                FieldError::new("id", format!("technician id must be an integer, got {s:?}"))
            })
            .and_then(Self::new)
    }
}

impl<'de> Deserialize<'de> for TechnicianId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        TechnicianId::new(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Letters and digits that cannot be confused when read over the phone or
/// typed from a receipt: no 0/O, 1/I/L, and no U (avoids accidental words).
const CODE_ALPHABET: &[u8; 30] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODE_PREFIX: &str = "RN-";

/// The customer-facing job code, e.g. `RN-7K3Q-9XW2` (8 symbols, ~39 bits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "RN-7K3Q-9XW2")]
pub struct JobCode(String);

impl JobCode {
    /// Derives a code from random bits; the caller supplies the randomness
    /// (and retries on a unique-constraint clash, which is rare at 6.6e11 codes).
    pub fn from_random(mut bits: u64) -> Self {
        let mut s = String::with_capacity(12);
        s.push_str(CODE_PREFIX);
        for i in 0..8 {
            if i == 4 {
                s.push('-');
            }
            s.push(CODE_ALPHABET[(bits % 30) as usize] as char);
            bits /= 30;
        }
        Self(s)
    }

    /// Accepts any case, surrounding spaces, and the code with or without its
    /// dashes or prefix, since customers type it from memory.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let cleaned: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != ' ')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let body = cleaned.strip_prefix("RN").unwrap_or(&cleaned);
        let ok = body.len() == 8 && body.bytes().all(|b| CODE_ALPHABET.contains(&b));
        if !ok {
            return Err(FieldError::new(
                "code",
                format!("job code must look like RN-7K3Q-9XW2, got {s:?}"),
            ));
        }
        Ok(Self(format!("{CODE_PREFIX}{}-{}", &body[..4], &body[4..])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for JobCode {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for JobCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        JobCode::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A customer's phone number, kept as its digits (a leading `+` is allowed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let t = s.trim();
        let (plus, rest) = match t.strip_prefix('+') {
            Some(r) => ("+", r),
            None => ("", t),
        };
        let digits: String = rest.chars().filter(|c| *c != ' ' && *c != '-').collect();
        if !(5..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(
                "customer.phone",
                "phone must be 5-20 digits (spaces and dashes are ignored)",
            ));
        }
        Ok(Self(format!("{plus}{digits}")))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The last four digits, which a customer gives to track a job.
    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Phone::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A validated customer.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Customer {
    pub name: String,
    #[schema(value_type = String)]
    pub phone: Phone,
    pub tier: Tier,
}

/// The wire form of a customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustomerDraft {
    pub name: String,
    pub phone: String,
    #[serde(default)]
    pub tier: Option<String>,
}

impl Customer {
    pub fn phone_last4(&self) -> &str {
        self.phone.last4()
    }
}

impl TryFrom<CustomerDraft> for Customer {
    type Error = Vec<FieldError>;
    fn try_from(d: CustomerDraft) -> Result<Self, Self::Error> {
        let mut f = Fields::new();
        let name = d.name.trim().to_owned();
        f.check(
            valid_name(&name),
            "customer.name",
            "name must be 1-60 characters without control characters",
        );
        let phone = f.take(Phone::parse(&d.phone));
        let tier = match d.tier.as_deref().map(str::trim) {
            None | Some("") => Some(Tier::Standard),
            Some(t) => f.take_as("customer.tier", t.parse::<Tier>()),
        };
        match (phone, tier) {
            (Some(phone), Some(tier)) if f.is_empty() => Ok(Customer { name, phone, tier }),
            _ => Err(f.into_errors()),
        }
    }
}

/// A person's name: 1-60 characters, none of them control characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().count() <= 60 && !name.chars().any(char::is_control)
}

/// A validated technician. Build one from a [`TechnicianDraft`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Technician {
    pub id: TechnicianId,
    pub station_id: StationId,
    pub name: String,
    pub skills: BTreeSet<Product>,
    /// Jobs a technician can take per Asia/Shanghai calendar day, 1..=20.
    pub daily_capacity: u32,
    pub on_duty: bool,
}

impl Technician {
    pub fn can_repair(&self, p: Product) -> bool {
        self.skills.contains(&p)
    }
}

/// The wire and CSV form of a technician. As a CSV row the columns are
/// `id,station_id,name,skills,daily_capacity,on_duty`, with skills written
/// `notebook;desktop`. `id` may be absent when the database assigns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TechnicianDraft {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub station_id: String,
    pub name: String,
    #[serde(deserialize_with = "skills_list")]
    #[schema(value_type = Vec<String>)]
    pub skills: Vec<String>,
    pub daily_capacity: i64,
    #[serde(default = "yes", deserialize_with = "flexible_bool")]
    pub on_duty: bool,
}

fn yes() -> bool {
    true
}

/// JSON gives a list, a CSV cell gives `notebook;desktop`.
fn skills_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Cell(String),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::List(v) => v,
        Raw::Cell(s) => s
            .split([';', ',', '|'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// CSV cells carry booleans as text.
fn flexible_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        B(bool),
        S(String),
    }
    match Raw::deserialize(d)? {
        Raw::B(b) => Ok(b),
        Raw::S(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "y" => Ok(true),
            "false" | "0" | "no" | "n" => Ok(false),
            other => Err(serde::de::Error::custom(format!(
                "on_duty must be true or false, got {other:?}"
            ))),
        },
    }
}

impl TechnicianDraft {
    /// Validates with an id the database has just assigned.
    pub fn validate_with_id(mut self, id: i64) -> Result<Technician, Vec<FieldError>> {
        self.id = Some(id);
        Technician::try_from(self)
    }
}

impl TryFrom<TechnicianDraft> for Technician {
    /// Every problem with the draft, so an import report lists them all.
    type Error = Vec<FieldError>;

    fn try_from(d: TechnicianDraft) -> Result<Self, Self::Error> {
        let mut f = Fields::new();
        let id = f.take(
            d.id.ok_or_else(|| FieldError::new("id", "id is required"))
                .and_then(TechnicianId::new),
        );
        let station_id = f.take_as("station_id", StationId::parse(d.station_id.trim()));
        let name = d.name.trim().to_owned();
        f.check(
            valid_name(&name),
            "name",
            "name must be 1-60 characters without control characters",
        );
        let skills = f.take(parse_list::<Product>("skills", &d.skills.join(";")));
        f.check(
            !skills.as_ref().is_some_and(BTreeSet::is_empty),
            "skills",
            "at least one skill is required",
        );
        let daily_capacity = f.take(
            u32::try_from(d.daily_capacity)
                .ok()
                .filter(|c| (1..=20).contains(c))
                .ok_or_else(|| {
                    FieldError::new(
                        "daily_capacity",
                        format!("daily_capacity must be 1-20, got {}", d.daily_capacity),
                    )
                }),
        );
        match (id, station_id, skills, daily_capacity) {
            (Some(id), Some(station_id), Some(skills), Some(daily_capacity)) if f.is_empty() => {
                Ok(Technician {
                    id,
                    station_id,
                    name,
                    skills,
                    daily_capacity,
                    on_duty: d.on_duty,
                })
            }
            _ => Err(f.into_errors()),
        }
    }
}

impl From<&Technician> for TechnicianDraft {
    fn from(t: &Technician) -> Self {
        TechnicianDraft {
            id: Some(t.id.value()),
            station_id: t.station_id.to_string(),
            name: t.name.clone(),
            skills: t
                .skills
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            daily_capacity: i64::from(t.daily_capacity),
            on_duty: t.on_duty,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_code_round_trips_and_rejects_ambiguous_symbols() {
        for bits in [0u64, 1, 42, u64::MAX, 0xDEAD_BEEF_CAFE] {
            let c = JobCode::from_random(bits);
            assert_eq!(c.as_str().len(), 12);
            assert_eq!(JobCode::parse(c.as_str()).unwrap(), c);
            assert_eq!(JobCode::parse(&c.as_str().to_lowercase()).unwrap(), c);
            let bare: String = c.as_str()[3..].chars().filter(|c| *c != '-').collect();
            assert_eq!(JobCode::parse(&bare).unwrap(), c);
        }
        assert_ne!(JobCode::from_random(1), JobCode::from_random(2));
        assert!(JobCode::parse("RN-7K3Q-9XW0").is_err()); // 0 is not in the alphabet
        assert!(JobCode::parse("RN-7K3Q-9XWI").is_err());
        assert!(JobCode::parse("RN-7K3Q-9XW").is_err());
        assert!(JobCode::parse("").is_err());
    }

    #[test]
    fn phone_validation_and_last4() {
        let p = Phone::parse(" 138-0013 8000 ").unwrap();
        assert_eq!(p.as_str(), "13800138000");
        assert_eq!(p.last4(), "8000");
        assert_eq!(
            Phone::parse("+86 10 1234 5678").unwrap().as_str(),
            "+861012345678"
        );
        assert!(Phone::parse("1234").is_err());
        assert!(Phone::parse("123456789012345678901").is_err());
        assert!(Phone::parse("1380013800a").is_err());
        assert!(Phone::parse("12345").is_ok());
    }

    #[test]
    fn customer_collects_errors_and_defaults_tier() {
        let c = Customer::try_from(CustomerDraft {
            name: "张三".into(),
            phone: "13800138000".into(),
            tier: None,
        })
        .unwrap();
        assert_eq!(c.tier, Tier::Standard);
        assert_eq!(c.phone_last4(), "8000");
        let errs = Customer::try_from(CustomerDraft {
            name: " ".into(),
            phone: "12".into(),
            tier: Some("gold".into()),
        })
        .unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["customer.name", "customer.phone", "customer.tier"]);
    }

    #[test]
    fn technician_from_csv_row() {
        let csv = "id,station_id,name,skills,daily_capacity,on_duty\n\
                   7,S-1,王师傅,notebook;desktop,6,true\n\
                   0,bad id,,teleporter,21,maybe\n";
        let mut rdr = csv::Reader::from_reader(csv.as_bytes());
        let mut rows = rdr.deserialize::<TechnicianDraft>();
        let t = Technician::try_from(rows.next().unwrap().unwrap()).unwrap();
        assert_eq!(t.id.value(), 7);
        assert_eq!(t.station_id.as_str(), "S-1");
        assert!(t.can_repair(Product::Desktop) && !t.can_repair(Product::Printer));
        assert_eq!(t.daily_capacity, 6);
        // A bad boolean is a row-level parse error.
        assert!(rows.next().unwrap().is_err());
    }

    #[test]
    fn technician_draft_collects_every_error() {
        let d = TechnicianDraft {
            id: Some(0),
            station_id: "bad id".into(),
            name: String::new(),
            skills: vec!["teleporter".into()],
            daily_capacity: 21,
            on_duty: true,
        };
        let errs = Technician::try_from(d).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["id", "station_id", "name", "skills", "daily_capacity"]
        );
        let json = r#"{"station_id":"S1","name":"李","skills":["monitor"],"daily_capacity":1}"#;
        let t = serde_json::from_str::<TechnicianDraft>(json)
            .unwrap()
            .validate_with_id(3)
            .unwrap();
        assert!(t.on_duty);
        assert_eq!(TechnicianDraft::from(&t).skills, ["monitor"]);
    }
}
