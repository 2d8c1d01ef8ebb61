//! Dispatch: technicians, repair jobs, warranty, SLA clocks and assignment.
//!
//! Everything here is pure domain logic with no I/O, except [`travel`], which
//! may ask an OSRM server for road travel times (and falls back to a
//! straight-line model when it cannot), and [`service`], the use cases that
//! read and write jobs through the store.

pub mod calendar;
pub mod day;
pub mod intake;
pub mod job;
pub mod model;
pub mod optimize;
pub mod policy;
pub mod recommend;
pub mod service;
pub mod sla;
pub mod state;
pub mod travel;
pub mod view;
pub mod warranty;

pub use calendar::BusinessCalendar;
pub use model::{
    Customer, Damage, ItemCondition, JobCode, JobId, JobKind, RequestKind, Technician,
    TechnicianDraft, TechnicianId, Tier,
};
pub use policy::Policy;
pub use service::{DispatchError, DispatchService};

/// The dispatch configuration a running server holds: the policy, its
/// business calendar and the travel-time model.
#[derive(Debug, Clone)]
pub struct DispatchContext {
    pub policy: Policy,
    pub calendar: BusinessCalendar,
    pub travel: travel::TravelModel,
}

impl DispatchContext {
    /// The embedded policy and holiday calendar, and OSRM when a URL is given.
    pub fn new(osrm_url: Option<&str>, osrm_timeout: std::time::Duration) -> anyhow::Result<Self> {
        Self::configured(osrm_url, osrm_timeout, None, None)
    }

    /// [`DispatchContext::new`] with a deployment's own policy and holiday
    /// files instead of the shipped ones; a file that does not read or
    /// check stops here with a message naming it.
    pub fn configured(
        osrm_url: Option<&str>,
        osrm_timeout: std::time::Duration,
        policy_file: Option<&std::path::Path>,
        holidays_file: Option<&std::path::Path>,
    ) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
        };
        let policy = match policy_file {
            Some(p) => Policy::from_json(&read(p)?)
                .with_context(|| format!("policy file {}", p.display()))?,
            None => Policy::embedded(),
        };
        let calendar = match holidays_file {
            Some(p) => {
                let days = calendar::parse_special_days(&read(p)?)
                    .with_context(|| format!("holidays file {}", p.display()))?;
                BusinessCalendar::from_policy(&policy.calendar, &days)
                    .with_context(|| format!("holidays file {}", p.display()))?
            }
            None => BusinessCalendar::china(&policy.calendar)?,
        };
        let travel = travel::TravelModel::from_config(osrm_url, osrm_timeout)?;
        // `PH` in stations' opening hours means the same holidays as the
        // SLA clock.
        crate::network::model::use_public_holidays(calendar.holidays());
        Ok(DispatchContext {
            policy,
            calendar,
            travel,
        })
    }

    /// The rules job writes keep the daily KPI tallies under.
    pub fn kpi_rules(&self) -> crate::reports::kpi::Rules {
        crate::reports::kpi::Rules {
            warning_share: self.policy.sla.warning_share,
            tz: self.calendar.timezone(),
        }
    }
}
