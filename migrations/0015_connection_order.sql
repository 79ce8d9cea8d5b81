-- Every connection reads a page in index order and stops after its rows,
-- without a planner switch (step 7).
--
-- 1. Each connection's order has an index after organization_id, ending
--    with id as the order does (`graphql/src/connection.rs`).
-- 2. Row security the planner can estimate. 0014's policy tested the
--    caller's role inside each visibility branch, `(SELECT role) IN (…)`;
--    the planner gives such a test of an unknown value about 1 % of the
--    rows, so it expected a handful of visible rows where thousands are,
--    and chose to fetch every match and sort it over reading an ordered
--    index. The rule is unchanged; it is now written as the levels the
--    role sees in full, `visibility = ANY (levels)`, which the planner
--    estimates from the column's statistics, and the two exceptions
--    (one's own private rows; restricted financial rows for `finance`).

CREATE FUNCTION api_visibility_levels(member_role text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE member_role
    WHEN 'owner' THEN ARRAY['public', 'organization', 'restricted', 'private']
    WHEN 'admin' THEN ARRAY['public', 'organization', 'restricted']
    WHEN 'member' THEN ARRAY['public', 'organization']
    ELSE ARRAY['public']
END;

DO $$
DECLARE
    read_table text;
    financial text;
BEGIN
    FOREACH read_table IN ARRAY ARRAY[
        'calendar_events', 'activity_feed', 'document_registry', 'financial_ledger',
        'people_directory', 'assignments', 'location_registry', 'status_tracker',
        'inventory_registry'
    ] LOOP
        financial := CASE WHEN read_table = 'financial_ledger'
            THEN 'true'
            ELSE $f$entity_type IN ('Invoice', 'Expense')$f$ END;
        EXECUTE format('DROP POLICY member_visibility ON %I', read_table);
        EXECUTE format($policy$
            CREATE POLICY member_visibility ON %I FOR SELECT TO foldline_api
            USING (
                organization_id = (SELECT nullif(current_setting('app.organization_id', true), '')::uuid)
                AND (
                    visibility = ANY ((SELECT api_visibility_levels(current_setting('app.role', true)))::text[])
                    OR (visibility = 'private'
                        AND owner_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid))
                    OR (visibility = 'restricted' AND %s
                        AND (SELECT 'finance' = ANY (string_to_array(current_setting('app.capabilities', true), ','))))
                )
            )$policy$, read_table, financial);
    END LOOP;
END
$$;

-- The connections ordered by last change, newest first.
CREATE INDEX document_registry_changed ON document_registry (organization_id, updated_at DESC, id DESC);
CREATE INDEX financial_ledger_changed ON financial_ledger (organization_id, updated_at DESC, id DESC);
CREATE INDEX people_directory_changed ON people_directory (organization_id, updated_at DESC, id DESC);
CREATE INDEX assignments_changed ON assignments (organization_id, updated_at DESC, id DESC);
CREATE INDEX location_registry_changed ON location_registry (organization_id, updated_at DESC, id DESC);
CREATE INDEX status_tracker_changed ON status_tracker (organization_id, updated_at DESC, id DESC);
CREATE INDEX inventory_registry_changed ON inventory_registry (organization_id, updated_at DESC, id DESC);
-- Assignments narrowed to a time range.
CREATE INDEX assignments_start ON assignments (organization_id, starts_at);

-- Words typed into a search box as a query: each word of `text`, split by
-- the parser the rows' vectors use, is a quoted prefix (`car` finds
-- `Carol`, `rpt-4` is `rpt` and `-4`), all of them required; no input is
-- tsquery syntax. Used by `search` and the lists' `search` filters.
CREATE FUNCTION search_prefixes(text text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (SELECT to_tsquery('simple', string_agg(quote_literal(lexeme) || ':*', ' & '))
        FROM unnest(to_tsvector('simple', text)));
