-- A list filtered by words first tests the rows of its next pages itself
-- (`connection::probe` in the API), where `search_matches` would gather
-- every match through the index. It must test exactly what the index
-- finds: `search_words(org, body) @@ search_word_prefixes(org, typed)` is
-- `to_tsvector('simple', body) @@ search_prefix_query('', typed)`, the
-- same lexemes with no prefix before them, at a tenth of the cost per row
-- (no array of prefixed words is built for each row).
--
-- search_prefix_query(prefix, typed): each word of `typed` as a prefix,
-- all required, after `prefix`. The lexemes are quoted for tsquery's
-- input, not parsed again.
CREATE FUNCTION search_prefix_query(prefix text, typed text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (SELECT string_agg(
            '''' || replace(replace(prefix || lexeme, '\', '\\'), '''', '\''')
                 || ''':*',
            ' & ')::tsquery
        FROM unnest(to_tsvector('simple', typed)));

-- The organization's query, now written once, above.
CREATE OR REPLACE FUNCTION search_word_prefixes(org uuid, text text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN search_prefix_query(search_word_prefix(org), text);
