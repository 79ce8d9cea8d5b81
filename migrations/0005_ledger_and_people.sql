-- Two more read tables: every money movement or commitment, and every person
-- or organisation the organization deals with; plus the projected tenants and
-- their memberships, which API authorization reads. Like the first read
-- tables, each row carries everything it shows and is keyed by an external id
-- `entity_type:entity_id[:suffix]`. Amounts are integer minor units of
-- `currency`.

-- One row per money movement or commitment: an issued invoice, each payment
-- of an invoice, an expense (of any kind), the committed cost of an approved
-- production advance.
CREATE TABLE financial_ledger (
    id                uuid PRIMARY KEY,
    organization_id   uuid        NOT NULL,
    -- `invoice`, `payment`, an expense's kind (`expense`, `purchase_order`,
    -- `payroll`, `talent_payment`), or `commitment` for an advance.
    transaction_type  text        NOT NULL
                      CHECK (transaction_type IN ('invoice', 'payment', 'expense', 'purchase_order',
                                                  'payroll', 'talent_payment', 'commitment')),
    -- Receivable: money owed to or paid to the organization; payable: by it.
    direction         text        NOT NULL CHECK (direction IN ('receivable', 'payable')),
    entity_type       text        NOT NULL,
    entity_id         uuid        NOT NULL,
    amount            bigint      NOT NULL,
    currency          text        NOT NULL,
    status            text        NOT NULL,
    -- `client`, `vendor`, `employee` or `talent`.
    counterparty_type text        NOT NULL,
    counterparty_id   uuid,
    counterparty_name text,
    event_id          uuid,
    -- The invoice's issue date, the payment's date, the expense's date, the
    -- day the advance was approved.
    transaction_date  date        NOT NULL,
    issued_date       date,
    due_date          date,
    paid_date         date,
    description       text        NOT NULL,
    -- The invoice number, the payment's or expense's bank reference, the
    -- advance's code.
    reference         text,
    visibility        text        NOT NULL
                      CHECK (visibility IN ('public', 'organization', 'restricted', 'private')),
    owner_id          uuid,
    external_id       text        NOT NULL UNIQUE,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    last_position     bigint      NOT NULL
);
CREATE INDEX financial_ledger_date ON financial_ledger (organization_id, transaction_date);
CREATE INDEX financial_ledger_counterparty ON financial_ledger (organization_id, counterparty_id);
CREATE INDEX financial_ledger_status ON financial_ledger (organization_id, status);
CREATE INDEX financial_ledger_event ON financial_ledger (organization_id, event_id);

-- One row per person or organisation: a member of the organization, a
-- contact (at a company, or talent), a company (client, vendor, partner).
CREATE TABLE people_directory (
    id              uuid PRIMARY KEY,
    organization_id uuid        NOT NULL,
    person_type     text        NOT NULL
                    CHECK (person_type IN ('internal', 'company_contact', 'talent',
                                           'client', 'vendor', 'partner')),
    -- `Member` (entity_id is the user), `Contact` or `Company`.
    entity_type     text        NOT NULL,
    entity_id       uuid        NOT NULL,
    name            text        NOT NULL,
    email           text,
    phone           text,
    job_title       text,
    -- A member's role.
    role            text        CHECK (role IN ('owner', 'admin', 'member', 'guest')),
    -- A company contact's company, and its name while the company is listed.
    company_id      uuid,
    company_name    text,
    visibility      text        NOT NULL
                    CHECK (visibility IN ('public', 'organization', 'restricted', 'private')),
    owner_id        uuid,
    external_id     text        NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_position   bigint      NOT NULL
);
CREATE INDEX people_directory_name ON people_directory USING gin (to_tsvector('simple', name));
CREATE INDEX people_directory_type ON people_directory (organization_id, person_type);
CREATE INDEX people_directory_company ON people_directory (company_id) WHERE company_id IS NOT NULL;

-- The organizations, as of their last event.
CREATE TABLE organizations (
    id            uuid PRIMARY KEY,
    name          text        NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_position bigint      NOT NULL
);

-- Who belongs to which organization, in which role, with which approval
-- capabilities.
CREATE TABLE memberships (
    organization_id uuid   NOT NULL,
    user_id         uuid   NOT NULL,
    role            text   NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'guest')),
    capabilities    text[] NOT NULL DEFAULT '{}',
    display_name    text   NOT NULL,
    email           text   NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);
