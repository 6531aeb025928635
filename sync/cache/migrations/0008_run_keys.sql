-- 0008: a run of a model made by a job is named by the job (RecordRunOnce), so that a job resumed after the
-- process ended between keeping its result and marking itself done keeps nothing twice. The key is on the
-- run's first result only; '' for runs not made by a job.
ALTER TABLE results ADD COLUMN run_key TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX results_run_key ON results(run_key) WHERE run_key != '';
