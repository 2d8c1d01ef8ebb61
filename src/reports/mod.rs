//! Reports: KPIs per network, region and station from the job history
//! ([`kpi`], pure), their targets ([`targets`]) and the report use case
//! over the store and the station index ([`service`]).

pub mod kpi;
pub mod service;
pub mod targets;

pub use service::{KpiQuery, Report, ReportError};
