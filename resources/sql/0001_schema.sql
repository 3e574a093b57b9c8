-- The whole schema of ComfyUI DataLabel.
--
-- Applied once per database by the migration runner, inside its transaction
-- and advisory lock; later changes go in files numbered after this one.

-- Who may do what -----------------------------------------------------------

CREATE TABLE users (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid (),
  name        text NOT NULL UNIQUE CHECK (length (name) BETWEEN 1 AND 128),
  role        text NOT NULL CHECK (role IN ('admin', 'operator', 'annotator')),
  created_at  timestamptz NOT NULL DEFAULT now ()
);

-- Bearer tokens, stored only as the SHA-256 of the token.
CREATE TABLE api_tokens (
  token_hash    text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  user_id       uuid NOT NULL REFERENCES users ON DELETE CASCADE,
  label         text,
  created_at    timestamptz NOT NULL DEFAULT now (),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- Admin settings that every instance shares.
CREATE TABLE settings (
  key         text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now ()
);

INSERT INTO settings (key, value) VALUES
  ('max_workflow_batch_size', '8'),
  ('resolution_min_side', '256'),
  ('resolution_max_side', '2048'),
  ('resolution_max_pixels', '4194304'),
  ('forbidden_node_types', '[]'),
  ('controlnet_allowed', 'true'),
  ('queue_depth_threshold', '1'),
  ('pilot_rate_limit_seconds', '30'),
  ('free_every_n_jobs', '50');

-- Worker registry -----------------------------------------------------------

-- API keys never reach this table: they live in the keyring (desktop) or
-- a 0600 file (server), keyed by the worker id.
CREATE TABLE workers (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid (),
  name                  text NOT NULL UNIQUE CHECK (length (name) BETWEEN 1 AND 128),
  base_url              text NOT NULL CHECK (base_url ~ '^https?://'),
  enabled               boolean NOT NULL DEFAULT true,
  status                text NOT NULL DEFAULT 'UNHEALTHY'
                        CHECK (status IN ('HEALTHY', 'UNHEALTHY')),
  priority              integer NOT NULL DEFAULT 0,
  max_concurrent_jobs   integer NOT NULL DEFAULT 1 CHECK (max_concurrent_jobs >= 1),
  current_queue_len     integer NOT NULL DEFAULT 0 CHECK (current_queue_len >= 0),
  consecutive_failures  integer NOT NULL DEFAULT 0,
  last_error            text,
  last_checked_at       timestamptz,
  health_claimed_until  timestamptz,
  -- node types from GET /object_info, refreshed on health passes
  node_types            text[],
  node_types_checked_at timestamptz,
  tags                  text[] NOT NULL DEFAULT '{}',
  created_at            timestamptz NOT NULL DEFAULT now (),
  updated_at            timestamptz NOT NULL DEFAULT now ()
);
CREATE INDEX workers_pick_idx ON workers (priority DESC, current_queue_len)
  WHERE enabled AND status = 'HEALTHY';

-- One orchestrator at a time drives a worker; the lease is renewed with the
-- health check and taken over when it expires.
CREATE TABLE worker_leases (
  worker_id   uuid PRIMARY KEY REFERENCES workers ON DELETE CASCADE,
  holder      text NOT NULL,
  expires_at  timestamptz NOT NULL
);

-- Workflows -----------------------------------------------------------------

-- Every upload is a new version of the workflow of that name.
CREATE TABLE workflows (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid (),
  name                   text NOT NULL CHECK (length (name) BETWEEN 1 AND 200),
  version                integer NOT NULL CHECK (version >= 1),
  description            text,
  raw_text               text NOT NULL,
  raw_definition         jsonb NOT NULL,
  valid                  boolean NOT NULL,
  problems               jsonb NOT NULL DEFAULT '[]',
  max_batch_size         integer,
  batch_size             integer,
  width                  integer,
  height                 integer,
  model                  text,
  prompt_nodes           jsonb NOT NULL DEFAULT '[]',
  seed_nodes             jsonb NOT NULL DEFAULT '[]',
  forbidden_nodes        jsonb NOT NULL DEFAULT '[]',
  node_types             text[] NOT NULL DEFAULT '{}',
  has_latent_batch_seed  boolean NOT NULL DEFAULT false,
  runnable_worker_ids    uuid[] NOT NULL DEFAULT '{}',
  validated_at           timestamptz,
  created_by             uuid REFERENCES users ON DELETE SET NULL,
  created_at             timestamptz NOT NULL DEFAULT now (),
  UNIQUE (name, version)
);

-- Variable pools --------------------------------------------------------------

CREATE TABLE variable_pools (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid (),
  name             text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,63}$'),
  mode             text NOT NULL CHECK (mode IN ('no_replacement', 'permutation')),
  current_version  integer NOT NULL DEFAULT 1,
  created_at       timestamptz NOT NULL DEFAULT now (),
  updated_at       timestamptz NOT NULL DEFAULT now ()
);

