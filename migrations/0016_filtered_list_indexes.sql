-- Lists filtered by one column read a page in the list's order from an
-- index on (organization_id, that column, the order), and stop. Without
-- one, the planner looked the filter's rows up by the column alone and
-- sorted them all: `activityFeed(filter: {actorId})` took 49 ms at one
-- client on a million events, the owner's activities being most of an
-- organization's. Statistics cannot save the other plan: with many
-- tenants, the value a filter names is rarely in a column's list of common
-- values, so how many rows it keeps is a guess (BENCHMARKS.md, step 7).
-- These replace the indexes on the column alone, which only these filters
-- used; the projectors write these tables by id.
DROP INDEX activity_feed_actor;
CREATE INDEX activity_feed_actor ON activity_feed (organization_id, actor_id, created_at DESC, id DESC);
DROP INDEX activity_feed_entity;
CREATE INDEX activity_feed_entity ON activity_feed (organization_id, entity_id, created_at DESC, id DESC);
CREATE INDEX activity_feed_entity_type ON activity_feed (organization_id, entity_type, created_at DESC, id DESC);
DROP INDEX financial_ledger_counterparty;
CREATE INDEX financial_ledger_counterparty ON financial_ledger (organization_id, counterparty_id, updated_at DESC, id DESC);
CREATE INDEX assignments_user_changed ON assignments (organization_id, user_id, updated_at DESC, id DESC);
CREATE INDEX status_tracker_type_changed ON status_tracker (organization_id, entity_type, updated_at DESC, id DESC);

-- Ids of actors, entities, clients and venues belong to one organization,
-- so a row's organization follows from them. The planner assumes columns
-- independent and multiplies their selectivities: a member's assignments,
-- every one of their organization's, were estimated at 21 rows of 1,040
-- (a fiftieth of a fiftieth), and all 1,040 were fetched and sorted rather
-- than a page read in order (2.0 ms against 0.3 ms). Functional dependency
-- statistics tell it.
CREATE STATISTICS activity_feed_actor_organization (dependencies)
    ON organization_id, actor_id FROM activity_feed;
CREATE STATISTICS activity_feed_entity_organization (dependencies)
    ON organization_id, entity_id FROM activity_feed;
CREATE STATISTICS assignments_user_organization (dependencies)
    ON organization_id, user_id FROM assignments;
CREATE STATISTICS financial_ledger_counterparty_organization (dependencies)
    ON organization_id, counterparty_id FROM financial_ledger;
CREATE STATISTICS financial_ledger_event_organization (dependencies)
    ON organization_id, event_id FROM financial_ledger;
CREATE STATISTICS calendar_events_entity_organization (dependencies)
    ON organization_id, entity_id FROM calendar_events;
CREATE STATISTICS document_registry_entity_organization (dependencies)
    ON organization_id, entity_id FROM document_registry;
CREATE STATISTICS inventory_registry_location_organization (dependencies)
    ON organization_id, location_id FROM inventory_registry;
