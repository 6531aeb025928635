-- 0007: versions of a result. A model's output is version 1 of a lineage; an edit of a label map is a new
-- result (a new SEG, never written over the one it came from) recorded as the next version. Results recorded
-- in one transaction (an M1 run's JSON and its SEG) form a run, named by its first result's id; a lineage is
-- named by the run of its version 1. The time of a version is its result's created_at.
ALTER TABLE results ADD COLUMN run_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE results ADD COLUMN lineage INTEGER NOT NULL DEFAULT 0;
ALTER TABLE results ADD COLUMN parent_id INTEGER REFERENCES results(id) ON DELETE SET NULL; -- the version it was made from
ALTER TABLE results ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE results ADD COLUMN editor TEXT NOT NULL DEFAULT '';  -- who ran the model, or who edited
ALTER TABLE results ADD COLUMN edit_of TEXT NOT NULL DEFAULT ''; -- an edit's source (the SOP Instance UID of the SEG it came from); '' for a model's output
ALTER TABLE results ADD COLUMN note TEXT NOT NULL DEFAULT '';

-- Results recorded before: each transaction gave its results one created_at.
UPDATE results SET run_id = (SELECT min(r.id) FROM results r WHERE r.study_uid = results.study_uid AND r.created_at = results.created_at);
UPDATE results SET lineage = run_id;
CREATE INDEX results_lineage ON results(study_uid, lineage, version);