-- An edit makes a new version; tasks pin the version they were built from.
CREATE TABLE variable_pool_versions (
  pool_id     uuid NOT NULL REFERENCES variable_pools ON DELETE CASCADE,
  version     integer NOT NULL CHECK (version >= 1),
  items       text[] NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now (),
  PRIMARY KEY (pool_id, version)
);

-- Tasks -----------------------------------------------------------------------

CREATE TABLE tasks (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid (),
  name              text,
  workflow_id       uuid NOT NULL REFERENCES workflows,
  state             text NOT NULL DEFAULT 'DRAFT'
                    CHECK (state IN ('DRAFT', 'FROZEN', 'RUNNING', 'PAUSED',
                                     'DONE', 'FAILED', 'CANCELLED')),
  notes             text,
  prompt_template   text,
  target_prompts    integer NOT NULL CHECK (target_prompts >= 1),
  seeds_per_prompt  integer NOT NULL CHECK (seeds_per_prompt >= 1),
  rng_seed          bigint NOT NULL CHECK (rng_seed >= 0),
  settings          jsonb NOT NULL DEFAULT '{}',
  pilot             jsonb,
  frozen_snapshot   jsonb,
  frozen_at         timestamptz,
  created_by        uuid REFERENCES users ON DELETE SET NULL,
  created_at        timestamptz NOT NULL DEFAULT now (),
  updated_at        timestamptz NOT NULL DEFAULT now (),
  CHECK ((state = 'DRAFT') = (frozen_at IS NULL)),
  CHECK ((frozen_at IS NULL) = (frozen_snapshot IS NULL))
);
CREATE INDEX tasks_state_idx ON tasks (state);

CREATE TABLE task_pools (
  task_id       uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
  pool_id       uuid NOT NULL REFERENCES variable_pools,
  pool_version  integer NOT NULL,
  position      integer NOT NULL,
  PRIMARY KEY (task_id, pool_id),
  FOREIGN KEY (pool_id, pool_version) REFERENCES variable_pool_versions
);

CREATE TABLE prompts (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid (),
  task_id     uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
  position    integer NOT NULL CHECK (position >= 0),
  text        text NOT NULL,
  variables   jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now (),
  UNIQUE (task_id, position)
);

-- Seeds live in [0, 2^53) so that every JSON reader keeps them exact.
CREATE TABLE seeds (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid (),
  task_id     uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
  prompt_id   uuid NOT NULL REFERENCES prompts ON DELETE CASCADE,
  position    integer NOT NULL CHECK (position >= 0),
  seed_value  bigint NOT NULL CHECK (seed_value BETWEEN 0 AND 9007199254740991),
  created_at  timestamptz NOT NULL DEFAULT now (),
  UNIQUE (prompt_id, position),
  UNIQUE (prompt_id, seed_value)
);
CREATE INDEX seeds_task_idx ON seeds (task_id);

-- Freeze: the prompts, seeds, workflow and snapshot of a task that left
-- DRAFT cannot change, whatever code path tries.
CREATE FUNCTION cdl_forbid_frozen_children () RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  t uuid;
BEGIN
  IF TG_OP = 'DELETE' THEN
    t := OLD.task_id;
  ELSE
    t := NEW.task_id;
  END IF;
  IF EXISTS (SELECT 1 FROM tasks WHERE id = t AND frozen_at IS NOT NULL)
     OR (TG_OP = 'UPDATE' AND OLD.task_id <> NEW.task_id
         AND EXISTS (SELECT 1 FROM tasks WHERE id = OLD.task_id
                                             AND frozen_at IS NOT NULL)) THEN
    RAISE EXCEPTION 'task % is frozen: its % cannot change', t, TG_TABLE_NAME
      USING ERRCODE = 'CDL01';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER prompts_frozen BEFORE INSERT OR UPDATE OR DELETE ON prompts
  FOR EACH ROW EXECUTE FUNCTION cdl_forbid_frozen_children ();
