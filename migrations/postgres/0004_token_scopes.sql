-- A token's scope (`region:CODE`, `station:ID`, `technician:ID`; NULL for
-- the whole network) and when it stops working (NULL: never).
ALTER TABLE api_tokens ADD COLUMN scope TEXT;
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMPTZ;
