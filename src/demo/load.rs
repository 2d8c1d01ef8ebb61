//! The committed demo network, embedded in the binary, and loading it into
//! an empty database so a fresh server has something to show.

use anyhow::Context;

use crate::dispatch::{Technician, TechnicianDraft};
use crate::network::import::{self, Format};
use crate::store::{self, Db};

/// `data/demo/stations.csv`, in the importer's columns.
pub const STATIONS_CSV: &str = include_str!("../../data/demo/stations.csv");
/// `data/demo/technicians.csv`.
pub const TECHNICIANS_CSV: &str = include_str!("../../data/demo/technicians.csv");

/// Loads the demo network when the directory is empty; returns whether it
/// did. A directory with any station is left alone, so real data is never
/// mixed with invented data.
pub async fn load_demo_if_empty(db: &Db) -> anyhow::Result<bool> {
    if store::stations::count(db).await? > 0 {
        return Ok(false);
    }
    let parsed = import::parse(Format::Csv, STATIONS_CSV.as_bytes())?;
    anyhow::ensure!(
        parsed.errors.is_empty(),
        "demo data has invalid rows: {:?}",
        parsed.errors
    );
    let technicians = demo_technicians()?;
    store::stations::upsert_many(db, &parsed.stations).await?;
    store::technicians::upsert_many(db, &technicians).await?;
    tracing::info!(
        stations = parsed.stations.len(),
        technicians = technicians.len(),
        "loaded the demo network"
    );
    Ok(true)
}

/// The committed demo technicians.
pub fn demo_technicians() -> anyhow::Result<Vec<Technician>> {
    let mut rdr = csv::Reader::from_reader(TECHNICIANS_CSV.as_bytes());
    rdr.deserialize::<TechnicianDraft>()
        .enumerate()
        .map(|(i, row)| {
            // Row numbers as a spreadsheet shows them: the header is row 1.
            let line = i + 2;
            let draft = row.with_context(|| format!("technicians.csv row {line}"))?;
            Technician::try_from(draft).map_err(|e| {
                anyhow::anyhow!("technicians.csv row {line}: invalid technician: {e:?}")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_files_load_without_errors() {
        let parsed = import::parse(Format::Csv, STATIONS_CSV.as_bytes()).unwrap();
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let techs = demo_technicians().unwrap();
        assert!(!techs.is_empty());
        let stations: std::collections::HashSet<_> =
            parsed.stations.iter().map(|s| &s.id).collect();
        assert!(techs.iter().all(|t| stations.contains(&t.station_id)));
    }
}