CREATE TRIGGER seeds_frozen BEFORE INSERT OR UPDATE OR DELETE ON seeds
  FOR EACH ROW EXECUTE FUNCTION cdl_forbid_frozen_children ();
CREATE TRIGGER task_pools_frozen BEFORE INSERT OR UPDATE OR DELETE ON task_pools
  FOR EACH ROW EXECUTE FUNCTION cdl_forbid_frozen_children ();

CREATE FUNCTION cdl_guard_frozen_task () RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.frozen_at IS NOT NULL THEN
      RAISE EXCEPTION 'task % is frozen and cannot be deleted', OLD.id
        USING ERRCODE = 'CDL01';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.frozen_at IS NOT NULL AND (
       NEW.frozen_at IS DISTINCT FROM OLD.frozen_at
       OR NEW.frozen_snapshot IS DISTINCT FROM OLD.frozen_snapshot
       OR NEW.workflow_id IS DISTINCT FROM OLD.workflow_id
       OR NEW.prompt_template IS DISTINCT FROM OLD.prompt_template
       OR NEW.target_prompts IS DISTINCT FROM OLD.target_prompts
       OR NEW.seeds_per_prompt IS DISTINCT FROM OLD.seeds_per_prompt
       OR NEW.rng_seed IS DISTINCT FROM OLD.rng_seed) THEN
    RAISE EXCEPTION 'task % is frozen: its snapshot, workflow, prompts and seeds cannot change', OLD.id
      USING ERRCODE = 'CDL01';
  END IF;
  NEW.updated_at := now ();
  RETURN NEW;
END $$;

CREATE TRIGGER tasks_frozen BEFORE UPDATE OR DELETE ON tasks
  FOR EACH ROW EXECUTE FUNCTION cdl_guard_frozen_task ();

-- Generation ------------------------------------------------------------------

-- A job is one POST /prompt: one prompt and a native batch of its seeds (or
-- one seed when the workflow has no LatentBatchSeedBehavior).
CREATE TABLE jobs (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid (),
  task_id          uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
  prompt_id        uuid REFERENCES prompts ON DELETE CASCADE,
  kind             text NOT NULL DEFAULT 'mass'
                   CHECK (kind IN ('warmup', 'pilot', 'mass')),
  state            text NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued', 'submitted', 'running', 'done',
                                    'partial_failed', 'failed', 'cancelled')),
  worker_id        uuid REFERENCES workers ON DELETE SET NULL,
  client_id        text,
  comfy_prompt_id  text UNIQUE,
  seed_ids         uuid[] NOT NULL DEFAULT '{}',
  native_batch     boolean NOT NULL DEFAULT false,
  batch_size       integer NOT NULL DEFAULT 1 CHECK (batch_size >= 1),
  attempt          integer NOT NULL DEFAULT 0,
  settings         jsonb NOT NULL DEFAULT '{}',
  error            text,
  claimed_by       text,
  claimed_until    timestamptz,
  submitted_at     timestamptz,
  finished_at      timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now (),
  updated_at       timestamptz NOT NULL DEFAULT now ()
);
CREATE INDEX jobs_active_idx ON jobs (task_id, state)
  WHERE state IN ('queued', 'submitted', 'running');
CREATE INDEX jobs_prompt_idx ON jobs (prompt_id);
CREATE INDEX jobs_worker_idx ON jobs (worker_id)
  WHERE state IN ('submitted', 'running');

-- One row per image, partitioned by month of creation.
CREATE TABLE generations (
  id            uuid NOT NULL DEFAULT gen_random_uuid (),
  task_id       uuid NOT NULL,
  prompt_id     uuid NOT NULL,
  seed_id       uuid NOT NULL,
  job_id        uuid,
  worker_id     uuid,
  seed_value    bigint NOT NULL CHECK (seed_value BETWEEN 0 AND 9007199254740991),
  batch_index   integer NOT NULL DEFAULT 0 CHECK (batch_index >= 0),
  state         text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'running', 'done', 'failed',
                                 'partial_failed')),
  image_uri     text,
  thumb_uri     text,
  checksum      text CHECK (checksum IS NULL OR checksum ~ '^[0-9a-f]{64}$'),
  bytes         bigint,
  width         integer,
  height        integer,
  retries_used  integer NOT NULL DEFAULT 0,
  metadata      jsonb NOT NULL DEFAULT '{}',
  created_at    timestamptz NOT NULL DEFAULT now (),
  updated_at    timestamptz NOT NULL DEFAULT now (),
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE INDEX generations_task_prompt_idx ON generations (task_id, prompt_id);
CREATE INDEX generations_seed_idx ON generations (seed_id);

