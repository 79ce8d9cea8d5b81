-- Invariants that span aggregates, enforced by the database in the same
-- transaction as the events that change them (the reservation pattern).

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Values unique within an organization, e.g. a contact's email address.
CREATE TABLE unique_claims (
    organization_id uuid NOT NULL,
    scope           text NOT NULL,
    value           text NOT NULL,
    aggregate_type  text NOT NULL,
    aggregate_id    text NOT NULL,
    PRIMARY KEY (organization_id, scope, value)
);
CREATE INDEX unique_claims_owner ON unique_claims (aggregate_type, aggregate_id);

-- Time a member is booked for (confirmed shifts); bookings may not overlap.
CREATE TABLE member_bookings (
    organization_id uuid      NOT NULL,
    member_id       uuid      NOT NULL,
    period          tstzrange NOT NULL,
    aggregate_type  text      NOT NULL,
    aggregate_id    text      NOT NULL,
    CONSTRAINT member_bookings_no_overlap
        EXCLUDE USING gist (organization_id WITH =, member_id WITH =, period WITH &&)
);
CREATE INDEX member_bookings_owner ON member_bookings (aggregate_type, aggregate_id);
