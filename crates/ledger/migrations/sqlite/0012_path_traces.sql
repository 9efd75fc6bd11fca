-- Path evidence: a traceroute taken when an outage is declared, from the
-- monitor to each upstream anchor (a line outage) and from each vantage
-- agent to the block (when it lost the block). `hops` is JSON, one entry
-- per TTL: {"ttl", "addr" (null: silent), "rtt_ms", "kind": router |
-- target | unreachable | silent}; `last_hop` the last address that
-- answered (NULL: none). outage_id is the line outage it was taken for
-- (NULL for an agent's: matched to block outages by time).
CREATE TABLE path_traces (
    id           INTEGER PRIMARY KEY,
    line         TEXT NOT NULL,
    block        TEXT,
    outage_id    INTEGER REFERENCES outages(id),
    origin       TEXT NOT NULL,      -- 'monitor' or the agent's id
    target       TEXT NOT NULL,
    taken_at     TEXT NOT NULL,
    reached      INTEGER NOT NULL CHECK (reached IN (0, 1)),
    last_hop     TEXT,
    hops         TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX path_traces_line ON path_traces(line, taken_at);
CREATE TRIGGER path_traces_never_deleted BEFORE DELETE ON path_traces
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER path_traces_never_updated BEFORE UPDATE ON path_traces
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
