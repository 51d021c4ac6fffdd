-- The ledger: one row per event, keyed by its gapless position, with every
-- envelope field in a column of its own, and the head row that every
-- append locks.
CREATE TABLE events (
	position       bigint PRIMARY KEY,
	id             uuid NOT NULL UNIQUE,
	-- Stream names are compared for equality only: byte order makes each
	-- index probe a memcmp and keeps the index valid across collation
	-- library upgrades.
	stream         text COLLATE "C" NOT NULL,
	stream_version bigint NOT NULL,
	type           text NOT NULL,
	schema_version int NOT NULL,
	occurred_at    timestamptz NOT NULL,
	recorded_at    timestamptz NOT NULL,
	actor          text NOT NULL,
	causation_id   uuid,          -- NULL for none
	correlation_id uuid,          -- NULL for none
	-- json, not jsonb: the hash chain covers the exact text, which jsonb
	-- would reorder and respace.
	payload        json NOT NULL,
	metadata       json NOT NULL,
	prev_hash      bytea NOT NULL,
	hash           bytea NOT NULL,
	-- Also the index behind ReadStream and each stream's current version.
	UNIQUE (stream, stream_version)
);

CREATE TABLE ledger_head (
	id          int PRIMARY KEY CHECK (id = 1),
	position    bigint NOT NULL,
	hash        bytea NOT NULL,
	recorded_at timestamptz     -- NULL while the ledger is empty
);

INSERT INTO ledger_head (id, position, hash, recorded_at)
VALUES (1, 0, decode(repeat('00', 32), 'hex'), NULL);
