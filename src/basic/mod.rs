//! Basic types below the domains: points on the sphere, division codes,
//! field errors and their collector, closed string enums, list cells and the
//! JSON merge patch, and the clock as an input. `network`, `places`, `dispatch` and `auth` build on
//! these; nothing here imports a domain.

pub mod adcode;
pub mod clock;
pub mod enums;
pub mod fields;
pub mod lists;
pub mod patch;
pub mod point;

pub use adcode::Adcode;
pub use clock::{Clock, ManualClock, SystemClock};
pub(crate) use enums::string_enum;
pub use fields::{FieldError, Fields};
pub use lists::{join_list, page_cursor, parse_list, read_cursor, split_list};
pub use patch::merge_patch;
pub use point::{chord_for_metres, metres_for_chord, LatLon, EARTH_RADIUS_M};
