-- Outages both sides agree on (a carrier's ticket admitting two hours the
-- monitor did not see): recorded by a manager with evidence, they charge
-- the unobserved time they cover. Observed time stays as the monitor saw it.
CREATE TABLE agreed_outages (
    id           INTEGER PRIMARY KEY,
    line         TEXT NOT NULL,
    start_at     TEXT NOT NULL,
    end_at       TEXT NOT NULL CHECK (end_at > start_at),
    evidence     TEXT NOT NULL,
    approved_by  TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX agreed_outages_line ON agreed_outages(line, start_at);
CREATE TRIGGER agreed_outages_never_deleted BEFORE DELETE ON agreed_outages
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER agreed_outages_never_updated BEFORE UPDATE ON agreed_outages
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
