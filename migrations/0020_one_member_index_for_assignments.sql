-- `assignments_user` (0006) and `assignments_workload` (0018) both lead with
-- the organization and the member; the second also holds what
-- `userWorkload` and the row-security policy read. One index, keyed as the
-- first and covering as the second, serves both, and the projection that
-- writes assignments maintains one index fewer.
DROP INDEX assignments_user, assignments_workload;
CREATE INDEX assignments_member ON assignments (organization_id, user_id, starts_at)
    INCLUDE (assignment_type, ends_at, entity_type, entity_id, visibility, owner_id);
