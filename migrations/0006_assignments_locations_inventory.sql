-- Three more read tables: who is responsible for what and when, every place,
-- and every trackable item. Like the first ones, each row carries everything
-- it shows and is keyed by an external id `entity_type:entity_id[:suffix]`.

-- One row per responsibility: a task's or an advance's assignee, a shift's
-- crew member, an asset's holder while it is checked out.
CREATE TABLE assignments (
    id              uuid PRIMARY KEY,
    organization_id uuid        NOT NULL,
    assignment_type text        NOT NULL
                    CHECK (assignment_type IN ('task', 'shift', 'production_advance', 'asset')),
    entity_type     text        NOT NULL,
    entity_id       uuid        NOT NULL,
    entity_name     text        NOT NULL,
    user_id         uuid        NOT NULL,
    -- `assignee`, `holder`, or the shift's role (`rigger`).
    role            text        NOT NULL,
    status          text,
    -- A task's or an advance's due date, a shift's start, a check-out's time.
    starts_at       timestamptz,
    -- A shift's end, a checked-out asset's due-back time.
    ends_at         timestamptz,
    project         text,
    event_id        uuid,
    visibility      text        NOT NULL
                    CHECK (visibility IN ('public', 'organization', 'restricted', 'private')),
    owner_id        uuid,
    external_id     text        NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_position   bigint      NOT NULL
);
CREATE INDEX assignments_user ON assignments (organization_id, user_id, starts_at);
CREATE INDEX assignments_status ON assignments (organization_id, status);

-- One row per place: a venue, warehouse or office; a company's office; an
-- event's location (its venue, by id: rows are not joined across aggregates).
CREATE TABLE location_registry (
    id              uuid PRIMARY KEY,
    organization_id uuid        NOT NULL,
    location_type   text        NOT NULL
                    CHECK (location_type IN ('venue', 'warehouse', 'office', 'event')),
    entity_type     text        NOT NULL,
    entity_id       uuid        NOT NULL,
    name            text        NOT NULL,
    address_line_1  text,
    address_line_2  text,
    city            text,
    state_province  text,
    postal_code     text,
    country         text,
    latitude        double precision,
    longitude       double precision,
    capacity        bigint,
    contact_name    text,
    contact_phone   text,
    contact_email   text,
    -- An event's venue.
    venue_id        uuid,
    visibility      text        NOT NULL
                    CHECK (visibility IN ('public', 'organization', 'restricted', 'private')),
    owner_id        uuid,
    external_id     text        NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_position   bigint      NOT NULL
);
CREATE INDEX location_registry_type ON location_registry (organization_id, location_type);
CREATE INDEX location_registry_name ON location_registry
    USING gin (to_tsvector('simple', name));
CREATE INDEX location_registry_point ON location_registry (latitude, longitude);

-- One row per asset; retired ones stay, deleted ones leave.
CREATE TABLE inventory_registry (
    id                  uuid PRIMARY KEY,
    organization_id     uuid        NOT NULL,
    item_type           text        NOT NULL
                        CHECK (item_type IN ('asset', 'consumable', 'equipment', 'vehicle')),
    entity_type         text        NOT NULL,
    entity_id           uuid        NOT NULL,
    name                text        NOT NULL,
    -- Serial number or asset tag.
    tag                 text,
    quantity            bigint      NOT NULL,
    -- In minor units of `currency`.
    value               bigint      NOT NULL,
    currency            text        NOT NULL,
    -- The venue where it is kept.
    location_id         uuid,
    current_holder_id   uuid,
    status              text        NOT NULL,
    due_back_at         timestamptz,
    next_maintenance_at timestamptz,
    last_maintained_at  timestamptz,
    visibility          text        NOT NULL
                        CHECK (visibility IN ('public', 'organization', 'restricted', 'private')),
    owner_id            uuid,
    external_id         text        NOT NULL UNIQUE,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    last_position       bigint      NOT NULL
);
CREATE INDEX inventory_registry_status ON inventory_registry (organization_id, status);
CREATE INDEX inventory_registry_location ON inventory_registry (organization_id, location_id);
CREATE INDEX inventory_registry_maintenance
    ON inventory_registry (organization_id, next_maintenance_at);
