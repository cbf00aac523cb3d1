DROP TABLE login_states;
DROP TABLE sessions;
