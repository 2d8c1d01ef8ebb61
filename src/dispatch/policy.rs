//! Warranty, calendar and SLA policy. The network's defaults ship in
//! `data/policy.json` and are embedded in the binary; a deployment may load
//! its own file of the same shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::Tier;

const EMBEDDED: &str = include_str!("../../data/policy.json");

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy file is not valid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("policy is inconsistent: {0}")]
    Invalid(String),
}

/// The whole policy document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub warranty: WarrantyPolicy,
    pub calendar: CalendarPolicy,
    pub sla: SlaPolicy,
    pub carry_in: CarryInPolicy,
    pub follow_up_window_days: u32,
}

/// Day counts are inclusive upper bounds with day 0 = the purchase day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarrantyPolicy {
    pub no_reason_return_days: u32,
    pub quality_return_days: u32,
    pub quality_exchange_days: u32,
    pub free_repair_months: u32,
}

/// Working hours of stations and the SLA clock, on the wall clock of `timezone`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarPolicy {
    pub timezone: String,
    /// `HH:MM`
    pub open: String,
    /// `HH:MM`, after `open`.
    pub close: String,
    /// `mon`..`sun`
    pub working_weekdays: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    /// Share of a target after which a running clock is `warning`.
    pub warning_share: f64,
    /// Share of the repair-completion target at which, if the repair is not
    /// done, the customer must be told it may be late.
    pub notify_customer_share: f64,
    pub tiers: BTreeMap<Tier, TierTargets>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierTargets {
    /// From job creation to the technician on site, in business hours.
    pub onsite_first_visit_business_hours: u32,
    /// From job creation (on-site) or receipt (carry-in) to repaired, in
    /// calendar days.
    pub repair_completion_days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarryInPolicy {
    pub notice_interval_days: u32,
    pub max_notices: u8,
}

impl Policy {
    /// The defaults shipped in `data/policy.json`.
    #[allow(
        clippy::expect_used,
        reason = "the embedded policy is fixed at build time and parsed by the tests"
    )]
    pub fn embedded() -> Self {
        Self::from_json(EMBEDDED).expect("embedded data/policy.json is valid")
    }

    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let p: Policy = serde_json::from_str(text)?;
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<(), PolicyError> {
        let w = &self.warranty;
        if !(w.quality_return_days <= w.quality_exchange_days && w.free_repair_months >= 1) {
            return Err(PolicyError::Invalid(
                "warranty windows must satisfy return <= exchange and free_repair_months >= 1"
                    .into(),
            ));
        }
        for share in [self.sla.warning_share, self.sla.notify_customer_share] {
            if !(share > 0.0 && share < 1.0) {
                return Err(PolicyError::Invalid(format!(
                    "SLA shares must be in (0, 1), got {share}"
                )));
            }
        }
        for t in Tier::ALL {
            match self.sla.tiers.get(t) {
                Some(x)
                    if x.onsite_first_visit_business_hours > 0 && x.repair_completion_days > 0 => {}
                _ => {
                    return Err(PolicyError::Invalid(format!(
                        "tier {t} needs positive SLA targets"
                    )))
                }
            }
        }
        if self.carry_in.max_notices == 0 {
            return Err(PolicyError::Invalid(
                "max_notices must be at least 1".into(),
            ));
        }
        super::calendar::BusinessCalendar::from_policy(&self.calendar, &[])
            .map_err(|e| PolicyError::Invalid(e.to_string()))?;
        Ok(())
    }

    pub fn tier(&self, t: Tier) -> TierTargets {
        // `check` guarantees every tier is present.
        self.sla.tiers[&t]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_policy_loads_with_design_defaults() {
        let p = Policy::embedded();
        assert_eq!(p.warranty.no_reason_return_days, 7);
        assert_eq!(p.warranty.quality_return_days, 15);
        assert_eq!(p.warranty.quality_exchange_days, 30);
        assert_eq!(p.warranty.free_repair_months, 3);
        assert_eq!(p.tier(Tier::Standard).repair_completion_days, 7);
        assert!(
            p.tier(Tier::Vip).onsite_first_visit_business_hours
                < p.tier(Tier::Standard).onsite_first_visit_business_hours
        );
        assert_eq!(p.carry_in.max_notices, 3);
    }

    #[test]
    fn inconsistent_policy_is_rejected() {
        let mut v: serde_json::Value = serde_json::from_str(EMBEDDED).unwrap();
        v["sla"]["warning_share"] = serde_json::json!(1.5);
        assert!(Policy::from_json(&v.to_string()).is_err());
        let mut v: serde_json::Value = serde_json::from_str(EMBEDDED).unwrap();
        v["sla"]["tiers"].as_object_mut().unwrap().remove("vip");
        assert!(Policy::from_json(&v.to_string()).is_err());
        let mut v: serde_json::Value = serde_json::from_str(EMBEDDED).unwrap();
        v["calendar"]["close"] = serde_json::json!("08:00");
        assert!(Policy::from_json(&v.to_string()).is_err());
    }
}
