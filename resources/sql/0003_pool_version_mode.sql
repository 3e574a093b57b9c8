-- Pools and tasks: what 0001 left to the versions and the lists.

-- The mode belongs to a pool version, like its items: an edit that changes
-- the mode must not change how tasks pinned to an older version sample.
ALTER TABLE variable_pool_versions ADD COLUMN mode text
  CHECK (mode IN ('no_replacement', 'permutation'));
UPDATE variable_pool_versions v SET mode = p.mode
  FROM variable_pools p WHERE p.id = v.pool_id;
ALTER TABLE variable_pool_versions ALTER COLUMN mode SET NOT NULL;

-- GET /api/tasks lists newest first.
CREATE INDEX tasks_created_idx ON tasks (created_at DESC, id);
