-- 0001: the first schema of the local cache. Pixel data is not here: instances point at content-addressed
-- files (files.sha256 → objects/ab/cdef…) that are written and fsynced before the row that names them commits.

CREATE TABLE patients (
    id          INTEGER PRIMARY KEY,
    patient_id  TEXT NOT NULL,             -- (0010,0020)
    name        TEXT NOT NULL,             -- (0010,0010), DICOM PN with ^ separators
    birth_date  TEXT NOT NULL DEFAULT '',
    sex         TEXT NOT NULL DEFAULT '',
    UNIQUE (patient_id, name)
);

CREATE TABLE studies (
    id            INTEGER PRIMARY KEY,     -- row id: search terms and sort indexes point here
    uid           TEXT NOT NULL UNIQUE,    -- StudyInstanceUID
    patient       INTEGER NOT NULL REFERENCES patients(id),
    patient_name  TEXT NOT NULL,           -- copied from patients so that a worklist page reads one table
    patient_id    TEXT NOT NULL,
    birth_date    TEXT NOT NULL DEFAULT '',
    sex           TEXT NOT NULL DEFAULT '',
    name_key      TEXT NOT NULL,           -- lower-cased patient_name, for sorting
    study_date    TEXT NOT NULL DEFAULT '',-- YYYYMMDD
    study_time    TEXT NOT NULL DEFAULT '',
    description   TEXT NOT NULL DEFAULT '',
    accession     TEXT NOT NULL DEFAULT '',
    modalities    TEXT NOT NULL DEFAULT '',-- distinct modalities, "\"-separated, sorted
    type_mask     INTEGER NOT NULL DEFAULT 0, -- one bit per viewer.SeriesType present (see typeBits)
    num_series    INTEGER NOT NULL DEFAULT 0,
    num_instances INTEGER NOT NULL DEFAULT 0,
    size_bytes    INTEGER NOT NULL DEFAULT 0,
    imported_at   INTEGER NOT NULL,        -- Unix milliseconds
    opened_at     INTEGER NOT NULL DEFAULT 0, -- Unix milliseconds of the last OpenStudy; 0 never
    pinned        INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    sync_state    TEXT NOT NULL DEFAULT 'local' CHECK (sync_state IN ('local', 'pulled', 'pending', 'synced', 'conflict'))
);
CREATE INDEX studies_date     ON studies(study_date, study_time);
CREATE INDEX studies_name     ON studies(name_key);
CREATE INDEX studies_pid      ON studies(patient_id);
CREATE INDEX studies_opened   ON studies(opened_at);
CREATE INDEX studies_imported ON studies(imported_at);
CREATE INDEX studies_patient  ON studies(patient);
CREATE INDEX studies_sync     ON studies(sync_state, study_date);

-- Search terms of a study: each word of the patient name, the patient ID and the accession number, lower
-- case. The worklist matches a query word as a prefix of a term through the index.
CREATE TABLE study_terms (
    term     TEXT NOT NULL,
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    PRIMARY KEY (term, study_id)
) WITHOUT ROWID;
CREATE INDEX study_terms_study ON study_terms(study_id, term);

CREATE TABLE series (
    uid          TEXT PRIMARY KEY,         -- SeriesInstanceUID
    study_uid    TEXT NOT NULL REFERENCES studies(uid) ON DELETE CASCADE,
    number       INTEGER NOT NULL DEFAULT 0,
    modality     TEXT NOT NULL DEFAULT '',
    description  TEXT NOT NULL DEFAULT '',
    type         TEXT NOT NULL DEFAULT 'OTHER',
    frame_of_reference TEXT NOT NULL DEFAULT '',
    hints        TEXT NOT NULL DEFAULT '{}' -- viewer.SeriesHints as JSON
);
CREATE INDEX series_study ON series(study_uid);

CREATE TABLE files (
    sha256     TEXT PRIMARY KEY,           -- hex; the file is objects/<first 2>/<rest>
    size       INTEGER NOT NULL,
    stored_at  INTEGER NOT NULL
);

CREATE TABLE instances (
    sop_uid         TEXT PRIMARY KEY,      -- SOPInstanceUID: import dedupes on it
    series_uid      TEXT NOT NULL REFERENCES series(uid) ON DELETE CASCADE,
    sha256          TEXT NOT NULL REFERENCES files(sha256),
    sop_class       TEXT NOT NULL DEFAULT '',
    transfer_syntax TEXT NOT NULL DEFAULT '',
    number          INTEGER NOT NULL DEFAULT 0,
    rows            INTEGER NOT NULL DEFAULT 0,
    columns         INTEGER NOT NULL DEFAULT 0,
    frames          INTEGER NOT NULL DEFAULT 1,
    source          TEXT NOT NULL DEFAULT ''-- where it was imported from
);
CREATE INDEX instances_series ON instances(series_uid, number);
CREATE INDEX instances_file   ON instances(sha256);

-- AI results computed on this workstation; synced_at stays 0 until the server has them. A study with an
-- unsynced result is never evicted.
CREATE TABLE results (
    id          INTEGER PRIMARY KEY,
    study_uid   TEXT NOT NULL REFERENCES studies(uid) ON DELETE CASCADE,
    kind        TEXT NOT NULL,             -- "m1", "seg", "report" …
    payload     BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    synced_at   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX results_study ON results(study_uid, synced_at);

-- Transactional outbox: rows written in the same transaction as what they announce; a relay sends them.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    ref             TEXT NOT NULL DEFAULT '',
    payload         BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    sent_at         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox(sent_at, id);

-- Cursors and other state of the sync engine (change-feed cursor, last push …).
CREATE TABLE sync_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- What happened on this workstation (import, export, eviction, check), kept for the server's audit trail.
CREATE TABLE audit_events (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL DEFAULT '',
    action  TEXT NOT NULL,
    target  TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events(at);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
