-- The outbox: integration messages a workflow emits for the outside world
-- (seed 002's integration points: e-mail, ledger sync, e-sign), written in
-- the transaction that commits the workflow's state and checkpoint, and
-- delivered to the organization's webhooks by the webhook sender.

-- Where an organization wants its messages: an HTTPS endpoint, the secret
-- its deliveries are signed with (HMAC-SHA256), and the topics it takes
-- (none listed: all).
CREATE TABLE webhooks (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    url             text        NOT NULL,
    secret          text        NOT NULL,
    topics          text[]      NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhooks_organization ON webhooks (organization_id);

-- One message, keyed like a workflow's command by (workflow, instance,
-- triggering event, n): a batch applied again after a crash emits the same
-- keys, and the receiver dedupes deliveries by it.
CREATE TABLE outbox (
    key             text        PRIMARY KEY,
    workflow        text        NOT NULL,
    instance_id     uuid        NOT NULL,
    organization_id uuid        NOT NULL,
    topic           text        NOT NULL,
    payload         jsonb       NOT NULL,
    caused_by       uuid        NOT NULL,
    correlation_id  uuid        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- A message to one webhook, fanned out when the message is written: sent
-- at least once until the endpoint answers 2xx, with backoff, and `dead`
-- after the configured number of tries, until retried.
CREATE TABLE webhook_deliveries (
    message_key     text        NOT NULL REFERENCES outbox (key),
    webhook_id      uuid        NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    PRIMARY KEY (message_key, webhook_id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, status);
