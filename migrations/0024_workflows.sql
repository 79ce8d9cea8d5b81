-- Workflows (`workflows/`): process managers that read the feed as the
-- projections do and send commands through the command bus.

-- A command sent with an idempotency key records the key in the statement
-- that appends its events, so a second command with the same key cannot
-- append: a workflow that crashed after its command committed, and sends
-- it again, is answered with what the first one appended.
CREATE TABLE command_keys (
    organization_id uuid        NOT NULL,
    key             text        NOT NULL,
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    version         bigint      NOT NULL,
    global_position bigint      NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, key)
);

-- One instance of a workflow (a task, an invoice, an advance…): the state
-- it folded, written with the workflow's checkpoint.
CREATE TABLE workflow_instances (
    workflow        text        NOT NULL,
    instance_id     uuid        NOT NULL,
    organization_id uuid        NOT NULL,
    state           jsonb       NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_position   bigint      NOT NULL,
    PRIMARY KEY (workflow, instance_id)
);

-- The commands a workflow decided on, written with its state and
-- checkpoint, then sent by the dispatcher: each keyed by (workflow,
-- instance, triggering event, n), the key the bus records, so a command is
-- decided once and appended once however often either side restarts.
CREATE TABLE workflow_commands (
    key             text        PRIMARY KEY,
    workflow        text        NOT NULL,
    instance_id     uuid        NOT NULL,
    organization_id uuid        NOT NULL,
    aggregate_type  text        NOT NULL,
    aggregate_id    uuid        NOT NULL,
    command_name    text        NOT NULL,
    -- The command as `foldline_aggregates::command::Command` serializes it.
    command         jsonb       NOT NULL,
    -- The event that made the workflow decide, and the request it belonged to.
    caused_by       uuid        NOT NULL,
    correlation_id  uuid        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_position   bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);

CREATE INDEX workflow_commands_due ON workflow_commands (next_attempt_at) WHERE status = 'pending';
CREATE INDEX workflow_commands_instance ON workflow_commands (workflow, instance_id, created_at);

-- Which organizations have each workflow on, as the workflow's own fold of
-- the feed reads it: an event is acted on only if its organization had the
-- workflow on at that point of the feed, so switching one on does not act
-- on what happened before.
CREATE TABLE workflow_switches (
    workflow        text   NOT NULL,
    organization_id uuid   NOT NULL,
    -- The position of the event that switched it on.
    switched_on_at  bigint NOT NULL,
    PRIMARY KEY (workflow, organization_id)
);
