//! The station directory: the validated station model, the exact spatial
//! index and the queries on it, import and export.

pub mod export;
pub mod filter;
pub mod import;
pub mod index;
pub mod model;
pub mod query;

pub use filter::{BBox, StationFilter};
pub use index::{Hit, SharedIndex, StationIndex};
pub use model::{Product, Service, Station, StationDraft, StationId};
