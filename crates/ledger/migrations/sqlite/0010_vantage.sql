-- Observations of the public IP blocks pushed by vantage agents outside the
-- customer's network: one row per agent round, as the agent sent it
-- (per-agent sequence number, the agent's clock, its own side's health and
-- each block target's result as JSON), with when it was received. A batch
-- replayed or sent twice is stored once (agent, seq).
CREATE TABLE vantage_rounds (
    agent        TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    at           TEXT NOT NULL,
    own_healthy  INTEGER NOT NULL CHECK (own_healthy IN (0, 1)),
    results      TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    backlog      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent, seq)
);
CREATE INDEX vantage_rounds_at ON vantage_rounds(agent, at);
CREATE TRIGGER vantage_rounds_never_deleted BEFORE DELETE ON vantage_rounds
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER vantage_rounds_never_updated BEFORE UPDATE ON vantage_rounds
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
