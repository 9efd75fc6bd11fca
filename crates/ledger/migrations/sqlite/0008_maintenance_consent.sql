-- Who consented to a maintenance window and when (a window recorded
-- before this migration has neither: its consent is as it was recorded),
-- and a manager's approval of a window recorded after it began: such a
-- window is never excluded from the charge, and without an approval it
-- counts as an interruption without notice.
ALTER TABLE maintenance ADD COLUMN consented_by TEXT;
ALTER TABLE maintenance ADD COLUMN consented_at TEXT;

CREATE TABLE maintenance_approvals (
    id              INTEGER PRIMARY KEY,
    maintenance_id  INTEGER NOT NULL UNIQUE REFERENCES maintenance(id),
    approved_by     TEXT NOT NULL,
    reason          TEXT NOT NULL,
    at              TEXT NOT NULL
);
CREATE TRIGGER maintenance_approvals_never_deleted BEFORE DELETE ON maintenance_approvals
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER maintenance_approvals_never_updated BEFORE UPDATE ON maintenance_approvals
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
