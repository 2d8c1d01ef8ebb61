//! Places: service regions, the divisions gazetteer, address matching and
//! coordinate systems. Pure logic; no I/O beyond reading embedded data.

pub mod region;

pub use region::Region;
