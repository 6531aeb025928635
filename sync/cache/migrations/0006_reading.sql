-- 0006: the reading side. Measurements are kept per image (series, plane, slice, and the image's SOP
-- Instance UID when the plane is the acquisition plane) with their owner; they outlive the eviction of
-- their study's files, so that a study pulled again finds them. A label map imported beside a study's DICOM
-- (labels.nii.gz, or a BraTS folder's segmentation) is a stored file of its own. Studies keep their
-- institution for the viewport's corners.
CREATE TABLE measurements (
    id          TEXT PRIMARY KEY,          -- stable across edits
    study_uid   TEXT NOT NULL,
    series_uid  TEXT NOT NULL,
    sop_uid     TEXT NOT NULL DEFAULT '',
    plane       INTEGER NOT NULL,
    slice       INTEGER NOT NULL,
    user        TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL,             -- measure.Measurement as JSON
    updated_at  INTEGER NOT NULL
);
CREATE INDEX measurements_series ON measurements(series_uid, plane, slice);
CREATE INDEX measurements_study ON measurements(study_uid);

CREATE TABLE study_labels (
    study_uid  TEXT PRIMARY KEY REFERENCES studies(uid) ON DELETE CASCADE,
    sha256     TEXT NOT NULL REFERENCES files(sha256),
    source     TEXT NOT NULL DEFAULT ''   -- where it was imported from
);
CREATE INDEX study_labels_file ON study_labels(sha256);

ALTER TABLE studies ADD COLUMN institution TEXT NOT NULL DEFAULT '';
