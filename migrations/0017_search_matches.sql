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

-- Each table's searched text is written once, here: its index and its part
-- of `search_matches` are made from it.
--
-- search_matches(tables, typed, ranked): the rows of `tables` in the
-- admitted organization whose text matches `typed`
-- (`search_word_prefixes`), and, if `ranked`, their rank against its
-- prefixes (`search_prefixes`): ranking, which reads each row's text
-- again, is most of a search's cost, and a list filtered by words keeps its
-- own order. The organization and prefixes are worked out once, not for
-- each row that matched. PL/pgSQL, whose plans are kept for the session: a
-- SQL function's are made again at every call, which cost more than the
-- search.
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
        ['inventory_registry', $t$name || ' ' || coalesce(tag, '')$t$]
    ];
    one text[];
    branches text[] := '{}';
BEGIN
    FOREACH one SLICE 1 IN ARRAY searched LOOP
        EXECUTE format('CREATE INDEX %I ON %I USING gin (search_words(organization_id, %s))',
                       one[1] || '_search', one[1], one[2]);
        branches := branches || format($b$
    SELECT %1$L::text, id, CASE WHEN ranked THEN ts_rank(to_tsvector('simple', %2$s), prefixes) END
    FROM asked, %1$I
    WHERE %1$L = ANY (tables)
      AND organization_id = organization
      AND search_words(organization_id, %2$s) @@ search_word_prefixes(organization, typed)$b$,
            one[1], one[2]);
    END LOOP;
    EXECUTE format($f$
CREATE FUNCTION search_matches(tables text[], typed text, ranked boolean)
RETURNS TABLE (source text, id uuid, rank real)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public
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
REVOKE ALL ON FUNCTION search_matches(text[], text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION search_matches(text[], text, boolean) TO foldline_api;
