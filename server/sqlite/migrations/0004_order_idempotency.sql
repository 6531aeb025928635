-- An order action sent with an Idempotency-Key is applied once: a retry (its answer was lost) finds the key in
-- the order's history and changes nothing.
ALTER TABLE order_history ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX order_history_key ON order_history(order_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
