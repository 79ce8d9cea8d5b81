-- The seven lists that were ordered by `updated_at` (most recently changed
-- first) are ordered by `created_at` (when the row's entity began), then
-- id. A keyset cursor on a column that changes let a row updated while a
-- client paged move from the pages still to come to those already read:
-- it was skipped, or, moved the other way, shown twice. `created_at` is
-- written when a row is first inserted and never moves after
-- (`projectors/src/rows.rs`), so paging while rows change neither skips nor
-- repeats one (tests/tests/integration/paging.rs).
--
-- Each list's index, and those of its filters read in order (0015, 0016),
-- follow the new order.
DROP INDEX document_registry_changed, financial_ledger_changed, people_directory_changed,
    assignments_changed, location_registry_changed, status_tracker_changed,
    inventory_registry_changed, financial_ledger_counterparty, assignments_user_changed,
    status_tracker_type_changed;

CREATE INDEX document_registry_created ON document_registry (organization_id, created_at DESC, id DESC);
CREATE INDEX financial_ledger_created ON financial_ledger (organization_id, created_at DESC, id DESC);
CREATE INDEX people_directory_created ON people_directory (organization_id, created_at DESC, id DESC);
CREATE INDEX assignments_created ON assignments (organization_id, created_at DESC, id DESC);
CREATE INDEX location_registry_created ON location_registry (organization_id, created_at DESC, id DESC);
CREATE INDEX status_tracker_created ON status_tracker (organization_id, created_at DESC, id DESC);
CREATE INDEX inventory_registry_created ON inventory_registry (organization_id, created_at DESC, id DESC);
CREATE INDEX financial_ledger_counterparty ON financial_ledger (organization_id, counterparty_id, created_at DESC, id DESC);
CREATE INDEX assignments_user_created ON assignments (organization_id, user_id, created_at DESC, id DESC);
CREATE INDEX status_tracker_type_created ON status_tracker (organization_id, entity_type, created_at DESC, id DESC);
