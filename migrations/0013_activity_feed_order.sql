-- Subscriptions follow the activity feed in the order the projection
-- commits it: the feed's own order, (transaction id, global position), not
-- the position alone. An event whose transaction commits late has a lower
-- position than rows already sent, but never a lower place in the feed, so
-- a subscriber that pages by it skips nothing.
ALTER TABLE activity_feed ADD COLUMN transaction_id xid8;
UPDATE activity_feed AS a SET transaction_id = e.transaction_id
FROM events AS e WHERE e.global_position = a.last_position;
ALTER TABLE activity_feed ALTER COLUMN transaction_id SET NOT NULL;

DROP INDEX activity_feed_position;
CREATE INDEX activity_feed_feed_order
    ON activity_feed (organization_id, transaction_id, last_position, id);
