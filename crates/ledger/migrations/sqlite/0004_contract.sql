-- The contract engine: fault tickets with their timelines, degradations,
-- force-majeure exclusions, maintenance windows, drills and the audit log
-- of every operator action. Like the rest of the ledger, nothing is deleted
-- or rewritten: a fault is only ever resolved once, a withdrawn exclusion
-- or maintenance window is a new row in `withdrawals`, and every change of
-- class or deadline breach is an event appended to `fault_events`.

-- Quality below the contract's thresholds for a window: not downtime, but a
-- (general) fault. kind: loss | rtt | utilisation.
CREATE TABLE degradations (
    id          INTEGER PRIMARY KEY,
    line        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    start_at    TEXT NOT NULL,
    end_at      TEXT,
    detail      TEXT NOT NULL,
    run_opened  INTEGER NOT NULL REFERENCES runs(id),
    run_closed  INTEGER REFERENCES runs(id)
);
CREATE UNIQUE INDEX degradations_one_open ON degradations(line, kind) WHERE end_at IS NULL;

-- Fault tickets. line NULL: the whole egress. class is the class it was
-- opened with; later classes are fault_events (escalated, reclassified).
CREATE TABLE faults (
    id           INTEGER PRIMARY KEY,
    line         TEXT,
    detected_at  TEXT NOT NULL,
    trigger      TEXT NOT NULL,       -- degradation | line_down | egress_down | ip_block_unreachable
    class        TEXT NOT NULL CHECK (class IN ('general', 'serious', 'major')),
    resolved_at  TEXT,
    run_opened   INTEGER REFERENCES runs(id)
);
CREATE UNIQUE INDEX faults_one_open ON faults(coalesce(line, '')) WHERE resolved_at IS NULL;

-- The outages and degradations a fault is about.
CREATE TABLE fault_links (
    fault_id    INTEGER NOT NULL REFERENCES faults(id),
    kind        TEXT NOT NULL CHECK (kind IN ('outage', 'degradation')),
    ref_id      INTEGER NOT NULL,
    linked_at   TEXT NOT NULL,
    PRIMARY KEY (fault_id, kind, ref_id)
);

-- A fault's timeline after detection. at: when it happened (as told by the
-- person recording it, or the deadline's due time); recorded_at: when it
-- was written. actor NULL: linkledger itself.
CREATE TABLE fault_events (
    id           INTEGER PRIMARY KEY,
    fault_id     INTEGER NOT NULL REFERENCES faults(id),
    at           TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    kind         TEXT NOT NULL,       -- escalated | reclassified | acknowledged | on_site | repair_report
                                      -- | carrier_ticket | note | deadline_breached | breach_withdrawn
    class        TEXT,                -- the new class (escalated, reclassified)
    deadline     TEXT,                -- deadline_breached: response | on_site | resolution | repair_report
    actor        TEXT,
    text         TEXT
);
CREATE INDEX fault_events_fault ON fault_events(fault_id, id);
CREATE UNIQUE INDEX fault_events_one_breach ON fault_events(fault_id, deadline) WHERE kind = 'deadline_breached';

-- Force-majeure exclusions (line NULL: the egress and every line).
CREATE TABLE exclusions (
    id           INTEGER PRIMARY KEY,
    line         TEXT,
    start_at     TEXT NOT NULL,
    end_at       TEXT NOT NULL CHECK (end_at > start_at),
    reason       TEXT NOT NULL,
    evidence     TEXT NOT NULL,
    approved_by  TEXT NOT NULL,
    approved_at  TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);

-- Planned maintenance announced by a carrier.
CREATE TABLE maintenance (
    id           INTEGER PRIMARY KEY,
    line         TEXT NOT NULL,
    start_at     TEXT NOT NULL,
    end_at       TEXT NOT NULL CHECK (end_at > start_at),
    notice_at    TEXT NOT NULL,
    consented    INTEGER NOT NULL CHECK (consented IN (0, 1)),
    reference    TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);

-- A withdrawn exclusion or maintenance window (the original row stays).
CREATE TABLE withdrawals (
    id           INTEGER PRIMARY KEY,
    record       TEXT NOT NULL CHECK (record IN ('exclusion', 'maintenance')),
    record_id    INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    at           TEXT NOT NULL,
    reason       TEXT NOT NULL,
    UNIQUE (record, record_id)
);

-- Emergency drills (the contract asks for two a year).
CREATE TABLE drills (
    id           INTEGER PRIMARY KEY,
    held_on      TEXT NOT NULL,       -- YYYY-MM-DD in the contract's zone
    scenario     TEXT NOT NULL,
    participants TEXT NOT NULL,
    result       TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);

-- Every accepted operator action: who (the person and the token or CLI
-- user), when, what, on what, and why.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    via          TEXT NOT NULL,       -- "api:<token name>" or "cli:<user>"
    action       TEXT NOT NULL,
    subject      TEXT NOT NULL,       -- e.g. "fault/42", "exclusion/3"
    details      TEXT NOT NULL,       -- the request, as JSON
    reason       TEXT
);

CREATE TRIGGER faults_never_deleted BEFORE DELETE ON faults
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER faults_only_resolved BEFORE UPDATE ON faults
WHEN OLD.resolved_at IS NOT NULL OR NEW.line IS NOT OLD.line OR NEW.detected_at IS NOT OLD.detected_at
  OR NEW.trigger IS NOT OLD.trigger OR NEW.class IS NOT OLD.class OR NEW.run_opened IS NOT OLD.run_opened
BEGIN SELECT RAISE(ABORT, 'a fault is only ever resolved, never rewritten'); END;
CREATE TRIGGER degradations_never_deleted BEFORE DELETE ON degradations
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER degradations_only_closed BEFORE UPDATE ON degradations
WHEN OLD.end_at IS NOT NULL OR NEW.line IS NOT OLD.line OR NEW.kind IS NOT OLD.kind
  OR NEW.start_at IS NOT OLD.start_at OR NEW.detail IS NOT OLD.detail
BEGIN SELECT RAISE(ABORT, 'a degradation is only ever closed, never rewritten'); END;
CREATE TRIGGER fault_links_never_deleted BEFORE DELETE ON fault_links
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER fault_links_never_updated BEFORE UPDATE ON fault_links
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
CREATE TRIGGER fault_events_never_deleted BEFORE DELETE ON fault_events
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER fault_events_never_updated BEFORE UPDATE ON fault_events
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
CREATE TRIGGER exclusions_never_deleted BEFORE DELETE ON exclusions
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER exclusions_never_updated BEFORE UPDATE ON exclusions
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
CREATE TRIGGER maintenance_never_deleted BEFORE DELETE ON maintenance
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER maintenance_never_updated BEFORE UPDATE ON maintenance
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
CREATE TRIGGER withdrawals_never_deleted BEFORE DELETE ON withdrawals
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER withdrawals_never_updated BEFORE UPDATE ON withdrawals
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
CREATE TRIGGER drills_never_deleted BEFORE DELETE ON drills
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER drills_never_updated BEFORE UPDATE ON drills
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
CREATE TRIGGER audit_log_never_deleted BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER audit_log_never_updated BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
