-- The calendar and the activity feed are paged by (time, id): an index in
-- exactly that order lets a page stop after its rows. Row-level security's
-- predicates make the planner expect a handful of rows where hundreds
-- match, so the API's read connections also turn explicit sorts off
-- (`graphql/src/reads.rs`); these indexes are then the way it reads.
DROP INDEX calendar_events_range;
CREATE INDEX calendar_events_range ON calendar_events (organization_id, starts_at, id);
DROP INDEX activity_feed_timeline;
CREATE INDEX activity_feed_timeline ON activity_feed (organization_id, created_at DESC, id DESC);
