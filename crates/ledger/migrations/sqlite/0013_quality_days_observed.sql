-- Each line's probe quality per local day, as reports now judge it: only
-- minutes wholly outside the line's outages, local faults and unobserved
-- time count (a round inside an outage is the outage's, already charged;
-- one inside a local fault is our side's, not the carrier's quality).
-- Replaces quality_days for reading; quality_days stays as it was written
-- (ledger rows are never rewritten). Derived from probe_minutes, which
-- stay the evidence.
CREATE TABLE quality_days_observed (
    line             TEXT NOT NULL,
    day_start        TEXT NOT NULL,
    day_end          TEXT NOT NULL,
    minutes          INTEGER NOT NULL,  -- minutes counted (with a probe, outside those)
    excluded_minutes INTEGER NOT NULL,  -- minutes with a probe left out
    sent             INTEGER NOT NULL,
    received         INTEGER NOT NULL,
    rtt_sum_us       INTEGER NOT NULL,
    jitter_sum_us    INTEGER NOT NULL,
    jitter_n         INTEGER NOT NULL,
    rtt_hist         TEXT NOT NULL,
    PRIMARY KEY (line, day_start)
);
CREATE TRIGGER quality_days_observed_never_deleted BEFORE DELETE ON quality_days_observed
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER quality_days_observed_never_updated BEFORE UPDATE ON quality_days_observed
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
