DROP TRIGGER audit_events_no_truncate ON audit_events;
DROP TABLE audit_chain;
DROP FUNCTION audit_chain_refuse_change();
DROP FUNCTION audit_chain_seal(integer);
DROP FUNCTION audit_chain_hash(bigint, audit_events, text);
DROP INDEX audit_events_actor;
DROP INDEX audit_events_tx;
ALTER TABLE audit_events DROP COLUMN tx;
