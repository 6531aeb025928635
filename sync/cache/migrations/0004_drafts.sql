-- 0004: the reports readers type on this workstation. A draft is kept here as it is typed (autosave),
-- whatever the network does; what goes to the server goes through the outbox (result.report). A draft is
-- never dropped by a refusal of the server: the reader's text stays here until the reader replaces it.
CREATE TABLE drafts (
    order_id      TEXT PRIMARY KEY,
    worker_result TEXT NOT NULL,          -- the report, as the order's worker_result JSON
    updated_at    INTEGER NOT NULL        -- Unix milliseconds
);
