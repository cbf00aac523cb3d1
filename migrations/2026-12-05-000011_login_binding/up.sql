-- Single sign-on bound to the browser that started it: each login in progress keeps the SHA-256 of a
-- secret that only that browser holds (in its short-lived HttpOnly login cookie), and the callback must
-- present it. Logins in progress when this runs had no such secret and could not finish anyway: they go
-- (the person starts again; login states live 10 minutes).
DELETE FROM login_states;

ALTER TABLE login_states
    -- Lower-case hex SHA-256 of the browser-binding secret (`kp_login_…`); never the secret itself.
    ADD COLUMN browser_hash text NOT NULL,
    ADD CONSTRAINT login_states_browser_hash_hex CHECK (browser_hash ~ '^[0-9a-f]{64}$');
