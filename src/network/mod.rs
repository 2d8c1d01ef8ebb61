//! The station directory: the validated station model, the exact spatial
//! index and the queries on it, import and export.

pub mod demo;
pub mod model;

pub use model::{Adcode, LatLon, Product, Service, Station, StationDraft, StationId};
