-- The outbox of notifications: each write's events commit with it, numbered in commit order; every server
-- instance relays them to Redis, where clients' WebSockets get them.
CREATE TABLE events (
	seq  INTEGER PRIMARY KEY AUTOINCREMENT,
	at   TEXT NOT NULL,
	data TEXT NOT NULL
);
