-- `me`: the organizations the admitted caller belongs to. A function of
-- the owner, as `api_admit` is, so the API role still reads no
-- `memberships` of its own; it lists the memberships of the user admission
-- set on the connection, and of no one else.
CREATE FUNCTION api_memberships()
RETURNS TABLE (organization_id uuid, name text, role text, capabilities text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
AS $$
    SELECT m.organization_id, o.name, m.role, m.capabilities
    FROM memberships m
    LEFT JOIN organizations o ON o.id = m.organization_id
    WHERE m.user_id = nullif(current_setting('app.user_id', true), '')::uuid
    ORDER BY o.name, m.organization_id
$$;
REVOKE ALL ON FUNCTION api_memberships() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api_memberships() TO foldline_api;
