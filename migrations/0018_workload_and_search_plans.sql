-- Two plans that were slow before they settled, or never settled.
--
-- 1. `userWorkload` reads every assignment of the organization. Its rows are
--    spread over the table's pages, one organization among many, so the
--    planner preferred a parallel scan of the whole table to an index scan
--    that visits a page per row (13 ms for an organization's 1,040
--    assignments on the million-event store). An index holding every column
--    the report and the row-security policy read lets the report read the
--    index alone (3.3 ms).
CREATE INDEX assignments_workload ON assignments (organization_id, user_id)
    INCLUDE (assignment_type, starts_at, ends_at, entity_type, entity_id, visibility, owner_id);

-- 2. `search_matches` takes the organization from the request's setting and
--    the prefixes from the text inside its own statement, never as the
--    statement's parameters, so a plan made for one call's values is no
--    better than the generic one; but PL/pgSQL makes one for each of a
--    session's first five calls, and planning its nine-table union cost more
--    than the search (6–8 ms a call against 3–4 ms once generic). A read
--    connection now plans it once.
ALTER FUNCTION search_matches(text[], text, boolean) SET plan_cache_mode = force_generic_plan;
