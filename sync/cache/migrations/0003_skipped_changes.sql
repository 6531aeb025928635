-- 0003: changes of the server's feed the workstation could not decode (nested too deep, malformed,
-- incomplete, too large). The sync engine goes past them, so that one bad change never stops the feed, and
-- keeps each here for a person to see; nothing stored before is touched.
CREATE TABLE skipped_changes (
    id         INTEGER PRIMARY KEY,
    feed       TEXT NOT NULL,             -- the cursor key of the feed it came in (one per user)
    seq        INTEGER NOT NULL,          -- its feed sequence; 0 when even that could not be read
    kind       TEXT NOT NULL,             -- as far as it could be read
    object_id  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    skipped_at INTEGER NOT NULL
);
