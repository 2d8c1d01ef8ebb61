-- Technicians of on-site stations, and the capacity they have booked per
-- calendar day (Asia/Shanghai). A booking is reserved by one conditional
-- upsert, so no technician day can exceed its capacity however many
-- processes book at once.
CREATE TABLE technicians (
    id             INTEGER PRIMARY KEY,
    station_id     TEXT NOT NULL REFERENCES stations (id) ON DELETE RESTRICT,
    name           TEXT NOT NULL,
    skills         TEXT NOT NULL,
    daily_capacity INTEGER NOT NULL CHECK (daily_capacity BETWEEN 0 AND 50),
    on_duty        BOOLEAN NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX technicians_station ON technicians (station_id);

CREATE TABLE capacity_bookings (
    technician_id BIGINT NOT NULL REFERENCES technicians (id) ON DELETE CASCADE,
    day           TEXT NOT NULL,
    booked        INTEGER NOT NULL CHECK (booked >= 0),
    PRIMARY KEY (technician_id, day)
);
