-- Jobs are handed out in the order they were planned (prompt order), and a
-- retry points at the job it replaces so that a prompt's attempts can be
-- counted and shown.

ALTER TABLE jobs ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE jobs ADD COLUMN retry_of uuid REFERENCES jobs ON DELETE SET NULL;

CREATE INDEX jobs_queue_idx ON jobs (task_id, seq) WHERE state = 'queued';
CREATE INDEX jobs_claims_idx ON jobs (claimed_until)
  WHERE state IN ('submitted', 'running');

-- At most one stored image per seed and batch index of a task's prompt.
CREATE TABLE generation_slots (
  seed_id        uuid NOT NULL REFERENCES seeds ON DELETE CASCADE,
  batch_index    integer NOT NULL,
  generation_id  uuid NOT NULL,
  created_at     timestamptz NOT NULL,
  PRIMARY KEY (seed_id, batch_index)
);
CREATE INDEX jobs_retry_of_idx ON jobs (retry_of) WHERE retry_of IS NOT NULL;
