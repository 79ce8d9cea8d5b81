-- Workflow timers: a command a workflow decides now and sends at a time
-- ("mark the invoice overdue on the day after it is due", "a renewal task
-- 30 days before the document expires"). It is a row of workflow_commands
-- like any other, written with the workflow's state and checkpoint, sent
-- by the dispatcher once its time (`next_attempt_at`) has come: so it
-- survives a restart, and one due while the service was down is sent once
-- after it starts.
--
-- `timer` names what the timer is for within its instance. A workflow that
-- sets a timer of the same name again (the due date moved) replaces the one
-- still waiting, and one that no longer needs it (the invoice was paid)
-- cancels it: either leaves the old row `cancelled`.
ALTER TABLE workflow_commands ADD COLUMN timer text;

-- A command whose refusal by the domain only means it is no longer needed
-- (closing a task someone already closed): refused, it is `cancelled` with
-- the reason rather than `failed`.
ALTER TABLE workflow_commands ADD COLUMN unless_done boolean NOT NULL DEFAULT false;

ALTER TABLE workflow_commands DROP CONSTRAINT workflow_commands_status_check;
ALTER TABLE workflow_commands ADD CONSTRAINT workflow_commands_status_check
    CHECK (status IN ('pending', 'sent', 'failed', 'cancelled'));

CREATE INDEX workflow_commands_timers ON workflow_commands (workflow, instance_id, timer)
    WHERE status = 'pending' AND timer IS NOT NULL;

-- The feed position of the event that made the workflow decide, beside its
-- id: where `foldline audit` finds it, and what reaction latency is
-- measured from. Unknown for commands decided before this column.
ALTER TABLE workflow_commands ADD COLUMN caused_at bigint;

-- The order commands were decided in. The dispatcher sends one aggregate's
-- commands in that order (an approval task created before it is closed)
-- and different aggregates' side by side.
ALTER TABLE workflow_commands ADD COLUMN seq bigserial;
CREATE INDEX workflow_commands_aggregate ON workflow_commands (aggregate_id, seq)
    WHERE status = 'pending';
