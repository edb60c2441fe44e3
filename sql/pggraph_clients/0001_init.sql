-- pggraph_clients: one row per installation.
--
-- Written by the installer (prefix, title, directory, www_path), by the
-- collector after every run (last_*), and by pggraph-admin client remove.
-- A client collected from a hand-written config.ini that the installer never
-- registered gets a minimal row (title = prefix, no directory) on its first
-- run.
--
-- Applied as role pggraph (SET ROLE), so what it creates is pggraph's.

CREATE TABLE clients (
    prefix           text PRIMARY KEY CHECK (prefix ~ '^[a-z][a-z0-9_]{0,30}$'),
    title            text NOT NULL,
    directory        text UNIQUE,            -- install directory; NULL when unknown
    www_path         text,                   -- relative URL path of the pages
    created          timestamptz NOT NULL DEFAULT now(),
    last_run         timestamptz,            -- when the last collection started
    last_duration_ms bigint,
    last_outcome     text,                   -- ok, primed or failed
    last_error       text,                   -- one line; NULL unless failed
    last_samples     int                     -- sample rows the last run wrote
);

GRANT SELECT ON clients TO pggraph_web;
GRANT SELECT ON schema_version TO pggraph_web;
