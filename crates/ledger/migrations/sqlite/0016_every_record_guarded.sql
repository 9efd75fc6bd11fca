-- Every table of record refuses what the code never does to it: the
-- tables below had no trigger (or no update trigger) and are guarded now.
-- A run's row changes only by its heartbeat moving on and its clean stop.
CREATE TRIGGER runs_only_heartbeat BEFORE UPDATE ON runs
WHEN NEW.id IS NOT OLD.id OR NEW.started_at IS NOT OLD.started_at OR NEW.version IS NOT OLD.version
  OR NEW.config_path IS NOT OLD.config_path OR NEW.interval_ms IS NOT OLD.interval_ms
  OR NEW.heartbeat_at < OLD.heartbeat_at
BEGIN SELECT RAISE(ABORT, 'a run only ever records its heartbeat and its stop, never rewritten'); END;

-- A line's configuration history: a new row for each change.
CREATE TRIGGER line_configs_never_updated BEFORE UPDATE ON line_configs
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;

-- A minute's probe counts only grow (the parts of a minute are added up).
CREATE TRIGGER probe_minutes_only_added BEFORE UPDATE ON probe_minutes
WHEN NEW.line IS NOT OLD.line OR NEW.tier IS NOT OLD.tier OR NEW.target IS NOT OLD.target
  OR NEW.minute IS NOT OLD.minute OR NEW.sent < OLD.sent OR NEW.received < OLD.received
BEGIN SELECT RAISE(ABORT, 'probe counts are only ever added to, never rewritten'); END;
CREATE TRIGGER probe_minutes_never_deleted BEFORE DELETE ON probe_minutes
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;

-- Which notices each alert channel is owed, from when it was first configured.
CREATE TRIGGER notify_channels_never_updated BEFORE UPDATE ON notify_channels
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
CREATE TRIGGER notify_channels_never_deleted BEFORE DELETE ON notify_channels
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;

-- Where judging a block got to moves on; the row stays that block's.
CREATE TRIGGER block_judged_never_deleted BEFORE DELETE ON block_judged
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER block_judged_same_block BEFORE UPDATE ON block_judged
WHEN NEW.line IS NOT OLD.line OR NEW.block IS NOT OLD.block
BEGIN SELECT RAISE(ABORT, 'where judging a block got to stays that block''s'); END;
