-- Customer messages (the transactional outbox): written in the same
-- transaction as the job change that causes them, delivered afterwards by
-- whichever server process claims them first. A claim is a lease
-- (`claimed_until`): a process that dies mid-send lets another retry.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    job_id          BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    template        TEXT NOT NULL,
    text            TEXT NOT NULL,
    params          TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until   TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT
);
CREATE INDEX messages_due ON messages (state, next_attempt_at);
CREATE INDEX messages_job ON messages (job_id);

-- A request's own key on an audit entry: a technician's page replays a
-- queued action with the same key and gets the first answer back.
ALTER TABLE job_events ADD COLUMN request_key TEXT;
CREATE UNIQUE INDEX job_events_request_key ON job_events (job_id, request_key)
    WHERE request_key IS NOT NULL;
