-- The hash chain: every record that can count in a dispute commits to
-- every record before it, so an edit, a deletion or an insertion made
-- behind the triggers' back (by anyone who can open the file) shows.
--
-- One row of `ledger_chain` per event of a record: its insertion, and for
-- a record completed later (an outage or local fault closed, a degradation
-- ended, a fault resolved, a run stopped) its completion. A trigger on
-- each table of record adds the row in the same statement as the record;
-- the ledger crate seals it (fills `encoding` and `chain`) before the
-- transaction commits. `fields` names the record's columns the event
-- covers, in order; a column that may still change (a run's heartbeat)
-- is in none.
--
-- encoding: netstrings ("<length in bytes>:<bytes>,") of, in order: seq,
--   record_table, record_id, event, recorded_at, then for each field its
--   name and its value as stored: "n" (NULL), "i<decimal>" (integer),
--   "r<16 hex digits>" (real: its IEEE-754 bits, big-endian), "t<text>",
--   "b<hex>" (blob). Timestamps are the ledger's UTC text with
--   milliseconds, as stored.
-- chain: hex of SHA-256(previous chain's 32 bytes || encoding); before
--   seq 1 the previous chain is 32 zero bytes.
CREATE TABLE ledger_chain (
    seq           INTEGER PRIMARY KEY,
    record_table  TEXT NOT NULL,
    record_id     INTEGER NOT NULL,
    event         TEXT NOT NULL,     -- insert | close | resolve | stop
    fields        TEXT NOT NULL,     -- comma-separated column names
    recorded_at   TEXT NOT NULL,
    encoding      TEXT,              -- NULL until sealed
    chain         TEXT               -- NULL until sealed
);
CREATE INDEX ledger_chain_record ON ledger_chain(record_table, event, record_id);
CREATE INDEX ledger_chain_unsealed ON ledger_chain(seq) WHERE chain IS NULL;
CREATE INDEX ledger_chain_recorded ON ledger_chain(recorded_at);
CREATE TRIGGER ledger_chain_never_deleted BEFORE DELETE ON ledger_chain
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER ledger_chain_only_sealed BEFORE UPDATE ON ledger_chain
WHEN OLD.chain IS NOT NULL OR NEW.seq IS NOT OLD.seq OR NEW.record_table IS NOT OLD.record_table
  OR NEW.record_id IS NOT OLD.record_id OR NEW.event IS NOT OLD.event OR NEW.fields IS NOT OLD.fields
  OR NEW.recorded_at IS NOT OLD.recorded_at OR NEW.chain IS NULL OR NEW.encoding IS NULL
BEGIN SELECT RAISE(ABORT, 'a chain link is only ever sealed, never rewritten'); END;

-- What happened to the chain itself: chained once on upgrade, a break
-- accepted by an operator at start (`--accept-broken-chain`, with the
-- reason and the breaks found, as JSON in detail).
CREATE TABLE chain_marks (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('chained_on_upgrade', 'break_accepted')),
    reason  TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE TRIGGER chain_marks_never_deleted BEFORE DELETE ON chain_marks
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER chain_marks_never_updated BEFORE UPDATE ON chain_marks
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;

-- Each table of record adds its events to the chain.
CREATE TRIGGER runs_chained AFTER INSERT ON runs
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('runs', NEW.rowid, 'insert', 'started_at,version,config_path,interval_ms', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER runs_stop_chained_at_insert AFTER INSERT ON runs WHEN NEW.stopped_at IS NOT NULL
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('runs', NEW.rowid, 'stop', 'stopped_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER runs_stop_chained AFTER UPDATE OF stopped_at ON runs WHEN OLD.stopped_at IS NULL AND NEW.stopped_at IS NOT NULL
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('runs', NEW.rowid, 'stop', 'stopped_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER line_configs_chained AFTER INSERT ON line_configs
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('line_configs', NEW.rowid, 'insert', 'line,config_json,valid_from,run_id', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER contract_terms_chained AFTER INSERT ON contract_terms
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('contract_terms', NEW.rowid, 'insert', 'terms_json,valid_from,run_id', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER outages_chained AFTER INSERT ON outages
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('outages', NEW.rowid, 'insert', 'line,block,start_at,start_after,cause,interval_ms,run_opened', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER outages_close_chained_at_insert AFTER INSERT ON outages WHEN NEW.end_at IS NOT NULL
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('outages', NEW.rowid, 'close', 'end_at,end_after,run_closed', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER outages_close_chained AFTER UPDATE OF end_at ON outages WHEN OLD.end_at IS NULL AND NEW.end_at IS NOT NULL
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('outages', NEW.rowid, 'close', 'end_at,end_after,run_closed', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER outage_causes_chained AFTER INSERT ON outage_causes
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('outage_causes', NEW.rowid, 'insert', 'outage_id,seen_at,cause', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER local_faults_chained AFTER INSERT ON local_faults
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('local_faults', NEW.rowid, 'insert', 'line,start_at,start_after,interval_ms,run_opened', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER local_faults_close_chained_at_insert AFTER INSERT ON local_faults WHEN NEW.end_at IS NOT NULL
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('local_faults', NEW.rowid, 'close', 'end_at,end_after,run_closed', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER local_faults_close_chained AFTER UPDATE OF end_at ON local_faults WHEN OLD.end_at IS NULL AND NEW.end_at IS NOT NULL
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('local_faults', NEW.rowid, 'close', 'end_at,end_after,run_closed', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER gaps_chained AFTER INSERT ON gaps
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('gaps', NEW.rowid, 'insert', 'line,start_at,end_at,reason,run_id', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER degradations_chained AFTER INSERT ON degradations
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('degradations', NEW.rowid, 'insert', 'line,kind,start_at,detail,run_opened', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER degradations_close_chained_at_insert AFTER INSERT ON degradations WHEN NEW.end_at IS NOT NULL
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('degradations', NEW.rowid, 'close', 'end_at,run_closed', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER degradations_close_chained AFTER UPDATE OF end_at ON degradations WHEN OLD.end_at IS NULL AND NEW.end_at IS NOT NULL
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('degradations', NEW.rowid, 'close', 'end_at,run_closed', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER faults_chained AFTER INSERT ON faults
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('faults', NEW.rowid, 'insert', 'line,detected_at,trigger,class,run_opened', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER faults_resolve_chained_at_insert AFTER INSERT ON faults WHEN NEW.resolved_at IS NOT NULL
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('faults', NEW.rowid, 'resolve', 'resolved_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER faults_resolve_chained AFTER UPDATE OF resolved_at ON faults WHEN OLD.resolved_at IS NULL AND NEW.resolved_at IS NOT NULL
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('faults', NEW.rowid, 'resolve', 'resolved_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER fault_links_chained AFTER INSERT ON fault_links
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('fault_links', NEW.rowid, 'insert', 'fault_id,kind,ref_id,linked_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER fault_events_chained AFTER INSERT ON fault_events
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('fault_events', NEW.rowid, 'insert', 'fault_id,at,recorded_at,kind,class,deadline,actor,text', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER exclusions_chained AFTER INSERT ON exclusions
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('exclusions', NEW.rowid, 'insert', 'line,start_at,end_at,reason,evidence,approved_by,approved_at,recorded_by,recorded_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER maintenance_chained AFTER INSERT ON maintenance
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('maintenance', NEW.rowid, 'insert', 'line,start_at,end_at,notice_at,consented,reference,recorded_by,recorded_at,consented_by,consented_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER maintenance_approvals_chained AFTER INSERT ON maintenance_approvals
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('maintenance_approvals', NEW.rowid, 'insert', 'maintenance_id,approved_by,reason,at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER withdrawals_chained AFTER INSERT ON withdrawals
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('withdrawals', NEW.rowid, 'insert', 'record,record_id,actor,at,reason', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER drills_chained AFTER INSERT ON drills
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('drills', NEW.rowid, 'insert', 'held_on,scenario,participants,result,recorded_by,recorded_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER agreed_outages_chained AFTER INSERT ON agreed_outages
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('agreed_outages', NEW.rowid, 'insert', 'line,start_at,end_at,evidence,approved_by,recorded_by,recorded_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER audit_log_chained AFTER INSERT ON audit_log
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('audit_log', NEW.rowid, 'insert', 'at,actor,via,action,subject,details,reason', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER notices_chained AFTER INSERT ON notices
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('notices', NEW.rowid, 'insert', 'key,kind,line,fault_id,class,at,created_at,detail', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER deliveries_chained AFTER INSERT ON deliveries
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('deliveries', NEW.rowid, 'insert', 'notice_id,channel,attempt,at,outcome,detail', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER path_traces_chained AFTER INSERT ON path_traces
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('path_traces', NEW.rowid, 'insert', 'line,block,outage_id,origin,target,taken_at,reached,last_hop,hops,recorded_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER clock_steps_chained AFTER INSERT ON clock_steps
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('clock_steps', NEW.rowid, 'insert', 'run_id,run_time,wall_time,step_ms,followed', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER journal_replays_chained AFTER INSERT ON journal_replays
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('journal_replays', NEW.rowid, 'insert', 'journal,run_id,writes,damaged,replayed_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
CREATE TRIGGER chain_marks_chained AFTER INSERT ON chain_marks
BEGIN INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) VALUES ('chain_marks', NEW.rowid, 'insert', 'at,kind,reason,detail', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;

-- A ledger from before this migration: every record it holds is chained
-- now, table by table in the order above, each in row order, then the
-- completions (closings, resolutions, stops) the same way; the mark that
-- says so is chained last (none on a new, empty ledger).
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'runs', rowid, 'insert', 'started_at,version,config_path,interval_ms', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM runs ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'line_configs', rowid, 'insert', 'line,config_json,valid_from,run_id', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM line_configs ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'contract_terms', rowid, 'insert', 'terms_json,valid_from,run_id', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM contract_terms ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'outages', rowid, 'insert', 'line,block,start_at,start_after,cause,interval_ms,run_opened', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM outages ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'outage_causes', rowid, 'insert', 'outage_id,seen_at,cause', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM outage_causes ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'local_faults', rowid, 'insert', 'line,start_at,start_after,interval_ms,run_opened', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM local_faults ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'gaps', rowid, 'insert', 'line,start_at,end_at,reason,run_id', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM gaps ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'degradations', rowid, 'insert', 'line,kind,start_at,detail,run_opened', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM degradations ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'faults', rowid, 'insert', 'line,detected_at,trigger,class,run_opened', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM faults ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'fault_links', rowid, 'insert', 'fault_id,kind,ref_id,linked_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM fault_links ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'fault_events', rowid, 'insert', 'fault_id,at,recorded_at,kind,class,deadline,actor,text', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM fault_events ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'exclusions', rowid, 'insert', 'line,start_at,end_at,reason,evidence,approved_by,approved_at,recorded_by,recorded_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM exclusions ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'maintenance', rowid, 'insert', 'line,start_at,end_at,notice_at,consented,reference,recorded_by,recorded_at,consented_by,consented_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM maintenance ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'maintenance_approvals', rowid, 'insert', 'maintenance_id,approved_by,reason,at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM maintenance_approvals ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'withdrawals', rowid, 'insert', 'record,record_id,actor,at,reason', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM withdrawals ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'drills', rowid, 'insert', 'held_on,scenario,participants,result,recorded_by,recorded_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM drills ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'agreed_outages', rowid, 'insert', 'line,start_at,end_at,evidence,approved_by,recorded_by,recorded_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM agreed_outages ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'audit_log', rowid, 'insert', 'at,actor,via,action,subject,details,reason', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM audit_log ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'notices', rowid, 'insert', 'key,kind,line,fault_id,class,at,created_at,detail', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM notices ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'deliveries', rowid, 'insert', 'notice_id,channel,attempt,at,outcome,detail', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM deliveries ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'path_traces', rowid, 'insert', 'line,block,outage_id,origin,target,taken_at,reached,last_hop,hops,recorded_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM path_traces ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'clock_steps', rowid, 'insert', 'run_id,run_time,wall_time,step_ms,followed', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM clock_steps ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'journal_replays', rowid, 'insert', 'journal,run_id,writes,damaged,replayed_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM journal_replays ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'runs', rowid, 'stop', 'stopped_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM runs WHERE stopped_at IS NOT NULL ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'outages', rowid, 'close', 'end_at,end_after,run_closed', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM outages WHERE end_at IS NOT NULL ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'local_faults', rowid, 'close', 'end_at,end_after,run_closed', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM local_faults WHERE end_at IS NOT NULL ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'degradations', rowid, 'close', 'end_at,run_closed', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM degradations WHERE end_at IS NOT NULL ORDER BY rowid;
INSERT INTO ledger_chain (record_table, record_id, event, fields, recorded_at) SELECT 'faults', rowid, 'resolve', 'resolved_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM faults WHERE resolved_at IS NOT NULL ORDER BY rowid;
INSERT INTO chain_marks (at, kind, reason, detail) SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'chained_on_upgrade', 'records written before the chain existed, chained once on upgrade', json_object('records', count(*)) FROM ledger_chain HAVING count(*) > 0;
