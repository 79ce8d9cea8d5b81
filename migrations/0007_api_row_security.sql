-- The API reads the nine read tables as `foldline_api`, a role that owns
-- nothing, inside a transaction that has set who is asking:
--   app.organization_id  the organization of the request
--   app.user_id          the user
--   app.role             owner, admin, member or guest, from memberships
--   app.capabilities     the user's approval capabilities, comma-separated
-- Row-level security then shows a row only to a member of its organization
-- whom its visibility admits (DOMAIN.md, "Tenancy and people"), even if a
-- query forgets its filter. The projectors write as the tables' owner, which
-- row-level security does not restrict.
--
-- Each setting is read once per statement, `(SELECT current_setting(…))`
-- being an init plan, and every table's indexes lead with organization_id.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'foldline_api') THEN
        CREATE ROLE foldline_api NOLOGIN;
    END IF;
END
$$;

GRANT foldline_api TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO foldline_api;

DO $$
DECLARE
    read_table text;
    -- Restricted financial rows are also shown to holders of `finance`.
    finance text;
BEGIN
    FOREACH read_table IN ARRAY ARRAY[
        'calendar_events', 'activity_feed', 'document_registry', 'financial_ledger',
        'people_directory', 'assignments', 'location_registry', 'status_tracker',
        'inventory_registry'
    ] LOOP
        finance := CASE WHEN read_table = 'financial_ledger'
            THEN $f$ OR (SELECT 'finance' = ANY (string_to_array(current_setting('app.capabilities', true), ',')))$f$
            ELSE '' END;
        EXECUTE format('GRANT SELECT ON %I TO foldline_api', read_table);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', read_table);
        EXECUTE format($policy$
            CREATE POLICY member_visibility ON %I FOR SELECT TO foldline_api
            USING (
                organization_id = (SELECT nullif(current_setting('app.organization_id', true), '')::uuid)
                AND (
                    visibility = 'public'
                    OR (visibility = 'organization'
                        AND (SELECT current_setting('app.role', true)) IN ('owner', 'admin', 'member'))
                    OR (visibility = 'restricted'
                        AND ((SELECT current_setting('app.role', true)) IN ('owner', 'admin') %s))
                    OR (visibility = 'private'
                        AND (owner_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)
                             OR (SELECT current_setting('app.role', true)) = 'owner'))
                )
            )$policy$, read_table, finance);
    END LOOP;
END
$$;

-- Lookups the policies would otherwise turn into scans.
CREATE INDEX calendar_events_organization_entity ON calendar_events (organization_id, entity_type, entity_id);
CREATE INDEX people_directory_organization_name ON people_directory (organization_id, name);
CREATE INDEX location_registry_organization ON location_registry (organization_id, name);
