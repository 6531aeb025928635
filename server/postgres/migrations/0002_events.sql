-- The outbox of notifications: each write's events commit with it, numbered from the counter 'events' (whose
-- row stays locked until the transaction ends, so they become visible in number order); every server instance
-- relays them to Redis, where clients' WebSockets get them.
CREATE TABLE events (
	seq  bigint PRIMARY KEY,
	at   timestamptz NOT NULL,
	data json NOT NULL
);
