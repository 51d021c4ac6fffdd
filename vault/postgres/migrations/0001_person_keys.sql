-- The fingerprint of each master key, so that a node started with another
-- master key file refuses to wrap keys with it.
CREATE TABLE master_keys (
	version     int PRIMARY KEY,
	fingerprint bytea NOT NULL,
	created_at  timestamptz NOT NULL
);

-- One row per person: a wrapped data key, or, once erased, a tombstone
-- (no key, erased_at set) that keeps a new key from being made.
CREATE TABLE person_keys (
	person_id      uuid PRIMARY KEY,
	master_version int,
	wrapped        bytea,
	created_at     timestamptz NOT NULL,
	erased_at      timestamptz,
	CHECK ((wrapped IS NULL) = (erased_at IS NOT NULL)),
	CHECK ((master_version IS NULL) = (wrapped IS NULL))
);

-- An erasure leaves the old row version, wrapped key and all, as a dead
-- tuple until VACUUM removes it: vacuum this table after any change rather
-- than after a fifth of it has changed.
ALTER TABLE person_keys SET (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0);
