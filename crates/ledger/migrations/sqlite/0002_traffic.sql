-- 5-minute traffic samples per line, from SNMP interface counters, kept for
-- the whole contract term: a quarter's 95th percentile is computed from these
-- raw samples. Rates are in bit/s; seconds_covered says how much of the five
-- minutes had valid rates (polls discarded after a reset do not count).
CREATE TABLE traffic_samples (
    line            TEXT NOT NULL,
    start_at        TEXT NOT NULL,
    seconds_covered REAL NOT NULL,
    avg_in_bps      REAL NOT NULL,
    avg_out_bps     REAL NOT NULL,
    max_in_bps      REAL NOT NULL,
    max_out_bps     REAL NOT NULL,
    in_errors       INTEGER NOT NULL,
    out_errors      INTEGER NOT NULL,
    in_discards     INTEGER NOT NULL,
    out_discards    INTEGER NOT NULL,
    PRIMARY KEY (line, start_at)
);
CREATE TRIGGER traffic_samples_never_deleted BEFORE DELETE ON traffic_samples
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER traffic_samples_never_updated BEFORE UPDATE ON traffic_samples
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
