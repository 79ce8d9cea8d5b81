-- The read side: where each projection is, the per-aggregate state projections
-- fold, and the first read tables. Rows carry everything they show; each is
-- keyed by an external id `entity_type:entity_id[:suffix]` for upserts.

CREATE TABLE projection_checkpoints (
    projection      text   PRIMARY KEY,
    -- The (transaction_id, global_position) of the last event applied.
    transaction_id  xid8   NOT NULL DEFAULT '0',
    global_position bigint NOT NULL DEFAULT 0,
    events_applied  bigint NOT NULL DEFAULT 0,
    state           text   NOT NULL DEFAULT 'running'
                    CHECK (state IN ('running', 'stopped', 'rebuilding')),
    error           text,
    error_position  bigint,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The state of each aggregate a projection folds, as of the last event it
-- applied, so a row can be rebuilt from the whole entity on any later event.
CREATE TABLE projection_states (
    projection     text   NOT NULL,
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    sequence       bigint NOT NULL,
    state          jsonb  NOT NULL,
    PRIMARY KEY (projection, aggregate_type, aggregate_id)
);

CREATE TABLE status_tracker (
    id              uuid PRIMARY KEY,
    organization_id uuid        NOT NULL,
    entity_type     text        NOT NULL,
    entity_id       uuid        NOT NULL,
    entity_name     text        NOT NULL,
    current_status  text        NOT NULL,
    previous_status text,
    status_category text        NOT NULL
                    CHECK (status_category IN ('active', 'pending', 'blocked', 'completed')),
    changed_by      uuid,
    changed_at      timestamptz NOT NULL,
    event_id        uuid,
    due_date        date,
    priority        text,
    visibility      text        NOT NULL
                    CHECK (visibility IN ('public', 'organization', 'restricted', 'private')),
    owner_id        uuid,
    external_id     text        NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_position   bigint      NOT NULL
);
CREATE INDEX status_tracker_entity ON status_tracker (organization_id, entity_type, entity_id);
CREATE INDEX status_tracker_category ON status_tracker (organization_id, status_category, due_date);

CREATE TABLE calendar_events (
    id              uuid PRIMARY KEY,
    organization_id uuid        NOT NULL,
    title           text        NOT NULL,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz,
    source_type     text        NOT NULL,
    entity_type     text        NOT NULL,
    entity_id       uuid        NOT NULL,
    status          text,
    visibility      text        NOT NULL
                    CHECK (visibility IN ('public', 'organization', 'restricted', 'private')),
    owner_id        uuid,
    external_id     text        NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_position   bigint      NOT NULL
);
CREATE INDEX calendar_events_range ON calendar_events (organization_id, starts_at);
CREATE INDEX calendar_events_entity ON calendar_events (entity_type, entity_id);
