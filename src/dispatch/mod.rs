//! Dispatch: technicians, repair jobs, warranty, SLA clocks and assignment.
//!
//! Everything here is pure domain logic with no I/O, except [`travel`], which
//! may ask an OSRM server for road travel times (and falls back to a
//! straight-line model when it cannot).

pub mod calendar;
pub mod model;
pub mod optimize;
pub mod policy;
pub mod recommend;
pub mod sla;
pub mod state;
pub mod travel;
pub mod warranty;

pub use calendar::BusinessCalendar;
pub use model::{
    Customer, Damage, ItemCondition, JobCode, JobId, JobKind, RequestKind, Technician,
    TechnicianDraft, TechnicianId, Tier,
};
pub use policy::Policy;
