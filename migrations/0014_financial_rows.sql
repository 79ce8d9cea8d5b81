-- Restricted financial rows are shown to holders of `finance` on every
-- table, not only in the ledger: a row is financial when it is the
-- ledger's, or when it is about an invoice or an expense (DOMAIN.md,
-- "Financial rows are those of Invoice, Expense and their payments,
-- wherever they appear"). The rest of the rule is 0007's, unchanged.
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
                    visibility = 'public'
                    OR (visibility = 'organization'
                        AND (SELECT current_setting('app.role', true)) IN ('owner', 'admin', 'member'))
                    OR (visibility = 'restricted'
                        AND ((SELECT current_setting('app.role', true)) IN ('owner', 'admin')
                             OR (%s AND (SELECT 'finance' = ANY (string_to_array(current_setting('app.capabilities', true), ','))))))
                    OR (visibility = 'private'
                        AND (owner_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)
                             OR (SELECT current_setting('app.role', true)) = 'owner'))
                )
            )$policy$, read_table, financial);
    END LOOP;
END
$$;
