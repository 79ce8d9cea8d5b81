-- `entity_directory`: one row per entity of every aggregate type but the
-- organization, holding its whole state as its projection folded it, so
-- that a screen lists production advances, invoices or shifts as typed
-- objects, filtered by status, parent and name, from one page read
-- (`projectors/src/entity_directory.rs`, `graphql/src/entities.rs`).
--
-- Lists are ordered by `created_at` (the entity's first event), newest
-- first, then id: neither changes when the entity does, so a client paging
-- while entities change neither skips nor repeats one.
CREATE TABLE entity_directory (
    id                  uuid PRIMARY KEY,
    organization_id     uuid        NOT NULL,
    entity_type         text        NOT NULL,
    entity_id           uuid        NOT NULL,
    name                text        NOT NULL,
    status              text,
    -- The entities it belongs to, where its type has them: the event, the
    -- venue, the company; the member it is assigned to (a task's assignee,
    -- a shift's member, an asset's holder); the entity a document or a
    -- comment is attached to.
    event_id            uuid,
    venue_id            uuid,
    company_id          uuid,
    assignee_id         uuid,
    attached_to         uuid,
    -- An advance pending approval: the capability its next step needs.
    awaiting_capability text,
    version             bigint      NOT NULL,
    state               jsonb       NOT NULL,
    visibility          text        NOT NULL
                        CHECK (visibility IN ('public', 'organization', 'restricted', 'private')),
    owner_id            uuid,
    external_id         text        NOT NULL UNIQUE,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    last_position       bigint      NOT NULL
);

-- A type's list, and its count: the columns row security reads are
-- included, so counting reads the index alone.
CREATE INDEX entity_directory_type ON entity_directory
    (organization_id, entity_type, created_at DESC, id DESC) INCLUDE (visibility, owner_id);
-- Each filter that narrows a list to one value reads its page in order
-- from an index led by that value (as 0016 does for the other lists).
CREATE INDEX entity_directory_status ON entity_directory
    (organization_id, entity_type, status, created_at DESC, id DESC) WHERE status IS NOT NULL;
CREATE INDEX entity_directory_event ON entity_directory
    (organization_id, entity_type, event_id, created_at DESC, id DESC) WHERE event_id IS NOT NULL;
CREATE INDEX entity_directory_venue ON entity_directory
    (organization_id, entity_type, venue_id, created_at DESC, id DESC) WHERE venue_id IS NOT NULL;
CREATE INDEX entity_directory_company ON entity_directory
    (organization_id, entity_type, company_id, created_at DESC, id DESC) WHERE company_id IS NOT NULL;
CREATE INDEX entity_directory_assignee ON entity_directory
    (organization_id, entity_type, assignee_id, created_at DESC, id DESC) WHERE assignee_id IS NOT NULL;
CREATE INDEX entity_directory_attached ON entity_directory
    (organization_id, entity_type, attached_to, created_at DESC, id DESC) WHERE attached_to IS NOT NULL;
CREATE INDEX entity_directory_awaiting ON entity_directory
    (organization_id, entity_type, awaiting_capability, created_at DESC, id DESC)
    WHERE awaiting_capability IS NOT NULL;
-- Words of the name, under the organization's prefix, for the lists'
-- `search` (`search_matches`, 0017; below).
CREATE INDEX entity_directory_search ON entity_directory USING gin (search_words(organization_id, name));

-- Each type has statuses of its own, and an id a list filters on is found
-- in some types' rows only (a company in invoices and contacts, not
-- shifts): without statistics of each pair, the planner took a value to be
-- as common in a type's list as in the whole table, guessed a handful of
-- rows where the whole list matched, and sorted them all rather than read a
-- page in order (the plan test).
CREATE STATISTICS entity_directory_type_status (mcv, dependencies)
    ON entity_type, status FROM entity_directory;
CREATE STATISTICS entity_directory_type_event (mcv) ON entity_type, event_id FROM entity_directory;
CREATE STATISTICS entity_directory_type_venue (mcv) ON entity_type, venue_id FROM entity_directory;
CREATE STATISTICS entity_directory_type_company (mcv) ON entity_type, company_id FROM entity_directory;
CREATE STATISTICS entity_directory_type_assignee (mcv) ON entity_type, assignee_id FROM entity_directory;
CREATE STATISTICS entity_directory_type_attached (mcv) ON entity_type, attached_to FROM entity_directory;
-- Ids belong to one organization (as in 0016).
CREATE STATISTICS entity_directory_event_organization (dependencies)
    ON organization_id, event_id FROM entity_directory;
CREATE STATISTICS entity_directory_company_organization (dependencies)
    ON organization_id, company_id FROM entity_directory;
CREATE STATISTICS entity_directory_assignee_organization (dependencies)
    ON organization_id, assignee_id FROM entity_directory;

-- The API reads it under the rule of the nine tables (0015): the same
-- policy, the financial exception for invoices and expenses.
GRANT SELECT ON entity_directory TO foldline_api;
ALTER TABLE entity_directory ENABLE ROW LEVEL SECURITY;
CREATE POLICY member_visibility ON entity_directory FOR SELECT TO foldline_api
USING (
    organization_id = (SELECT nullif(current_setting('app.organization_id', true), '')::uuid)
    AND (
        visibility = ANY ((SELECT api_visibility_levels(current_setting('app.role', true)))::text[])
        OR (visibility = 'private'
            AND owner_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid))
        OR (visibility = 'restricted' AND entity_type IN ('Invoice', 'Expense')
            AND (SELECT 'finance' = ANY (string_to_array(current_setting('app.capabilities', true), ','))))
    )
);

-- `search_matches` (0017, 0018) over the nine tables and this one: the same
-- function, its searched text per table, with the directory's names added.
DO $do$
DECLARE
    searched CONSTANT text[] := ARRAY[
        ['calendar_events', 'title'],
        ['activity_feed', 'title'],
        ['document_registry', 'title'],
        ['financial_ledger', $t$description || ' ' || coalesce(reference, '') || ' ' || coalesce(counterparty_name, '')$t$],
        ['people_directory', 'name'],
        ['assignments', 'entity_name'],
        ['location_registry', 'name'],
        ['status_tracker', 'entity_name'],
        ['inventory_registry', $t$name || ' ' || coalesce(tag, '')$t$],
        ['entity_directory', 'name']
    ];
    one text[];
    branches text[] := '{}';
BEGIN
    FOREACH one SLICE 1 IN ARRAY searched LOOP
        branches := branches || format($b$
    SELECT %1$L::text, id, CASE WHEN ranked THEN ts_rank(to_tsvector('simple', %2$s), prefixes) END
    FROM asked, %1$I
    WHERE %1$L = ANY (tables)
      AND organization_id = organization
      AND search_words(organization_id, %2$s) @@ search_word_prefixes(organization, typed)$b$,
            one[1], one[2]);
    END LOOP;
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION search_matches(tables text[], typed text, ranked boolean)
RETURNS TABLE (source text, id uuid, rank real)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public
SET plan_cache_mode = force_generic_plan
ROWS 100
AS $body$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH asked AS MATERIALIZED (
        SELECT nullif(current_setting('app.organization_id', true), '')::uuid AS organization,
               search_prefixes(typed) AS prefixes)
%s;
END
$body$$f$, array_to_string(branches, E'\n    UNION ALL'));
END
$do$;
