//! Reports: KPIs per region and station.
