-- Alerts: the state of every (client, check, object) that is not OK or is
-- on its way to an alert, their history, and the notifications not yet
-- delivered. Written by pggraph-collect and pggraph-admin alerts; read by
-- the CGI (banner, history, the all-clients page).
--
-- Applied as role pggraph (SET ROLE), so what it creates is pggraph's.

-- The last successful run (ok or primed): what the stale check measures.
ALTER TABLE clients ADD COLUMN last_ok timestamptz;

CREATE TABLE alert_state (
    prefix     text NOT NULL REFERENCES clients (prefix) ON DELETE CASCADE,
    check_name text NOT NULL,
    object     text NOT NULL,              -- group/database OID/key; '' for the client itself
    grp        text NOT NULL DEFAULT '',   -- the object's metric group
    db         text NOT NULL DEFAULT '',   -- its database's name, if any
    name       text NOT NULL DEFAULT '',   -- its name
    display    text NOT NULL DEFAULT '',   -- "slot s1", names escaped
    state      text NOT NULL CHECK (state IN ('OK', 'UNKNOWN', 'WARNING', 'CRITICAL')),
    value      double precision,
    text       text NOT NULL,              -- the line notifications and pages show
    since      timestamptz NOT NULL,       -- when it entered state
    updated    timestamptz NOT NULL,
    notified   timestamptz,                -- last notification or reminder
    warn_count int NOT NULL DEFAULT 0,     -- consecutive samples beyond warning
    crit_count int NOT NULL DEFAULT 0,     -- consecutive samples beyond critical
    PRIMARY KEY (prefix, check_name, object)
);

CREATE TABLE alert_event (
    id         bigserial PRIMARY KEY,
    prefix     text NOT NULL REFERENCES clients (prefix) ON DELETE CASCADE,
    at         timestamptz NOT NULL,
    check_name text NOT NULL,
    object     text NOT NULL,
    display    text NOT NULL,
    state      text NOT NULL,
    previous   text NOT NULL,
    value      double precision,
    text       text NOT NULL,
    reminder   boolean NOT NULL DEFAULT false
);
CREATE INDEX alert_event_prefix_at ON alert_event (prefix, at);

-- One row per message to deliver: mail (one per client per run) or
-- command (one per change). sent stays NULL until delivered.
CREATE TABLE alert_outbox (
    id       bigserial PRIMARY KEY,
    prefix   text NOT NULL REFERENCES clients (prefix) ON DELETE CASCADE,
    created  timestamptz NOT NULL DEFAULT now(),
    channel  text NOT NULL CHECK (channel IN ('mail', 'command')),
    subject  text NOT NULL,
    body     text NOT NULL,
    env      jsonb NOT NULL DEFAULT '{}',  -- the command's PGGRAPH_* variables
    attempts int NOT NULL DEFAULT 0,
    error    text,                         -- the last attempt's failure
    sent     timestamptz
);
CREATE INDEX alert_outbox_pending ON alert_outbox (prefix, id) WHERE sent IS NULL;

GRANT SELECT ON alert_state, alert_event TO pggraph_web;
