-- kaisen's schema, version 1. Applied once, by `kaisen migrate` or at
-- `serve` start, under an advisory lock (see migrate.rs).
--
-- Times are Unix seconds (bigint), as in the records; text keys sort
-- bytewise (COLLATE "C"), as sled's keys do, so that both engines export
-- records in one order.

-- Small singletons: 'consent', 'notices', 'import_unfinished'.
CREATE TABLE meta (
    key text PRIMARY KEY,
    value jsonb NOT NULL
);

-- Moved on whenever providers are written: every process compares it with
-- the version of the catalogue it keeps in memory.
CREATE TABLE catalogue (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL
);
INSERT INTO catalogue VALUES (true, 0);

CREATE TABLE providers (
    code text COLLATE "C" PRIMARY KEY,
    service_name text NOT NULL,
    name text NOT NULL
);

CREATE TABLE lines (
    customer_id text COLLATE "C" PRIMARY KEY,
    access_key_hash text NOT NULL,
    services jsonb NOT NULL
);

-- A line's setting for a provider; none means 「通知しない」.
CREATE TABLE settings (
    customer_id text COLLATE "C" NOT NULL REFERENCES lines,
    provider text COLLATE "C" NOT NULL REFERENCES providers,
    setting text NOT NULL,
    set_on text NOT NULL,
    method text NOT NULL,
    PRIMARY KEY (customer_id, provider)
);

-- The last sequence number drawn for a day's application IDs. Processes
-- draw numbers in blocks, so a number is never drawn twice.
CREATE TABLE day_sequences (
    day text PRIMARY KEY,
    last integer NOT NULL CHECK (last >= 0)
);

-- The application as a record (the same JSON as the export's), with the
-- columns it is found by. The unique constraint makes an idempotency key
-- one application.
CREATE TABLE applications (
    id bigint PRIMARY KEY,
    customer_id text COLLATE "C" NOT NULL REFERENCES lines,
    idempotency_key text NOT NULL,
    state text NOT NULL,
    record jsonb NOT NULL,
    UNIQUE (customer_id, idempotency_key)
);
CREATE INDEX applications_by_line ON applications (customer_id, id);

-- The change being worked for a line and provider: the primary key keeps
-- one at a time.
CREATE TABLE pending (
    customer_id text COLLATE "C" NOT NULL,
    provider text COLLATE "C" NOT NULL,
    application_id bigint NOT NULL REFERENCES applications,
    PRIMARY KEY (customer_id, provider)
);
CREATE INDEX pending_by_application ON pending (application_id);

-- The worker's queue, claimed with FOR UPDATE SKIP LOCKED.
CREATE TABLE work (
    application_id bigint NOT NULL REFERENCES applications,
    step smallint NOT NULL CHECK (step IN (0, 1)),
    due bigint NOT NULL,
    PRIMARY KEY (application_id, step)
);
CREATE INDEX work_by_due ON work (due, application_id, step);

-- Completion mails not yet delivered, claimed with a lease.
CREATE TABLE outbox (
    application_id bigint PRIMARY KEY REFERENCES applications,
    attempts integer NOT NULL,
    next_attempt_at bigint NOT NULL,
    last_error text
);
CREATE INDEX outbox_by_due ON outbox (next_attempt_at);

CREATE TABLE sessions (
    id text PRIMARY KEY,
    customer_id text COLLATE "C" NOT NULL,
    created_at bigint NOT NULL,
    last_seen bigint NOT NULL
);

-- Failed logins in a row per customer ID (known or not).
CREATE TABLE login_failures (
    customer_id text COLLATE "C" PRIMARY KEY,
    count integer NOT NULL,
    last_at bigint NOT NULL,
    locked_until bigint
);

-- Failed logins per client address, counted across every process.
CREATE TABLE address_failures (
    addr inet NOT NULL,
    at bigint NOT NULL
);
CREATE INDEX address_failures_by_addr ON address_failures (addr, at DESC);
