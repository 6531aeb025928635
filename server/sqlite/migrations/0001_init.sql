-- The server's schema. Times are UTC text in a fixed-width layout, so that they sort as they compare.

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- Sequences of the friendly IDs (P202600001, ocs_0001, ai_req_0001), taken inside the writing transaction.
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);

CREATE TABLE users (
	id                   INTEGER PRIMARY KEY AUTOINCREMENT,
	login_id             TEXT NOT NULL UNIQUE,
	name                 TEXT NOT NULL,
	email                TEXT NOT NULL DEFAULT '',
	role                 TEXT NOT NULL CHECK (role IN ('SYSTEMMANAGER','ADMIN','DOCTOR','NURSE','RIS','LIS','EXTERNAL','PATIENT')),
	password_hash        TEXT NOT NULL,
	is_active            INTEGER NOT NULL DEFAULT 1,
	is_locked            INTEGER NOT NULL DEFAULT 0,
	locked_at            TEXT,
	must_change_password INTEGER NOT NULL DEFAULT 1,
	last_login           TEXT,
	last_login_addr      TEXT NOT NULL DEFAULT '',
	created_at           TEXT NOT NULL,
	updated_at           TEXT NOT NULL
);

CREATE TABLE refresh_tokens (
	hash       TEXT PRIMARY KEY,
	family     TEXT NOT NULL,
	user_id    INTEGER NOT NULL REFERENCES users(id),
	issued_at  TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	used_at    TEXT,
	revoked_at TEXT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);

CREATE TABLE patients (
	id                      INTEGER PRIMARY KEY AUTOINCREMENT,
	number                  TEXT NOT NULL UNIQUE,
	name                    TEXT NOT NULL,
	birth_date              TEXT NOT NULL,
	gender                  TEXT NOT NULL CHECK (gender IN ('M','F','O')),
	phone                   TEXT NOT NULL DEFAULT '',
	email                   TEXT NOT NULL DEFAULT '',
	address                 TEXT NOT NULL DEFAULT '',
	status                  TEXT NOT NULL,
	severity                TEXT NOT NULL,
	external_institution_id INTEGER REFERENCES users(id),
	portal_user_id          INTEGER UNIQUE REFERENCES users(id),
	registered_by           INTEGER NOT NULL REFERENCES users(id),
	created_at              TEXT NOT NULL,
	updated_at              TEXT NOT NULL
);
CREATE INDEX patients_institution ON patients(external_institution_id);

CREATE TABLE orders (
	id              TEXT PRIMARY KEY,
	patient_id      INTEGER NOT NULL REFERENCES patients(id),
	doctor_id       INTEGER NOT NULL REFERENCES users(id),
	worker_id       INTEGER REFERENCES users(id),
	job_role        TEXT NOT NULL,
	job_type        TEXT NOT NULL,
	status          TEXT NOT NULL CHECK (status IN ('ORDERED','ACCEPTED','IN_PROGRESS','RESULT_READY','CONFIRMED','CANCELLED')),
	priority        TEXT NOT NULL,
	doctor_request  TEXT,
	worker_result   TEXT,
	attachments     TEXT,
	result          INTEGER,
	cancel_reason   TEXT NOT NULL DEFAULT '',
	created_at      TEXT NOT NULL,
	accepted_at     TEXT,
	in_progress_at  TEXT,
	result_ready_at TEXT,
	confirmed_at    TEXT,
	cancelled_at    TEXT,
	updated_at      TEXT NOT NULL,
	version         INTEGER NOT NULL
);
CREATE INDEX orders_role_created ON orders(job_role, created_at);
CREATE INDEX orders_patient ON orders(patient_id);

CREATE TABLE order_history (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	order_id    TEXT NOT NULL REFERENCES orders(id),
	action      TEXT NOT NULL,
	actor_id    INTEGER NOT NULL REFERENCES users(id),
	from_status TEXT NOT NULL DEFAULT '',
	to_status   TEXT NOT NULL,
	from_worker INTEGER,
	to_worker   INTEGER,
	reason      TEXT NOT NULL DEFAULT '',
	client_addr TEXT NOT NULL DEFAULT '',
	at          TEXT NOT NULL
);
CREATE INDEX order_history_order ON order_history(order_id);

CREATE TABLE ai_results (
	id              TEXT PRIMARY KEY,
	model           TEXT NOT NULL CHECK (model IN ('M1','MG','MM')),
	model_version   TEXT NOT NULL,
	patient_id      INTEGER NOT NULL REFERENCES patients(id),
	order_id        TEXT REFERENCES orders(id),
	study_uid       TEXT NOT NULL DEFAULT '',
	job_id          TEXT NOT NULL DEFAULT '',
	result          TEXT NOT NULL,
	provenance      TEXT,
	created_by      INTEGER NOT NULL REFERENCES users(id),
	created_at      TEXT NOT NULL,
	review_status   TEXT NOT NULL,
	review_comment  TEXT NOT NULL DEFAULT '',
	reviewed_by     INTEGER REFERENCES users(id),
	reviewed_at     TEXT,
	idempotency_key TEXT NOT NULL,
	content_hash    TEXT NOT NULL,
	UNIQUE (created_by, idempotency_key)
);
CREATE INDEX ai_results_patient ON ai_results(patient_id);

-- The change feed workstations sync from; seq is the cursor.
CREATE TABLE changes (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	kind       TEXT NOT NULL,
	object_id  TEXT NOT NULL,
	op         TEXT NOT NULL,
	at         TEXT NOT NULL,
	patient_id INTEGER NOT NULL,
	job_role   TEXT NOT NULL DEFAULT '',
	data       TEXT NOT NULL
);
CREATE INDEX changes_patient ON changes(patient_id, seq);

CREATE TABLE audit (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	at          TEXT NOT NULL,
	user_id     INTEGER,
	login_id    TEXT NOT NULL DEFAULT '',
	role        TEXT NOT NULL DEFAULT '',
	action      TEXT NOT NULL,
	object_type TEXT NOT NULL DEFAULT '',
	object_id   TEXT NOT NULL DEFAULT '',
	patient_id  INTEGER,
	outcome     TEXT NOT NULL,
	status      INTEGER NOT NULL DEFAULT 0,
	client_addr TEXT NOT NULL DEFAULT '',
	method      TEXT NOT NULL DEFAULT '',
	path        TEXT NOT NULL DEFAULT '',
	detail      TEXT NOT NULL DEFAULT '',
	source      TEXT NOT NULL,
	event_id    TEXT,
	occurred_at TEXT
);
CREATE UNIQUE INDEX audit_forwarded ON audit(user_id, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX audit_user ON audit(user_id, id);
CREATE INDEX audit_patient ON audit(patient_id, id);
CREATE INDEX audit_action ON audit(action, id);

-- Audit records are append-only: the database itself refuses to change or remove one.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
