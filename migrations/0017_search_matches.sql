-- Search reads only its own organization's index entries, and finds its
-- matches where row security would not let it.
--
-- 1. `@@` is not leakproof, so under row security PostgreSQL may not test
--    it before the policy's own tests, and so never uses it as an index
--    condition: every search read and tested every row of the organization
--    (64 ms for one organization's activity on a million events; BENCHMARKS.md,
--    step 7). `search_matches`, a function of the tables' owner, finds the
--    rows of the admitted organization whose text matches, and how well. It
--    gives ids and ranks only: the API then reads those rows as the caller,
--    under the policies, so what a caller may see is still decided in one
--    place.
-- 2. A GIN index over the words alone keeps one list of rows per word for
--    all organizations, and a prefix (`con:*`) gathers every organization's
--    rows of every word it starts before the organization narrows them:
--    16 ms for two words no row of the organization has. Each word is now
--    indexed after a prefix of its organization's id, so that a search's
--    prefixes reach its own organization's rows only. The prefix is 48 bits
--    of the id; rows of organizations that share it are told apart by the
--    organization_id test every query keeps.

-- The part of an organization's id its words are indexed after.
CREATE FUNCTION search_word_prefix(org uuid) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN replace(left(org::text, 13), '-', '');

-- The words of `body` as searched in organization `org`: each lexeme the
-- `simple` configuration gives, after `search_word_prefix(org)`.
CREATE FUNCTION search_words(org uuid, body text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (SELECT array_to_tsvector(coalesce(array_agg(search_word_prefix(org) || lexeme), '{}'))
        FROM unnest(to_tsvector('simple', body)));

-- What `text`, typed into a search box, asks of `search_words` in `org`:
-- each of its words as a prefix, all required, as `search_prefixes` (0015)
-- does. The lexemes are quoted for tsquery's input, not parsed again.
CREATE FUNCTION search_word_prefixes(org uuid, text text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (SELECT string_agg(
            '''' || replace(replace(search_word_prefix(org) || lexeme, '\', '\\'), '''', '\''')
                 || ''':*',
            ' & ')::tsquery
        FROM unnest(to_tsvector('simple', text)));

DROP INDEX calendar_events_search, activity_feed_search, document_registry_search,
    financial_ledger_search, assignments_search, status_tracker_search,
    inventory_registry_search, people_directory_name, location_registry_name;
CREATE INDEX calendar_events_search ON calendar_events
    USING gin (search_words(organization_id, title));
CREATE INDEX activity_feed_search ON activity_feed
    USING gin (search_words(organization_id, title));
CREATE INDEX document_registry_search ON document_registry
    USING gin (search_words(organization_id, title));
CREATE INDEX financial_ledger_search ON financial_ledger
    USING gin (search_words(organization_id, description || ' ' || coalesce(reference, '') || ' ' || coalesce(counterparty_name, '')));
CREATE INDEX people_directory_search ON people_directory
    USING gin (search_words(organization_id, name));
CREATE INDEX assignments_search ON assignments
    USING gin (search_words(organization_id, entity_name));
CREATE INDEX location_registry_search ON location_registry
    USING gin (search_words(organization_id, name));
CREATE INDEX status_tracker_search ON status_tracker
    USING gin (search_words(organization_id, entity_name));
CREATE INDEX inventory_registry_search ON inventory_registry
    USING gin (search_words(organization_id, name || ' ' || coalesce(tag, '')));

-- The rows of `tables` in the admitted organization whose text matches
-- `typed` (`search_word_prefixes`), and, if `ranked`, their rank against
-- its prefixes (`search_prefixes`): ranking, which reads each row's text
-- again, is most of a search's cost, and a list filtered by words keeps its
-- own order. The organization and prefixes are worked out once, not for
-- each row that matched. PL/pgSQL, whose plans are kept for the
-- session: a SQL function's are made again at every call, which cost more
-- than the search.
CREATE FUNCTION search_matches(tables text[], typed text, ranked boolean)
RETURNS TABLE (source text, id uuid, rank real)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public
ROWS 100
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH asked AS MATERIALIZED (
        SELECT nullif(current_setting('app.organization_id', true), '')::uuid AS organization,
               search_prefixes(typed) AS prefixes)
    SELECT 'calendar_events', id, CASE WHEN ranked THEN ts_rank(to_tsvector('simple', title), prefixes) END
    FROM asked, calendar_events
    WHERE 'calendar_events' = ANY (tables)
      AND organization_id = organization
      AND search_words(organization_id, title) @@ search_word_prefixes(organization, typed)
    UNION ALL
    SELECT 'activity_feed', id, CASE WHEN ranked THEN ts_rank(to_tsvector('simple', title), prefixes) END
    FROM asked, activity_feed
    WHERE 'activity_feed' = ANY (tables)
      AND organization_id = organization
      AND search_words(organization_id, title) @@ search_word_prefixes(organization, typed)
    UNION ALL
    SELECT 'document_registry', id, CASE WHEN ranked THEN ts_rank(to_tsvector('simple', title), prefixes) END
    FROM asked, document_registry
    WHERE 'document_registry' = ANY (tables)
      AND organization_id = organization
      AND search_words(organization_id, title) @@ search_word_prefixes(organization, typed)
    UNION ALL
    SELECT 'financial_ledger', id, CASE WHEN ranked THEN ts_rank(to_tsvector('simple', description || ' ' || coalesce(reference, '') || ' ' || coalesce(counterparty_name, '')), prefixes) END
    FROM asked, financial_ledger
    WHERE 'financial_ledger' = ANY (tables)
      AND organization_id = organization
      AND search_words(organization_id, description || ' ' || coalesce(reference, '') || ' ' || coalesce(counterparty_name, '')) @@ search_word_prefixes(organization, typed)
    UNION ALL
    SELECT 'people_directory', id, CASE WHEN ranked THEN ts_rank(to_tsvector('simple', name), prefixes) END
    FROM asked, people_directory
    WHERE 'people_directory' = ANY (tables)
      AND organization_id = organization
      AND search_words(organization_id, name) @@ search_word_prefixes(organization, typed)
    UNION ALL
    SELECT 'assignments', id, CASE WHEN ranked THEN ts_rank(to_tsvector('simple', entity_name), prefixes) END
    FROM asked, assignments
    WHERE 'assignments' = ANY (tables)
      AND organization_id = organization
      AND search_words(organization_id, entity_name) @@ search_word_prefixes(organization, typed)
    UNION ALL
    SELECT 'location_registry', id, CASE WHEN ranked THEN ts_rank(to_tsvector('simple', name), prefixes) END
    FROM asked, location_registry
    WHERE 'location_registry' = ANY (tables)
      AND organization_id = organization
      AND search_words(organization_id, name) @@ search_word_prefixes(organization, typed)
    UNION ALL
    SELECT 'status_tracker', id, CASE WHEN ranked THEN ts_rank(to_tsvector('simple', entity_name), prefixes) END
    FROM asked, status_tracker
    WHERE 'status_tracker' = ANY (tables)
      AND organization_id = organization
      AND search_words(organization_id, entity_name) @@ search_word_prefixes(organization, typed)
    UNION ALL
    SELECT 'inventory_registry', id, CASE WHEN ranked THEN ts_rank(to_tsvector('simple', name || ' ' || coalesce(tag, '')), prefixes) END
    FROM asked, inventory_registry
    WHERE 'inventory_registry' = ANY (tables)
      AND organization_id = organization
      AND search_words(organization_id, name || ' ' || coalesce(tag, '')) @@ search_word_prefixes(organization, typed);
END
$$;
REVOKE ALL ON FUNCTION search_matches(text[], text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION search_matches(text[], text, boolean) TO foldline_api;
