-- Version 3: events for providers (SPEC §8, "Events").

-- Each provider's last event sequence. A completion draws its events'
-- sequences here, holding the row's lock until it commits, so that a
-- provider's events commit in sequence order and a pull's cursor never
-- skips one committed later.
CREATE TABLE event_sequences (
    provider text COLLATE "C" PRIMARY KEY,
    last bigint NOT NULL CHECK (last > 0)
);

-- Every event, kept for good (the pull reads them by sequence), with how
-- its delivery to the provider's webhook stands.
CREATE TABLE events (
    provider text COLLATE "C" NOT NULL,
    sequence bigint NOT NULL CHECK (sequence > 0),
    id text COLLATE "C" NOT NULL UNIQUE,
    customer_id text COLLATE "C" NOT NULL,
    record jsonb NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at bigint NOT NULL,
    last_error text,
    delivered_at bigint,
    PRIMARY KEY (provider, sequence)
);
-- The undelivered events, each line's in order for its provider: the first
-- of each is the one next in line.
CREATE INDEX events_waiting ON events (provider, customer_id, sequence)
    WHERE delivered_at IS NULL;
CREATE INDEX events_due ON events (next_attempt_at) WHERE delivered_at IS NULL;
