-- The API admits a request in one statement on its read connection (the
-- `foldline_api` role): the caller's membership in the organization is
-- looked up and, if there is one, becomes the session settings row-level
-- security reads. A function of the owner, so the API role is given no
-- read of `memberships` itself.
--
-- `memberships` counts the user's memberships anywhere: none means the
-- token's user is unknown here; some, but no role, means not a member of
-- this organization.
CREATE FUNCTION api_admit(member uuid, organization uuid)
RETURNS TABLE (memberships_anywhere bigint, member_role text, member_capabilities text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
AS $$
BEGIN
    SELECT m.role, m.capabilities INTO member_role, member_capabilities
    FROM memberships m WHERE m.user_id = member AND m.organization_id = organization;
    SELECT count(*) INTO memberships_anywhere FROM memberships m WHERE m.user_id = member;
    IF member_role IS NOT NULL THEN
        PERFORM set_config('app.organization_id', organization::text, false),
                set_config('app.user_id', member::text, false),
                set_config('app.role', member_role, false),
                set_config('app.capabilities', array_to_string(member_capabilities, ','), false);
    ELSE
        -- Nothing of an earlier caller stays on a connection whose caller
        -- was refused.
        PERFORM set_config('app.organization_id', '', false),
                set_config('app.user_id', '', false),
                set_config('app.role', '', false),
                set_config('app.capabilities', '', false);
    END IF;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION api_admit(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api_admit(uuid, uuid) TO foldline_api;
