-- The audit log survives keyport's own database role, and keeps keyport's request id apart from the client's.
--
-- 1. `keyport serve` can run as a role that owns nothing. The group role `keyport_app` (NOLOGIN) holds exactly
--    what the server needs: SELECT, INSERT, UPDATE and DELETE on the ordinary tables, only SELECT and INSERT on
--    the append-only audit tables (`audit_events`, `audit_chain`), USAGE and SELECT on the sequences; no
--    TRUNCATE, no TRIGGER, no REFERENCES, and, not being the owner, no ALTER TABLE or DROP/ALTER TRIGGER. The
--    server logs in as a LOGIN role that is a member of it (docs/security.md has the SQL); the migrations run
--    as the tables' owner (`KEYPORT_MIGRATE_DATABASE_URL`).
--
--    `keyport_grant_app_role()` is the one definition of those grants. This migration calls it, and
--    `keyport migrate` (and serve's migration at start) calls it again after every run, so that tables added by
--    later migrations are covered and a `keyport_app` created after the migrations ran gets its grants at the
--    next migrate. That is why there are no ALTER DEFAULT PRIVILEGES: they would hand UPDATE and DELETE to a
--    future append-only table, they apply only to objects created by the role that ran them, and they outlive
--    a `down` as entries that keep `DROP ROLE keyport_app` from working. A later migration that adds an
--    append-only table adds it to `append_only` below (CREATE OR REPLACE).
--
--    Creating a role needs CREATEROLE (roles are cluster-wide): when `keyport_app` is missing and the migrating
--    role may create it, it is created; when it may not, nothing is granted and a NOTICE says so (the DBA
--    creates the roles once, see docs/security.md, and the next migrate grants).
--
-- 2. `audit_events.client_request_id`: the `x-request-id` a client sent, kept apart from `request_id`, which is
--    keyport's own (a UUID v4 it generates for every request). The hash chain covers the new column without
--    changing the hash of any event that lacks it: see audit_chain_hash below.

ALTER TABLE audit_events ADD COLUMN client_request_id text;

-- The canonical rendering of migration 2026-11-25-000004, plus, only when the event has one, the client's
-- request id as a 13th element. An event without one (every event recorded before this migration) renders
-- exactly as before, so old rows keep verifying; setting, changing or clearing the column of a sealed event
-- changes its rendering, so the chain catches that like any other edit.
CREATE OR REPLACE FUNCTION audit_chain_hash(seq bigint, event audit_events, prev_hash text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN encode(
        sha256(convert_to(
            (jsonb_build_array(
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
            ) || CASE
                WHEN event.client_request_id IS NULL THEN '[]'::jsonb
                ELSE jsonb_build_array(event.client_request_id)
            END)::text,
            'UTF8'
        )),
        'hex'
    );

-- Answers true when `keyport_app` exists (created here if missing and allowed) and now holds exactly its
-- privileges on every table and sequence of the current schema that the calling role owns; false, with a
-- NOTICE, when the role is missing and cannot be created. Idempotent; run as the tables' owner.
CREATE FUNCTION keyport_grant_app_role() RETURNS boolean
    LANGUAGE plpgsql AS
$$
DECLARE
    append_only CONSTANT text[] := ARRAY['audit_events', 'audit_chain'];
    rel record;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keyport_app') THEN
        IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
            RAISE NOTICE 'role keyport_app does not exist and % may not create it: no grants for the serve role (create it: see docs/security.md, then run keyport migrate)', current_user;
            RETURN false;
        END IF;
        BEGIN
            CREATE ROLE keyport_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- another session created it at the same moment
        END;
    END IF;
    -- PUBLIC has USAGE on the schema unless a DBA took it away; then it is granted here where allowed.
    IF has_schema_privilege(current_schema(), 'USAGE WITH GRANT OPTION') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO keyport_app', current_schema());
    END IF;
    FOR rel IN
        SELECT c.oid::regclass::text AS name, c.relname, c.relkind
        FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace
          AND c.relkind IN ('r', 'p', 'S')
          -- diesel's bookkeeping: the server never needs it.
          AND c.relname <> '__diesel_schema_migrations'
          AND pg_has_role(c.relowner, 'USAGE')
        ORDER BY c.relname
    LOOP
        IF rel.relkind = 'S' THEN
            EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM keyport_app', rel.name);
            EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO keyport_app', rel.name);
        ELSE
            EXECUTE format('REVOKE ALL ON TABLE %s FROM keyport_app', rel.name);
            IF rel.relname = ANY (append_only) THEN
                EXECUTE format('GRANT SELECT, INSERT ON TABLE %s TO keyport_app', rel.name);
            ELSE
                EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %s TO keyport_app', rel.name);
            END IF;
        END IF;
    END LOOP;
    RETURN true;
END;
$$;

-- Only the owner has a use for it (run by anyone else it changes nothing anyway).
REVOKE EXECUTE ON FUNCTION keyport_grant_app_role() FROM PUBLIC;

SELECT keyport_grant_app_role();
