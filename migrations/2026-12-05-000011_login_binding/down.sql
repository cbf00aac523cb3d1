ALTER TABLE login_states
    DROP CONSTRAINT login_states_browser_hash_hex,
    DROP COLUMN browser_hash;
