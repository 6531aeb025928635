-- 0002: what the sync engine (sync/engine) needs beyond 0001.
--
-- The outbox learns backoff (next_attempt_at), dead letters (dead_at: the server refused the item for good;
-- it stays, visible, never dropped) and the server's confirmation of a sent item (confirmation: the stored
-- AI result's ID, the Orthanc instance with its SOP Instance UID and MD5, the order version …).
ALTER TABLE outbox ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN dead_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN confirmation TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_due ON outbox(sent_at, dead_at, next_attempt_at, id);

-- Server-authoritative objects copied from the change feed (patients, orders, AI results): the last state
-- the feed announced, as the server's JSON. Orders are never edited here; the next feed entry replaces them.
CREATE TABLE remote_objects (
    kind       TEXT NOT NULL,             -- patient, order, ai_result (api.Kind*)
    object_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,          -- feed sequence of the state held
    data       TEXT NOT NULL,             -- the object's JSON
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, object_id)
) WITHOUT ROWID;
