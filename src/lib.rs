//! repairnet: the station directory, nearest search and repair dispatch of an
//! after-sales repair network. `lib` builds the whole application so the
//! binary and the integration tests start exactly the same thing.

pub mod dispatch;
pub mod network;
pub mod places;
pub mod reports;
