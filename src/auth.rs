//! Roles, scopes and API tokens (pure: no storage). A token carries exactly
//! one role and at most one scope; only its SHA-256 is ever stored.

use std::fmt;
use std::str::FromStr;

use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::basic::{string_enum, FieldError};
use crate::dispatch::model::TechnicianId;
use crate::network::StationId;
use crate::places::Region;

string_enum!(
    /// What a token may do. `admin` may do everything.
    Role {
        Agent => "agent",
        Dispatcher => "dispatcher",
        Technician => "technician",
        Manager => "manager",
        Parts => "parts",
        Admin => "admin",
    }
);

impl Role {
    /// Whether this role satisfies an endpoint that accepts `allowed`.
    pub fn is_allowed(self, allowed: &[Role]) -> bool {
        self == Role::Admin || allowed.contains(&self)
    }
}

/// The part of the network a token is limited to. Anything outside it is
/// answered as if it did not exist.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, ToSchema)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Scope {
    /// The whole network.
    #[default]
    All,
    Region(Region),
    #[schema(value_type = String)]
    Station(StationId),
    #[schema(value_type = i64)]
    Technician(TechnicianId),
}

impl Scope {
    /// Whether a job with these owners is inside the scope. A job belongs to
    /// its region, its station (receiving station, or its technician's) and
    /// its technician; an unassigned job belongs to no station, so only
    /// unscoped and region-scoped tokens see it.
    pub fn sees_job(
        &self,
        region: Option<Region>,
        station: Option<&StationId>,
        technician: Option<TechnicianId>,
    ) -> bool {
        match self {
            Scope::All => true,
            Scope::Region(r) => region == Some(*r),
            Scope::Station(s) => station == Some(s),
            Scope::Technician(t) => technician == Some(*t),
        }
    }

    /// Whether a station (by id and region) is inside the scope; a
    /// technician's scope holds no station.
    pub fn sees_station(&self, id: &StationId, region: Region) -> bool {
        match self {
            Scope::All => true,
            Scope::Region(r) => region == *r,
            Scope::Station(s) => s == id,
            Scope::Technician(_) => false,
        }
    }

    /// Whether a technician of a station (by id and region) is inside.
    pub fn sees_technician(&self, id: TechnicianId, station: &StationId, region: Region) -> bool {
        match self {
            Scope::Technician(t) => *t == id,
            other => other.sees_station(station, region),
        }
    }

    /// The region a scope is confined to, if any.
    pub fn region(&self) -> Option<Region> {
        match self {
            Scope::Region(r) => Some(*r),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::All => f.write_str("all"),
            Scope::Region(r) => write!(f, "region:{}", r.code()),
            Scope::Station(s) => write!(f, "station:{s}"),
            Scope::Technician(t) => write!(f, "technician:{t}"),
        }
    }
}

impl FromStr for Scope {
    type Err = FieldError;
    /// `all`, `region:CODE`, `station:ID` or `technician:ID`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            FieldError::new(
                "scope",
                format!("scope must be all, region:CODE, station:ID or technician:ID, got {s:?}"),
            )
        };
        match s.trim().split_once(':') {
            None if s.trim() == "all" => Ok(Scope::All),
            Some(("region", v)) => v.parse().map(Scope::Region).map_err(|e| e.under("scope")),
            Some(("station", v)) => StationId::parse(v)
                .map(Scope::Station)
                .map_err(|e| e.under("scope")),
            Some(("technician", v)) => v
                .parse()
                .map(Scope::Technician)
                .map_err(|e: FieldError| e.under("scope")),
            _ => Err(bad()),
        }
    }
}

/// Who is calling: a token's id, role and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub role: Role,
    pub scope: Scope,
}

impl Principal {
    /// The server itself (scheduled work): unscoped.
    pub fn system() -> Self {
        Principal {
            token_id: "system".into(),
            role: Role::Admin,
            scope: Scope::All,
        }
    }
}

