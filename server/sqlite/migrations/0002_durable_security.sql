-- State that guards access, and queued work, lives here rather than in Redis, so that a Redis restart (or a
-- Redis that lost its data) brings back no revoked token, unlocks no account and loses no job.

-- Access tokens of a user issued at or before this time (Unix ms) are refused: password change, deactivation,
-- lockout. 0: none.
ALTER TABLE users ADD COLUMN tokens_valid_after_ms INTEGER NOT NULL DEFAULT 0;

-- Access tokens revoked one by one (logout), kept until they expire.
CREATE TABLE revoked_tokens (
	jti        TEXT PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users(id),
	expires_at TEXT NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens(expires_at);

-- Failed logins per login ID, known or not, so that the answers do not tell which accounts exist. A login ID
-- that reached the limit stays locked (locked_at) until an administrator unlocks its account.
CREATE TABLE login_failures (
	login_id  TEXT PRIMARY KEY,
	failures  INTEGER NOT NULL,
	first_at  TEXT NOT NULL,
	locked_at TEXT
);

-- The AI jobs submitted to the queue; Redis delivers them, this table keeps them until they end.
CREATE TABLE jobs (
	id           TEXT PRIMARY KEY,
	model        TEXT NOT NULL CHECK (model IN ('M1','MG','MM')),
	patient_id   INTEGER NOT NULL REFERENCES patients(id),
	order_id     TEXT NOT NULL DEFAULT '',
	study_uid    TEXT NOT NULL DEFAULT '',
	inputs       TEXT,
	submitted_by INTEGER NOT NULL REFERENCES users(id),
	submitted_at TEXT NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('queued','done','failed')),
	result_id    TEXT NOT NULL DEFAULT '',
	error        TEXT NOT NULL DEFAULT '',
	finished_at  TEXT
);
CREATE INDEX jobs_unfinished ON jobs(status) WHERE status = 'queued';

-- An AI result an administrator withdrew (a bad upload) stays stored, marked, and out of the default lists.
ALTER TABLE ai_results ADD COLUMN withdrawn_at TEXT;
ALTER TABLE ai_results ADD COLUMN withdrawn_by INTEGER REFERENCES users(id);
ALTER TABLE ai_results ADD COLUMN withdraw_reason TEXT NOT NULL DEFAULT '';
