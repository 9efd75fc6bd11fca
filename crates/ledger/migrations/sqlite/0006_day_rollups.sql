-- Each line's probe quality per local day (the contract's time zone),
-- summed over its upstream targets from probe_minutes, so that reports
-- over a quarter or a year need not read every minute. Written by the
-- daemon once a day is over; derived from probe_minutes, which stay the
-- evidence. day_start is the UTC instant of the local midnight.
CREATE TABLE quality_days (
    line          TEXT NOT NULL,
    day_start     TEXT NOT NULL,
    day_end       TEXT NOT NULL,
    minutes       INTEGER NOT NULL,  -- minutes with at least one probe
    sent          INTEGER NOT NULL,
    received      INTEGER NOT NULL,
    rtt_sum_us    INTEGER NOT NULL,
    jitter_sum_us INTEGER NOT NULL,
    jitter_n      INTEGER NOT NULL,
    rtt_hist      TEXT NOT NULL,     -- "bucket:count,..." as in probe_minutes
    PRIMARY KEY (line, day_start)
);
CREATE TRIGGER quality_days_never_deleted BEFORE DELETE ON quality_days
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER quality_days_never_updated BEFORE UPDATE ON quality_days
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;

-- Reports, the roll-up and a fault's evidence read a line's minutes over a
-- time range across its targets; the primary key leads with the target.
CREATE INDEX probe_minutes_line_minute ON probe_minutes(line, minute);

-- Each line's 5-minute traffic samples per local day, packed: reports over
-- a quarter or a year read one row a day instead of 288. rates holds, per
-- sample in time order, six little-endian f64: milliseconds from
-- day_start, seconds covered, average in, average out, maximum in, maximum
-- out (bit/s). Written by the daemon once a day is over; traffic_samples
-- stays the evidence.
CREATE TABLE traffic_days (
    line          TEXT NOT NULL,
    day_start     TEXT NOT NULL,
    day_end       TEXT NOT NULL,
    samples       INTEGER NOT NULL,
    rates         BLOB NOT NULL,
    PRIMARY KEY (line, day_start)
);
CREATE TRIGGER traffic_days_never_deleted BEFORE DELETE ON traffic_days
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER traffic_days_never_updated BEFORE UPDATE ON traffic_days
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
