-- activity_feed and document_registry. Same conventions as 0003: rows carry
-- everything they show, each keyed by an external id for upserts.

-- One row per event, never updated or deleted: a deletion is an activity too.
-- Keyed `event:{global_position}`; the entity is the aggregate the event
-- changed, or for a comment's events the entity the comment is on.
CREATE TABLE activity_feed (
    id              uuid PRIMARY KEY,
    organization_id uuid        NOT NULL,
    -- created, updated, status_change, approval, deleted; comment or note.
    activity_type   text        NOT NULL,
    event_type      text        NOT NULL,
    entity_type     text        NOT NULL,
    entity_id       uuid        NOT NULL,
    -- The entity's title, name, number or code as of the event.
    entity_name     text,
    actor_id        uuid,
    title           text        NOT NULL,
    content         text,
    -- correlation_id, causation_id, command, source, request_id, the source
    -- stream (aggregate_type, aggregate_id, sequence), and what changed.
    metadata        jsonb       NOT NULL,
    visibility      text        NOT NULL
                    CHECK (visibility IN ('public', 'organization', 'restricted', 'private')),
    owner_id        uuid,
    external_id     text        NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_position   bigint      NOT NULL
);
CREATE INDEX activity_feed_timeline ON activity_feed (organization_id, created_at DESC);
CREATE INDEX activity_feed_entity ON activity_feed (organization_id, entity_type, entity_id);
CREATE INDEX activity_feed_actor ON activity_feed (organization_id, actor_id);

-- One row per document wherever attached: `Document:{id}`,
-- `Contract:{id}:document`, `Invoice:{id}:pdf` and
-- `ProductionAdvance:{id}:attachment:{document_id}`.
CREATE TABLE document_registry (
    id              uuid PRIMARY KEY,
    organization_id uuid        NOT NULL,
    -- contract, invoice, rider, spec, permit, insurance, other.
    document_type   text        NOT NULL,
    -- document, contract_document, invoice_pdf, advance_attachment.
    source_type     text        NOT NULL,
    -- The Document aggregate, when the file is one.
    document_id     uuid,
    -- The entity the document is attached to.
    entity_type     text        NOT NULL,
    entity_id       uuid        NOT NULL,
    title           text        NOT NULL,
    file_url        text,
    file_type       text,
    file_size       bigint,
    status          text,
    expires_on      date,
    visibility      text        NOT NULL
                    CHECK (visibility IN ('public', 'organization', 'restricted', 'private')),
    owner_id        uuid,
    uploaded_by     uuid,
    external_id     text        NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_position   bigint      NOT NULL
);
CREATE INDEX document_registry_type ON document_registry (organization_id, document_type, status);
CREATE INDEX document_registry_expiry ON document_registry (organization_id, expires_on);
CREATE INDEX document_registry_entity ON document_registry (organization_id, entity_type, entity_id);
