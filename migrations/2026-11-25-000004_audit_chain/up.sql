-- The tamper-evident audit log. `audit_events` stays strictly immutable; a separate append-only table,
-- `audit_chain`, seals each event once its transaction has finished: row `seq` carries the SHA-256 of the
-- event's canonical rendering together with `seq` and the hash of row `seq - 1`, so that changing or
-- deleting a sealed event, or a chain row, breaks the chain where it happened (`keyport audit verify`).
--
-- Writers are never serialised: an event only records the transaction that inserted it (`tx`), and a
-- sealer appends the events of finished transactions later, one sealer at a time.

-- The inserting (top-level) transaction: an event whose `tx` is below the snapshot's xmin belongs to a
-- finished transaction, so every event it will ever have alongside is visible. Existing rows get the
-- migration's transaction and are sealed in id order.
ALTER TABLE audit_events ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();

-- The sealer's order and cursor: events are sealed in (tx, id) order. The chain's head event is therefore a
-- cursor: every event of a finished transaction that sorts after it is unsealed, none before it is.
CREATE INDEX audit_events_tx ON audit_events (tx, id);
-- `GET /api/v1/admin/audit?actor=…`, newest first.
CREATE INDEX audit_events_actor ON audit_events (actor, id);

CREATE TABLE audit_chain (
    -- 1, 2, 3, … without gaps.
    seq bigint PRIMARY KEY,
    event_id bigint NOT NULL REFERENCES audit_events (id),
    -- The hash of row `seq - 1`; NULL for the first row only.
    prev_hash text,
    -- Lower-case hex SHA-256 of audit_chain_hash's rendering.
    hash text NOT NULL,
    sealed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_chain_event_id UNIQUE (event_id),
    CONSTRAINT audit_chain_seq_positive CHECK (seq > 0),
    CONSTRAINT audit_chain_prev_hash_iff_not_first CHECK ((seq = 1) = (prev_hash IS NULL)),
    CONSTRAINT audit_chain_hash_hex CHECK (hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT audit_chain_prev_hash_hex CHECK (prev_hash ~ '^[0-9a-f]{64}$')
);

-- The one definition of a chain row's hash, used by the sealer and by verification: SHA-256 (lower-case
-- hex) of the text of a JSON array of the row's position, the event's content and the previous row's hash.
-- jsonb's text form is deterministic (object keys sorted, no insignificant whitespace), and the time is
-- rendered as whole microseconds since the epoch, independent of the session's time zone.
CREATE FUNCTION audit_chain_hash(seq bigint, event audit_events, prev_hash text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN encode(
        sha256(convert_to(
            jsonb_build_array(
                seq,
                event.id,
                event.actor,
                event.action,
                event.target_type,
                event.target_id,
                event.before,
                event.after,
                event.request_id,
                event.client_addr,
                (extract(epoch FROM event.at) * 1000000)::bigint,
                prev_hash
            )::text,
            'UTF8'
        )),
        'hex'
    );

-- Seals at most `batch` events of finished transactions after the chain's head, in (tx, id) order, and
-- answers how many; NULL when another transaction is sealing (the advisory lock is taken, never waited
-- for). The lock is held until the calling transaction ends, so the head read after taking it is the last
-- committed one. Refuses to extend a chain whose head event is gone: that chain has been tampered with.
CREATE FUNCTION audit_chain_seal(batch integer) RETURNS integer
    LANGUAGE plpgsql AS
$$
DECLARE
    head_seq bigint;
    head_hash text;
    head_tx xid8;
    head_event bigint;
    head_found boolean;
    horizon xid8;
    event audit_events;
    next_hash text;
    sealed integer := 0;
BEGIN
    -- The lock's key spells "kp-audit".
    IF NOT pg_try_advisory_xact_lock(7741737656054475124) THEN
        RETURN NULL;
    END IF;
    SELECT c.seq, c.hash, e.tx, c.event_id, e.id IS NOT NULL
        INTO head_seq, head_hash, head_tx, head_event, head_found
        FROM audit_chain c LEFT JOIN audit_events e ON e.id = c.event_id
        ORDER BY c.seq DESC LIMIT 1;
    IF head_seq IS NOT NULL AND NOT head_found THEN
        RAISE EXCEPTION 'the audit chain''s head (seq %) names event % which no longer exists', head_seq, head_event
            USING ERRCODE = 'data_corrupted',
                  HINT = 'run keyport audit verify';
    END IF;
    -- Every transaction below the horizon has finished: its events are all visible from here on, and no
    -- event with a smaller tx can appear later.
    horizon := pg_snapshot_xmin(pg_current_snapshot());
    FOR event IN
        SELECT * FROM audit_events a
        WHERE a.tx < horizon AND (head_seq IS NULL OR (a.tx, a.id) > (head_tx, head_event))
        ORDER BY a.tx, a.id
        LIMIT batch
    LOOP
        head_seq := coalesce(head_seq, 0) + 1;
        next_hash := audit_chain_hash(head_seq, event, head_hash);
        INSERT INTO audit_chain (seq, event_id, prev_hash, hash)
            VALUES (head_seq, event.id, head_hash, next_hash);
        head_hash := next_hash;
        sealed := sealed + 1;
    END LOOP;
    RETURN sealed;
END;
$$;

CREATE FUNCTION audit_chain_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION 'audit_chain is append-only' USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER audit_chain_append_only
    BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_chain_refuse_change();

-- A row trigger does not see TRUNCATE.
CREATE TRIGGER audit_chain_no_truncate
    BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_refuse_change();

CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
