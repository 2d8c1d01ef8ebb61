-- Daily KPI tallies of settled jobs (completed, closed or cancelled), per
-- local day, the job's region and its station ('' where the job has none).
-- Written in the same transaction as the audit entry that changes them, so
-- a report adds up a few rows per station and day instead of re-reading
-- every job; open jobs are still tallied when a report is made.
CREATE TABLE kpi_days (
    day        TEXT NOT NULL,
    region     TEXT NOT NULL,
    station_id TEXT NOT NULL,
    counters   TEXT NOT NULL,
    PRIMARY KEY (day, region, station_id)
);

-- The rules the tallies were made under (definitions, warning share, time
-- zone): when they differ from the running server's, it rebuilds them.
CREATE TABLE kpi_meta (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL
);

-- Open jobs of a region (what a KPI report tallies itself): both columns
-- in one index, so a region's few open jobs are found without reading all
-- of its jobs; it also serves every lookup by region alone.
CREATE INDEX jobs_region_status ON jobs (region, status);
DROP INDEX jobs_region;
