-- `search_matches` (0017, 0018, 0021) runs only the tables it is asked for,
-- and reads nothing but the word index for them.
--
-- Its generic plan cost 0.4 to 1.5 ms however few rows matched (a word
-- one company in an organization has: 1.3 ms for one row; BENCHMARKS.md,
-- step 8), where the same match written plainly takes 0.07 ms:
--
-- 1. Each branch ANDed the word index's bitmap with a bitmap of all of the
--    organization's rows (6,762 entries of `entity_directory` to find one
--    company). The generic plan cannot know how few rows the words match,
--    and guessed that the organization would narrow them. It never does:
--    the index keeps each organization's words under its own prefix (0017),
--    so the word index finds that organization's rows alone, and the
--    organization test is left to tell apart the rare organizations that
--    share a prefix. That test is now written so that no index can take it
--    (`IS NOT DISTINCT FROM`, the same test on a column that is never NULL),
--    and it is checked on the rows the words found.
-- 2. The one query of ten branches was started whole at every call, each
--    branch's scans set up even when its table was not asked for. Each
--    table is now its own query, run only if asked for.
-- 3. The ranking prefixes were made of the text at every call, ranked or
--    not; they are made only for a ranked search now.
--
-- The searched text of each table is written once, in its word index
-- (0017, 0021): each branch is made from the index's own expression, so
-- that the two cannot differ and the index serves the branch.
DO $do$
DECLARE
    indexed record;
    branches text := '';
    head CONSTANT text := 'search_words(organization_id, ';
BEGIN
    FOR indexed IN
        SELECT t.relname AS searched_table,
               substr(e.expr, length(head) + 1, length(e.expr) - length(head) - 1) AS body
        FROM pg_index x
        JOIN pg_class t ON t.oid = x.indrelid
        CROSS JOIN LATERAL (SELECT pg_get_expr(x.indexprs, x.indrelid) AS expr) e
        WHERE t.relnamespace = 'public'::regnamespace
          AND starts_with(e.expr, head)
        ORDER BY t.relname
    LOOP
        branches := branches || format($b$
    IF %1$L = ANY (tables) THEN
        RETURN QUERY
        SELECT %1$L::text, id,
               CASE WHEN ranked THEN ts_rank(to_tsvector('simple', %2$s), prefixes) END
        FROM %1$I
        WHERE search_words(organization_id, %2$s) @@ words
          AND organization_id IS NOT DISTINCT FROM organization;
    END IF;$b$,
            indexed.searched_table, indexed.body);
    END LOOP;
    IF branches = '' THEN
        RAISE EXCEPTION 'no word index found to search';
    END IF;
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION search_matches(tables text[], typed text, ranked boolean)
RETURNS TABLE (source text, id uuid, rank real)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public
SET plan_cache_mode = force_generic_plan
ROWS 100
AS $body$
#variable_conflict use_column
DECLARE
    organization CONSTANT uuid := nullif(current_setting('app.organization_id', true), '')::uuid;
    -- Text with no word in it makes no query (NULL), and matches nothing.
    words CONSTANT tsquery := search_word_prefixes(organization, typed);
    prefixes CONSTANT tsquery := CASE WHEN ranked THEN search_prefixes(typed) END;
BEGIN%s
END
$body$$f$, branches);
END
$do$;
