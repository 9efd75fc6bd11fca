-- The alert outbox. A notice (an event that notifies) is written in the
-- same transaction as the state change that caused it, so an alert exists
-- exactly when its cause does; senders deliver it to each channel and
-- append every attempt to `deliveries`. Notices and deliveries are never
-- deleted or rewritten.

-- key: the idempotency key ("fault:12:opened", "budget:l1:2025-03-01:80"):
-- the same event is never queued twice. line NULL: the egress or the
-- daemon itself. at: when the event happened; detail: JSON figures.
CREATE TABLE notices (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    line        TEXT,
    fault_id    INTEGER REFERENCES faults(id),
    class       TEXT CHECK (class IS NULL OR class IN ('general', 'serious', 'major')),
    at          TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX notices_line_kind ON notices(line, kind, at);

-- Every delivery attempt. outcome: sent (the far end accepted it), failed
-- (try again), rejected (the far end refused it for good), skipped (the
-- channel's routing does not take it), summarised (folded into a flapping
-- summary). Only `failed` may repeat for a notice and channel.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    notice_id   INTEGER NOT NULL REFERENCES notices(id),
    channel     TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    at          TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('sent', 'failed', 'rejected', 'skipped', 'summarised')),
    detail      TEXT
);
CREATE INDEX deliveries_notice ON deliveries(notice_id, channel);
CREATE UNIQUE INDEX deliveries_once ON deliveries(notice_id, channel) WHERE outcome <> 'failed';

-- When each channel was first configured: it is owed the notices queued
-- from then on, not the whole history.
CREATE TABLE notify_channels (
    name          TEXT PRIMARY KEY,
    first_notice  INTEGER NOT NULL,
    added_at      TEXT NOT NULL
);

CREATE TRIGGER notices_append_only_update BEFORE UPDATE ON notices
BEGIN SELECT RAISE(ABORT, 'notices are never rewritten'); END;
CREATE TRIGGER notices_append_only_delete BEFORE DELETE ON notices
BEGIN SELECT RAISE(ABORT, 'notices are never deleted'); END;
CREATE TRIGGER deliveries_append_only_update BEFORE UPDATE ON deliveries
BEGIN SELECT RAISE(ABORT, 'deliveries are never rewritten'); END;
CREATE TRIGGER deliveries_append_only_delete BEFORE DELETE ON deliveries
BEGIN SELECT RAISE(ABORT, 'deliveries are never deleted'); END;
