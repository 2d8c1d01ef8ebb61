-- The station directory, API tokens and small key/value facts.
CREATE TABLE stations (
    id               TEXT PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    province         TEXT NOT NULL,
    city             TEXT NOT NULL,
    adcode           TEXT NOT NULL,
    region           TEXT NOT NULL,
    address          TEXT NOT NULL,
    phone            TEXT NOT NULL,
    lat              DOUBLE PRECISION NOT NULL,
    lon              DOUBLE PRECISION NOT NULL,
    services         TEXT NOT NULL,
    products         TEXT NOT NULL,
    opening_hours    TEXT NOT NULL,
    timezone         TEXT NOT NULL,
    onsite_radius_km DOUBLE PRECISION,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX stations_adcode ON stations (adcode);
CREATE INDEX stations_region ON stations (region);

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);

-- A counter bumped by every directory write, so other processes sharing the
-- database know when to refresh their index.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('directory_version', '0');