/// The scope named by at most one of the CLI's `--region`, `--station` and
/// `--technician` flags; none is the whole network.
pub fn scope_from_flags(
    region: Option<&str>,
    station: Option<&str>,
    technician: Option<i64>,
) -> Result<Scope, FieldError> {
    match (region, station, technician) {
        (None, None, None) => Ok(Scope::All),
        (Some(r), None, None) => r
            .parse()
            .map(Scope::Region)
            .map_err(|e: FieldError| e.under("region")),
        (None, Some(s), None) => StationId::parse(s)
            .map(Scope::Station)
            .map_err(|e| e.under("station")),
        (None, None, Some(t)) => TechnicianId::new(t)
            .map(Scope::Technician)
            .map_err(|e| e.under("technician")),
        _ => Err(FieldError::new(
            "scope",
            "give at most one of --region, --station and --technician",
        )),
    }
}

/// Why a role and scope cannot go together on one token.
pub fn check_role_scope(role: Role, scope: &Scope) -> Result<(), FieldError> {
    match (role, scope) {
        (Role::Technician, Scope::Technician(_)) => Ok(()),
        (Role::Technician, _) => Err(FieldError::new(
            "scope",
            "a technician token is bound to one technician: give --technician ID",
        )),
        (_, Scope::Technician(_)) => Err(FieldError::new(
            "scope",
            "only a technician token can be bound to a technician",
        )),
        _ => Ok(()),
    }
}

/// A new random token: `rn_` and 64 hex digits (256 bits).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("rn_{}", hex::encode(bytes))
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 67);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn admin_passes_every_check_others_only_their_own() {
        assert!(Role::Admin.is_allowed(&[Role::Dispatcher]));
        assert!(Role::Agent.is_allowed(&[Role::Agent, Role::Dispatcher]));
        assert!(!Role::Manager.is_allowed(&[Role::Agent]));
        assert!(!Role::Technician.is_allowed(&[Role::Dispatcher]));
    }

    #[test]
    fn scopes_parse_print_and_decide_what_is_seen() {
        for s in [
            "all",
            "region:southwest",
            "station:S510703A",
            "technician:7",
        ] {
            assert_eq!(s.parse::<Scope>().unwrap().to_string(), s);
        }
        assert!("region:mars".parse::<Scope>().is_err());
        assert!("technician:0".parse::<Scope>().is_err());
        assert!("shop:1".parse::<Scope>().is_err());
        let s1 = StationId::parse("S1").unwrap();
        let s2 = StationId::parse("S2").unwrap();
        let t7 = TechnicianId::new(7).unwrap();
        let sw = Some(Region::Southwest);
        assert!(Scope::All.sees_job(None, None, None));
        assert!(Scope::Region(Region::Southwest).sees_job(sw, None, None));
        assert!(!Scope::Region(Region::East).sees_job(sw, Some(&s1), None));
        // An unassigned job belongs to no station.
        assert!(!Scope::Station(s1.clone()).sees_job(sw, None, None));
        assert!(Scope::Station(s1.clone()).sees_job(sw, Some(&s1), Some(t7)));
        assert!(!Scope::Station(s2.clone()).sees_job(sw, Some(&s1), Some(t7)));
        assert!(Scope::Technician(t7).sees_job(sw, Some(&s1), Some(t7)));
        assert!(!Scope::Technician(t7).sees_job(sw, Some(&s1), None));
        assert!(Scope::Technician(t7).sees_technician(t7, &s2, Region::East));
        assert!(!Scope::Technician(t7).sees_station(&s1, Region::Southwest));
    }

    #[test]
    fn technician_tokens_and_technician_scopes_go_together() {
        let t = Scope::Technician(TechnicianId::new(7).unwrap());
        assert!(check_role_scope(Role::Technician, &t).is_ok());
        assert!(check_role_scope(Role::Technician, &Scope::All).is_err());
        assert!(check_role_scope(Role::Dispatcher, &t).is_err());
        assert!(check_role_scope(Role::Dispatcher, &Scope::Region(Region::East)).is_ok());
    }
}
