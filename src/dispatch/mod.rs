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
        let policy = Policy::embedded();
        let calendar = BusinessCalendar::china(&policy.calendar)?;
        let travel = travel::TravelModel::from_config(osrm_url, osrm_timeout)?;
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
