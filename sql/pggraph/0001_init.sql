-- pggraph: the samples database.
--
-- Every client's tables (<prefix>_object, <prefix>_state, and per metric
-- group <prefix>_<group>, <prefix>_<group>_hour, <prefix>_<group>_day) are
-- created at run time by internal/store (EnsureClient), by the collector or
-- the installer connected as pggraph. See internal/store/doc.go for their
-- layout.
--
-- Applied as role pggraph (SET ROLE), so what it creates is pggraph's.

-- The web role reads every table pggraph creates here from now on,
-- including client tables created long after setup.
ALTER DEFAULT PRIVILEGES FOR ROLE pggraph GRANT SELECT ON TABLES TO pggraph_web;

GRANT SELECT ON schema_version TO pggraph_web;
