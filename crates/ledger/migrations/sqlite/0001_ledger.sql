-- The linkledger ledger. Timestamps are UTC text with milliseconds,
-- "YYYY-MM-DDTHH:MM:SS.sssZ", so they sort and compare as strings.
-- Nothing is deleted; a row is only ever completed (an open outage closed),
-- never rewritten. Triggers enforce both.

-- One row per daemon start; the heartbeat says until when it was watching.
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    started_at    TEXT NOT NULL,
    heartbeat_at  TEXT NOT NULL,
    stopped_at    TEXT,              -- NULL: the run ended without a clean stop
    version       TEXT NOT NULL,
    config_path   TEXT NOT NULL,
    interval_ms   INTEGER NOT NULL
);

-- Each line as configured, a new row whenever its configuration changes.
CREATE TABLE line_configs (
    id            INTEGER PRIMARY KEY,
    line          TEXT NOT NULL,
    config_json   TEXT NOT NULL,
    valid_from    TEXT NOT NULL,
    run_id        INTEGER NOT NULL REFERENCES runs(id)
);
CREATE INDEX line_configs_line ON line_configs(line, id);

-- Carrier outages: maximal runs of `down`. start_at is the first failed
-- round, start_after the last round with evidence before it (NULL: none
-- known); end_at is the first good round, end_after the last failed one.
CREATE TABLE outages (
    id            INTEGER PRIMARY KEY,
    line          TEXT NOT NULL,
    start_at      TEXT NOT NULL,
    start_after   TEXT,
    end_at        TEXT,              -- NULL while open
    end_after     TEXT,
    cause         TEXT NOT NULL,
    interval_ms   INTEGER NOT NULL,
    run_opened    INTEGER NOT NULL REFERENCES runs(id),
    run_closed    INTEGER REFERENCES runs(id)
);
CREATE UNIQUE INDEX outages_one_open_per_line ON outages(line) WHERE end_at IS NULL;
CREATE INDEX outages_line_start ON outages(line, start_at);

-- Our own side failing: recorded, never charged to the carrier.
CREATE TABLE local_faults (
    id            INTEGER PRIMARY KEY,
    line          TEXT NOT NULL,
    start_at      TEXT NOT NULL,
    start_after   TEXT,
    end_at        TEXT,
    end_after     TEXT,
    interval_ms   INTEGER NOT NULL,
    run_opened    INTEGER NOT NULL REFERENCES runs(id),
    run_closed    INTEGER REFERENCES runs(id)
);
CREATE UNIQUE INDEX local_faults_one_open_per_line ON local_faults(line) WHERE end_at IS NULL;

-- Time without observation. line NULL: the whole daemon was away.
CREATE TABLE gaps (
    id            INTEGER PRIMARY KEY,
    line          TEXT,
    start_at      TEXT NOT NULL,
    end_at        TEXT NOT NULL,
    reason        TEXT NOT NULL,     -- daemon_not_running | probe_failed
    run_id        INTEGER NOT NULL REFERENCES runs(id)
);
CREATE INDEX gaps_start ON gaps(start_at);

-- Per-minute probe rollups per target. rtt_hist is a sparse histogram
-- "bucket:count,..." where bucket b holds RTTs in [50us*1.25^b, 50us*1.25^(b+1)).
CREATE TABLE probe_minutes (
    line          TEXT NOT NULL,
    tier          TEXT NOT NULL,
    target        TEXT NOT NULL,
    minute        TEXT NOT NULL,
    sent          INTEGER NOT NULL,
    received      INTEGER NOT NULL,
    rtt_min_us    INTEGER,
    rtt_max_us    INTEGER,
    rtt_sum_us    INTEGER NOT NULL,
    jitter_sum_us INTEGER NOT NULL,  -- sum of |rtt_i - rtt_(i-1)| between consecutive replies
    jitter_n      INTEGER NOT NULL,
    rtt_hist      TEXT NOT NULL,
    PRIMARY KEY (line, tier, target, minute)
);

CREATE TRIGGER outages_never_deleted BEFORE DELETE ON outages
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER outages_only_closed BEFORE UPDATE ON outages
WHEN OLD.end_at IS NOT NULL OR NEW.line IS NOT OLD.line OR NEW.start_at IS NOT OLD.start_at
  OR NEW.start_after IS NOT OLD.start_after OR NEW.cause IS NOT OLD.cause
  OR NEW.run_opened IS NOT OLD.run_opened OR NEW.interval_ms IS NOT OLD.interval_ms
BEGIN SELECT RAISE(ABORT, 'an outage is only ever closed, never rewritten'); END;
CREATE TRIGGER local_faults_never_deleted BEFORE DELETE ON local_faults
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER local_faults_only_closed BEFORE UPDATE ON local_faults
WHEN OLD.end_at IS NOT NULL OR NEW.line IS NOT OLD.line OR NEW.start_at IS NOT OLD.start_at
  OR NEW.start_after IS NOT OLD.start_after
BEGIN SELECT RAISE(ABORT, 'a local fault is only ever closed, never rewritten'); END;
CREATE TRIGGER gaps_never_deleted BEFORE DELETE ON gaps
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER gaps_never_updated BEFORE UPDATE ON gaps
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
CREATE TRIGGER runs_never_deleted BEFORE DELETE ON runs
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER line_configs_never_deleted BEFORE DELETE ON line_configs
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
