//! The demo network: an invented station directory and technician roster
//! that lets the server run, and the tests and benchmarks work, with no real
//! data at all. It is a development tool, not part of the service itself.
//!
//! [`generate()`] builds the network from the gazetteer and the tables in
//! `data/demo/tables/`, deterministically for a seed; `repairnet demo-data
//! --out data/demo` writes it as the committed `data/demo/*.csv`, and a unit
//! test fails when those files and the generator disagree. [`load`] embeds
//! the committed files and loads them into an empty database at start-up.
//! [`history`] makes a demo job history over it (90 days on first start).

pub mod bulk;
pub mod generate;
pub mod history;
pub mod load;
mod tables;

pub use generate::{
    generate, write_csv, DemoNetwork, GenerateError, DEFAULT_SEED, STATIONS_FILE, TECHNICIANS_FILE,
};
pub use load::{demo_technicians, load_demo_if_empty, STATIONS_CSV, TECHNICIANS_CSV};
pub use tables::TableError;
