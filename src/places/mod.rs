//! Places: service regions, the divisions gazetteer, address matching and
//! coordinate systems. Pure logic; no I/O beyond reading embedded data.

pub mod crs;
pub mod gazetteer;
pub mod geocode;
pub mod region;
mod traditional;

pub use crs::{is_shifted, Crs};
pub use gazetteer::{Division, Gazetteer, Level};
pub use geocode::{GeoMatch, Geocoded, MAX_ADDRESS_CHARS};
pub use region::Region;
