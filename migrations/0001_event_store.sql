-- The event store: postgres-es's events and snapshots tables, extended with the
-- columns the database fills itself (postgres-es inserts only the seven it knows).

CREATE TABLE events (
    aggregate_type  text   NOT NULL,
    aggregate_id    text   NOT NULL,
    sequence        bigint NOT NULL CHECK (sequence > 0),
    event_type      text   NOT NULL,
    event_version   text   NOT NULL,
    payload         jsonb  NOT NULL,
    metadata        jsonb  NOT NULL,
    -- A total order for readers. Handed out before commit, so readers tail in
    -- (transaction_id, global_position) order below the oldest open transaction.
    global_position bigint GENERATED ALWAYS AS IDENTITY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    organization_id uuid NOT NULL GENERATED ALWAYS AS ((metadata ->> 'organization_id')::uuid) STORED,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE UNIQUE INDEX events_global_position ON events (global_position);
CREATE INDEX events_tailing ON events (transaction_id, global_position);
CREATE INDEX events_organization ON events (organization_id, global_position);

-- The log is append-only: history is corrected by new events, never rewritten.
CREATE FUNCTION events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the events table is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();

-- One snapshot per aggregate: a cache of its state at last_sequence. Deleting
-- one is always safe; the stream is replayed instead.
CREATE TABLE snapshots (
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    last_sequence  bigint      NOT NULL CHECK (last_sequence > 0),
    payload        jsonb       NOT NULL,
    taken_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- The write side's view of each organization's roster, replaced in the same
-- transaction as the Organization events that change it, so that the command
-- bus authorizes against the roster as of the last committed command.
CREATE TABLE organization_members (
    organization_id uuid   NOT NULL,
    user_id         uuid   NOT NULL,
    role            text   NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'guest')),
    capabilities    text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (organization_id, user_id)
);
