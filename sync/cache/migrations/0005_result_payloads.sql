-- 0005: a result's payload (an AI result's JSON, a SEG of megabytes) is kept once, in a table of its own. The
-- result and its outbox message each held a copy, and SQLite rewrites a whole row, payload included, when any
-- column of it changes: recording a result wrote it twice, and confirming it (results.synced_at,
-- outbox.sent_at) rewrote both copies. Now the outbox message of a result reads the result's payload, and
-- a confirmation rewrites two small rows.
CREATE TABLE result_payloads (
    result_id INTEGER PRIMARY KEY REFERENCES results(id) ON DELETE CASCADE,
    payload   BLOB NOT NULL
);
INSERT INTO result_payloads(result_id, payload) SELECT id, payload FROM results;
ALTER TABLE results DROP COLUMN payload;
UPDATE outbox SET payload = x'' WHERE kind LIKE 'result.%'
    AND CAST(ref AS INTEGER) IN (SELECT result_id FROM result_payloads);
