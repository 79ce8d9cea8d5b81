-- `foldline audit request` and the `auditRequest` query find every event
-- one request caused by its correlation id.
CREATE INDEX events_correlation ON events ((metadata ->> 'correlation_id'));
