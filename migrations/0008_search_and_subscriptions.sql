-- The global search matches each table on one text expression; each gets a
-- GIN index over exactly that expression (`graphql/src/search.rs`).
-- people_directory and location_registry already index `name`.
CREATE INDEX calendar_events_search ON calendar_events USING gin (to_tsvector('simple', title));
CREATE INDEX activity_feed_search ON activity_feed USING gin (to_tsvector('simple', title));
CREATE INDEX document_registry_search ON document_registry USING gin (to_tsvector('simple', title));
CREATE INDEX financial_ledger_search ON financial_ledger USING gin (
    to_tsvector('simple', description || ' ' || coalesce(reference, '')
                          || ' ' || coalesce(counterparty_name, '')));
CREATE INDEX assignments_search ON assignments USING gin (to_tsvector('simple', entity_name));
CREATE INDEX status_tracker_search ON status_tracker USING gin (to_tsvector('simple', entity_name));
CREATE INDEX inventory_registry_search ON inventory_registry USING gin (
    to_tsvector('simple', name || ' ' || coalesce(tag, '')));

-- Subscriptions read an organization's new activity by position.
CREATE INDEX activity_feed_position ON activity_feed (organization_id, last_position);

-- Projection workers announce each batch they commit, so that subscribers
-- need not poll: the payload is `projection:global_position`. A NOTIFY is
-- delivered when, and only if, the batch's transaction commits.
CREATE FUNCTION projection_checkpoints_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.global_position IS DISTINCT FROM OLD.global_position THEN
        PERFORM pg_notify('projection_checkpoints',
                          NEW.projection || ':' || NEW.global_position);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER projection_checkpoints_notify
    AFTER UPDATE ON projection_checkpoints
    FOR EACH ROW EXECUTE FUNCTION projection_checkpoints_notify();
