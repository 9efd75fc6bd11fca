-- Writes the daemon could not make before it stopped (the database
-- refusing them to the end) are kept in a journal file beside the ledger
-- and replayed at the next start, in one transaction with the row that
-- says so: a journal is replayed exactly once.
CREATE TABLE journal_replays (
    journal     TEXT PRIMARY KEY,     -- the journal's id (its header)
    run_id      INTEGER NOT NULL,     -- the run whose writes it kept
    writes      INTEGER NOT NULL,     -- records replayed
    damaged     INTEGER NOT NULL,     -- records after a damaged one, not replayed (kept aside)
    replayed_at TEXT NOT NULL
);

CREATE TRIGGER journal_replays_no_update BEFORE UPDATE ON journal_replays
BEGIN SELECT RAISE(ABORT, 'a journal replay is never rewritten'); END;
CREATE TRIGGER journal_replays_no_delete BEFORE DELETE ON journal_replays
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
