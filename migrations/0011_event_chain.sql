-- Tamper evidence: every event carries a hash chained to the previous event
-- of its stream, computed by the database as the row is inserted, so that no
-- writer can skip or forge it:
--
--   chain_hash = sha256(previous || utf8(aggregate_type LF aggregate_id LF
--                       sequence LF event_type LF event_version LF
--                       payload::text LF metadata::text))
--
-- where LF is a line feed, `previous` is the chain_hash of the stream's event
-- at sequence - 1 (32 zero bytes for the first), and `payload::text` and
-- `metadata::text` are jsonb's own text, which orders keys the same way
-- every time. `foldline audit verify` recomputes each link
-- (`server/src/audit/chain.rs`); an external auditor can too, from an export.
--
-- A chain cannot see its own last events removed: `foldline audit checkpoint`
-- records every stream's head for the auditor to keep.

ALTER TABLE events ADD COLUMN chain_hash bytea;

CREATE FUNCTION events_link(
    previous bytea, aggregate_type text, aggregate_id text, sequence bigint,
    event_type text, event_version text, payload jsonb, metadata jsonb
) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN sha256(previous || convert_to(
    aggregate_type || E'\n' || aggregate_id || E'\n' || sequence::text || E'\n'
    || event_type || E'\n' || event_version || E'\n' || payload::text || E'\n'
    || metadata::text,
    'UTF8'));

CREATE FUNCTION events_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    previous bytea;
BEGIN
    IF NEW.sequence = 1 THEN
        previous := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    ELSE
        SELECT e.chain_hash INTO previous FROM events e
        WHERE e.aggregate_type = NEW.aggregate_type AND e.aggregate_id = NEW.aggregate_id
          AND e.sequence = NEW.sequence - 1;
        IF previous IS NULL THEN
            RAISE EXCEPTION 'event % of %/% follows no event %',
                NEW.sequence, NEW.aggregate_type, NEW.aggregate_id, NEW.sequence - 1;
        END IF;
    END IF;
    NEW.chain_hash := events_link(previous, NEW.aggregate_type, NEW.aggregate_id, NEW.sequence,
                                  NEW.event_type, NEW.event_version, NEW.payload, NEW.metadata);
    RETURN NEW;
END
$$;

-- The events already there get their chain now, in one pass over the
-- streams in sequence order, with the append-only guard lifted for it.
ALTER TABLE events DISABLE TRIGGER events_append_only;

CREATE FUNCTION events_chain_backfill() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    event record;
    previous bytea;
    stream text := NULL;
BEGIN
    FOR event IN
        SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
        FROM events ORDER BY aggregate_type, aggregate_id, sequence
    LOOP
        IF stream IS DISTINCT FROM event.aggregate_type || '/' || event.aggregate_id THEN
            stream := event.aggregate_type || '/' || event.aggregate_id;
            previous := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
        END IF;
        previous := events_link(previous, event.aggregate_type, event.aggregate_id, event.sequence,
                                event.event_type, event.event_version, event.payload, event.metadata);
        UPDATE events SET chain_hash = previous
        WHERE aggregate_type = event.aggregate_type AND aggregate_id = event.aggregate_id
          AND sequence = event.sequence;
    END LOOP;
END
$$;

SELECT events_chain_backfill();
DROP FUNCTION events_chain_backfill();

ALTER TABLE events ENABLE TRIGGER events_append_only;
ALTER TABLE events ALTER COLUMN chain_hash SET NOT NULL;

CREATE TRIGGER events_chain
    BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_chain();