CREATE TABLE generations_default PARTITION OF generations DEFAULT;

-- Creates the monthly partitions from this month to @months_ahead months
-- ahead; returns how many it created. Safe to call from many instances.
CREATE FUNCTION cdl_ensure_generation_partitions (months_ahead integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  first_month date := date_trunc ('month', now ())::date;
  m date;
  part text;
  created integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock (hashtext ('cdl_generation_partitions'));
  FOR i IN 0 .. months_ahead LOOP
    m := (first_month + make_interval (months => i))::date;
    part := format ('generations_%s', to_char (m, 'YYYY_MM'));
    IF to_regclass (part) IS NULL THEN
      EXECUTE format ('CREATE TABLE %I PARTITION OF generations FOR VALUES FROM (%L) TO (%L)',
                      part, m, (m + interval '1 month')::date);
      created := created + 1;
    END IF;
  END LOOP;
  RETURN created;
END $$;

SELECT cdl_ensure_generation_partitions (3);

-- Annotation ------------------------------------------------------------------

-- A batch is the images of one prompt; batch_id is that prompt's id.
CREATE TABLE annotations (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid (),
  task_id         uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
  batch_id        uuid NOT NULL,
  prompt_id       uuid NOT NULL REFERENCES prompts ON DELETE CASCADE,
  user_id         uuid NOT NULL REFERENCES users ON DELETE CASCADE,
  chosen_index    integer CHECK (chosen_index >= 0),
  rejected_index  integer CHECK (rejected_index >= 0),
  spam            boolean NOT NULL DEFAULT false,
  shown_order     integer[],
  decision_ms     integer,
  variant_key     text,
  is_repeat       boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now (),
  updated_at      timestamptz NOT NULL DEFAULT now (),
  UNIQUE (task_id, batch_id, user_id),
  CHECK (spam OR chosen_index IS NOT NULL),
  CHECK (rejected_index IS NULL OR rejected_index <> chosen_index)
);
CREATE INDEX annotations_task_idx ON annotations (task_id, batch_id);
CREATE INDEX annotations_user_idx ON annotations (user_id, created_at);

-- A batch handed to an annotator is leased briefly so that two people do
-- not get the same one.
CREATE TABLE batch_leases (
  task_id       uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
  batch_id      uuid NOT NULL,
  user_id       uuid NOT NULL REFERENCES users ON DELETE CASCADE,
  leased_until  timestamptz NOT NULL,
  PRIMARY KEY (task_id, batch_id, user_id)
);
CREATE INDEX batch_leases_live_idx ON batch_leases (task_id, batch_id, leased_until);

-- A/B tests -------------------------------------------------------------------

CREATE TABLE ab_tests (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid (),
  name        text NOT NULL UNIQUE,
  variants    jsonb NOT NULL CHECK (jsonb_typeof (variants) = 'array'),
  expires_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now ()
);

CREATE TABLE ab_assignments (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid (),
  test_id      uuid NOT NULL REFERENCES ab_tests ON DELETE CASCADE,
  user_id      uuid NOT NULL,
  variant_key  text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now (),
  UNIQUE (test_id, user_id)
);

CREATE TABLE ab_events (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  test_id      uuid REFERENCES ab_tests ON DELETE CASCADE,
  user_id      uuid,
  variant_key  text,
  kind         text NOT NULL,
  value        jsonb NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now ()
);
CREATE INDEX ab_events_test_idx ON ab_events (test_id, variant_key, kind);

-- Operations ------------------------------------------------------------------

CREATE TABLE alerts (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind        text NOT NULL,
  subject     text NOT NULL,
  state       text NOT NULL CHECK (state IN ('firing', 'cleared')),
  message     text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now (),
  cleared_at  timestamptz
);
-- At most one firing alert per condition.
CREATE UNIQUE INDEX alerts_firing_idx ON alerts (kind, subject)
  WHERE state = 'firing';
