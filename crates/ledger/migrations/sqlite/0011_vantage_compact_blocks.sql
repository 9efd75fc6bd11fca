-- Agent rounds kept compactly, and outages of the public IP blocks.
--
-- A round no longer keeps every target's result as JSON (67 KB a round
-- for 1,000 targets): the agent's target list is kept once per distinct
-- list (vantage_target_sets), and each round keeps the indices into it of
-- the targets that did not answer ("3,7-9"; empty: all answered) and, per
-- configured block, how many targets it probed, how many answered and the
-- median round-trip (`blocks`, JSON). Rows stored before this keep their
-- `results` JSON; rows from now on have results = ''.
CREATE TABLE vantage_target_sets (
    id          INTEGER PRIMARY KEY,
    targets     TEXT NOT NULL UNIQUE,   -- JSON array, in the agent's order
    first_seen  TEXT NOT NULL
);
CREATE TRIGGER vantage_target_sets_never_deleted BEFORE DELETE ON vantage_target_sets
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER vantage_target_sets_never_updated BEFORE UPDATE ON vantage_target_sets
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;

ALTER TABLE vantage_rounds ADD COLUMN target_set INTEGER REFERENCES vantage_target_sets(id);
ALTER TABLE vantage_rounds ADD COLUMN unanswered TEXT;
ALTER TABLE vantage_rounds ADD COLUMN blocks TEXT;
-- The block judge reads rounds of every agent in time order.
DROP INDEX vantage_rounds_at;
CREATE INDEX vantage_rounds_time ON vantage_rounds(at);

-- A block outage is an outage of the line whose block it is, with the
-- block named (NULL: the line itself, seen from inside), cause
-- ip_block_unreachable. One open outage per line and per block.
ALTER TABLE outages ADD COLUMN block TEXT;
DROP INDEX outages_one_open_per_line;
CREATE UNIQUE INDEX outages_one_open_per_line ON outages(line, coalesce(block, '')) WHERE end_at IS NULL;
DROP TRIGGER outages_only_closed;
CREATE TRIGGER outages_only_closed BEFORE UPDATE ON outages
WHEN OLD.end_at IS NOT NULL OR NEW.line IS NOT OLD.line OR NEW.start_at IS NOT OLD.start_at
  OR NEW.start_after IS NOT OLD.start_after OR NEW.cause IS NOT OLD.cause
  OR NEW.run_opened IS NOT OLD.run_opened OR NEW.interval_ms IS NOT OLD.interval_ms
  OR NEW.block IS NOT OLD.block
BEGIN SELECT RAISE(ABORT, 'an outage is only ever closed, never rewritten'); END;

-- How far the block judge has judged each block: every agent round up to
-- `judged_until` has been fed to it with no verdict pending. Progress, not
-- evidence: the one row here that is updated in place.
CREATE TABLE block_judged (
    line          TEXT NOT NULL,
    block         TEXT NOT NULL,
    judged_until  TEXT NOT NULL,
    PRIMARY KEY (line, block)
);
