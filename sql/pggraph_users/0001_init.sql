-- pggraph_users: the web users and their access log, with the table and
-- column names of the original's Apache auth module. Apache's
-- mod_authn_dbd / mod_authz_dbd run, as pggraph_web:
--
--   SELECT user_passwd FROM client_users WHERE user_name = %s
--   SELECT client FROM client_users WHERE user_name = %s
--
-- and pggraph.cgi appends to client_access_log.
--
-- Applied as role pggraph (SET ROLE), so what it creates is pggraph's.

CREATE TABLE client_users (
    user_name   text PRIMARY KEY,
    user_passwd text NOT NULL,   -- a hash Apache verifies: bcrypt $2y$, $apr1$, {SHA}, crypt
    client      text NOT NULL    -- the prefix of the client whose pages the user may see
);
CREATE INDEX client_users_client ON client_users (client);

CREATE TABLE client_access_log (
    id         bigserial PRIMARY KEY,
    login      text,
    date       timestamptz NOT NULL DEFAULT now(),
    request    text,
    ip_address text,
    status     int
);
CREATE INDEX client_access_log_date ON client_access_log (date);

GRANT SELECT ON client_users TO pggraph_web;
GRANT INSERT ON client_access_log TO pggraph_web;
GRANT USAGE ON SEQUENCE client_access_log_id_seq TO pggraph_web;
GRANT SELECT ON schema_version TO pggraph_web;
