-- Takes back what up.sql granted in this database. The role `keyport_app` itself stays: roles are
-- cluster-wide, it may serve other databases, and a DBA may have created it (`DROP ROLE keyport_app` is
-- theirs to run, after `DROP OWNED BY keyport_app` in each database).
DO $$
DECLARE
    rel record;
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'keyport_app') THEN
        FOR rel IN
            SELECT c.oid::regclass::text AS name, c.relkind
            FROM pg_class c
            WHERE c.relnamespace = current_schema()::regnamespace
              AND c.relkind IN ('r', 'p', 'S')
              AND pg_has_role(c.relowner, 'USAGE')
        LOOP
            IF rel.relkind = 'S' THEN
                EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM keyport_app', rel.name);
            ELSE
                EXECUTE format('REVOKE ALL ON TABLE %s FROM keyport_app', rel.name);
            END IF;
        END LOOP;
    END IF;
END;
$$;

DROP FUNCTION keyport_grant_app_role();

-- The rendering of migration 2026-11-25-000004 again. Events that hold a client request id and were sealed
-- with it no longer verify once the column is gone: going down loses that information.
CREATE OR REPLACE FUNCTION audit_chain_hash(seq bigint, event audit_events, prev_hash text) RETURNS text
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

ALTER TABLE audit_events DROP COLUMN client_request_id;
