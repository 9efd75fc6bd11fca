-- The lease of an active/standby pair (daemon.active_standby): two daemons
-- with the same config on two hosts, one PostgreSQL ledger. One row: which
-- instance leads, under which fencing token, until when. The leader renews
-- it several times an interval; a standby that sees it unrenewed for the
-- lease's length (by its own clock, while it reaches the server), or let
-- go, takes it with a new token.
--
-- The row is coordination, not evidence: it is updated in place and is not
-- chained. Each leadership is a run (runs), which is.
CREATE TABLE leadership (
    id          INT PRIMARY KEY CHECK (id = 1),
    token       BIGINT NOT NULL,            -- the fencing token: one more at every takeover
    holder      TEXT NOT NULL,              -- the instance leading (daemon.instance, pid)
    beat        BIGINT NOT NULL DEFAULT 0,  -- one more at every renewal
    released    BOOLEAN NOT NULL DEFAULT false, -- let go by a leader stopping cleanly
    taken_at    TIMESTAMPTZ NOT NULL,
    renewed_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);

-- The fence. A pair's daemon sets linkledger.fence on every connection it
-- uses: its token while it leads, 'standby' while it does not. Every
-- statement that changes a table of record checks it against the lease and
-- is refused unless it matches: a deposed leader (cut off by a partition,
-- say) cannot write once another instance holds the lease, whatever it had
-- queued. The check takes a share lock on the lease row, so a takeover
-- waits for the writes already checked to commit, and those after it are
-- refused. Connections without the setting (the CLI, single daemons,
-- `migrate`) are not fenced.
CREATE FUNCTION ledger_fence() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mine text := current_setting('linkledger.fence', true);
BEGIN
    IF mine IS NULL OR mine = '' THEN
        RETURN NULL;
    END IF;
    IF mine = 'standby' THEN
        RAISE EXCEPTION 'fenced: this linkledger daemon is the standby of its pair and does not write the ledger (table %)', TG_TABLE_NAME
            USING ERRCODE = '55000';
    END IF;
    -- Checked once a transaction: the share lock holds the lease as it
    -- was until the transaction ends.
    IF current_setting('linkledger.fence_checked', true) = mine THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM leadership WHERE id = 1 AND token = mine::bigint FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'fenced: lease token % no longer leads this ledger; another linkledger daemon took it over (table %)', mine, TG_TABLE_NAME
            USING ERRCODE = '55000';
    END IF;
    PERFORM set_config('linkledger.fence_checked', mine, true);
    RETURN NULL;
END $$;

DO $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT c.relname::text FROM pg_class c
             WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
               AND c.relname NOT IN ('_sqlx_migrations', 'leadership')
    LOOP
        -- The WHEN clause spares connections without a token the call.
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE ON %I FOR EACH STATEMENT '
                       'WHEN (coalesce(current_setting(''linkledger.fence'', true), '''') <> '''') '
                       'EXECUTE FUNCTION ledger_fence()',
                       t || '_fence', t);
    END LOOP;
END $$;

-- The lease row stays, and its token only ever grows: a token used once
-- must never lead again (a deposed leader still holding it would write).
CREATE FUNCTION leadership_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.token >= OLD.token THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'the pair''s lease is never removed and its fencing token never goes back (%)', TG_OP;
END $$;
CREATE TRIGGER leadership_guard BEFORE UPDATE OR DELETE ON leadership
    FOR EACH ROW EXECUTE FUNCTION leadership_guard();
CREATE TRIGGER leadership_no_truncate BEFORE TRUNCATE ON leadership
    FOR EACH STATEMENT EXECUTE FUNCTION leadership_guard();
