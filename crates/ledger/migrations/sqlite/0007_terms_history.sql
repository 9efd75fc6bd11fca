-- The contract terms a fault is judged by (deadlines, class rules, where
-- the response time runs from), a new row whenever they change, as
-- line_configs keeps the lines': a fault is judged by the terms in force
-- when it was detected, so a reload never re-judges the past.
CREATE TABLE contract_terms (
    id            INTEGER PRIMARY KEY,
    terms_json    TEXT NOT NULL,
    valid_from    TEXT NOT NULL,
    run_id        INTEGER REFERENCES runs(id)
);
CREATE INDEX contract_terms_from ON contract_terms(valid_from, id);
CREATE TRIGGER contract_terms_never_deleted BEFORE DELETE ON contract_terms
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
CREATE TRIGGER contract_terms_never_updated BEFORE UPDATE ON contract_terms
BEGIN SELECT RAISE(ABORT, 'ledger rows are never rewritten'); END;
