-- A caller is looked up by phone number while on the line.
CREATE INDEX jobs_customer_phone ON jobs (customer_phone);
