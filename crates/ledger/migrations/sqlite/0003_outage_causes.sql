-- Evidence about an open outage's cause that arrived after it was declared
-- (the interface's own status, seen by SNMP after ICMP had already declared
-- the outage). Appended, never rewritten: the outage keeps the cause it was
-- declared with, and readers report the most specific one.
CREATE TABLE outage_causes (
    id          INTEGER PRIMARY KEY,
    outage_id   INTEGER NOT NULL REFERENCES outages(id),
    seen_at     TEXT NOT NULL,
    cause       TEXT NOT NULL
);
CREATE INDEX outage_causes_outage ON outage_causes(outage_id, seen_at);
CREATE TRIGGER outage_causes_never_deleted BEFORE DELETE ON outage_causes
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER outage_causes_never_updated BEFORE UPDATE ON outage_causes
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
