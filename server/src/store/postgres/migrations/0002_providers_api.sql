-- Version 2: what providers need for the provider API (SPEC §8).

-- 利用目的: why a provider receives the customer ID; its registration for
-- the provider API (the record's `api`), with its client ID unique.
ALTER TABLE providers ADD COLUMN purpose text,
    ADD COLUMN api jsonb,
    ADD COLUMN client_id text COLLATE "C" UNIQUE
        CHECK (client_id IS NOT DISTINCT FROM api->>'client_id');

-- The `jti` of every client assertion accepted, kept until it expires: a
-- replay is refused by the primary key, across every process.
CREATE TABLE assertion_ids (
    client_id text COLLATE "C" NOT NULL,
    jti text COLLATE "C" NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX assertion_ids_by_expiry ON assertion_ids (expires_at);

-- Which line the network gave an IPv6 prefix, from when until when. An
-- assignment is known by its prefix and start; `network` is the prefix's
-- 16 bytes followed by its length (one byte), so that a lookup finds the
-- assignments of every prefix that may hold an address with one index
-- probe per length. The import refuses overlaps between lines.
CREATE TABLE prefixes (
    network bytea NOT NULL CHECK (length(network) = 17),
    from_at bigint NOT NULL,
    until_at bigint CHECK (until_at > from_at),
    customer_id text COLLATE "C" NOT NULL REFERENCES lines,
    PRIMARY KEY (network, from_at)
);
CREATE INDEX prefixes_by_line ON prefixes (customer_id);

-- Every time a line's customer ID was given to a provider, kept for good
-- (the record as the export writes it, with the columns it is found by).
CREATE TABLE disclosures (
    id text COLLATE "C" PRIMARY KEY,
    customer_id text COLLATE "C" NOT NULL,
    provider text COLLATE "C" NOT NULL,
    at bigint NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX disclosures_by_line ON disclosures (customer_id, at, id);

-- When a line's customer ID was last given to the setting's provider (S2's
-- 最終通知日時), moved on in the disclosure's transaction: S2 reads it with
-- the settings, no join. (A disclosure is only ever made to a provider set
-- to 「通知する」, which has a settings row.)
ALTER TABLE settings ADD COLUMN last_disclosed_at bigint;
