-- Repair jobs and their audit log. Queryable facts are columns; the state
-- machine's full state, the warranty decision and the item condition are
-- JSON documents owned by the dispatch domain.
CREATE TABLE jobs (
    id                 INTEGER PRIMARY KEY,
    code               TEXT NOT NULL UNIQUE,
    kind               TEXT NOT NULL,
    status             TEXT NOT NULL,
    state              TEXT NOT NULL,
    version            BIGINT NOT NULL DEFAULT 1,
    region             TEXT,
    division_adcode    TEXT,
    station_id         TEXT REFERENCES stations (id) ON DELETE RESTRICT,
    technician_id      BIGINT REFERENCES technicians (id) ON DELETE RESTRICT,
    booked_day         TEXT,
    slot_period        TEXT,
    distance_m         DOUBLE PRECISION,
    eta_minutes        BIGINT,
    customer_name      TEXT NOT NULL,
    customer_phone     TEXT NOT NULL,
    phone_last4        TEXT NOT NULL,
    tier               TEXT NOT NULL,
    address            TEXT,
    lat                DOUBLE PRECISION NOT NULL,
    lon                DOUBLE PRECISION NOT NULL,
    product            TEXT NOT NULL,
    purchase_date      TEXT NOT NULL,
    request            TEXT NOT NULL,
    damage             TEXT NOT NULL,
    item               TEXT NOT NULL,
    problem            TEXT NOT NULL,
    warranty           TEXT NOT NULL,
    due_at             TEXT NOT NULL,
    first_visit_due_at TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    idempotency_key    TEXT UNIQUE,
    request_hash       TEXT
);
CREATE INDEX jobs_status ON jobs (status);
CREATE INDEX jobs_region ON jobs (region);
CREATE INDEX jobs_station ON jobs (station_id);
CREATE INDEX jobs_technician_day ON jobs (technician_id, booked_day);

CREATE TABLE job_events (
    id          INTEGER PRIMARY KEY,
    job_id      BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    event       TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    reason      TEXT,
    data        TEXT
);
CREATE INDEX job_events_job ON job_events (job_id);
