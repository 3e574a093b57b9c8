-- Pairing a phone: a single-use code, shown as a QR code on the desktop,
-- that the phone trades for an annotator's bearer token. Only the SHA-256
-- of a code is stored, like tokens.
CREATE TABLE pairing_codes (
  code_hash   text PRIMARY KEY CHECK (code_hash ~ '^[0-9a-f]{64}$'),
  label       text CHECK (label IS NULL OR length (label) BETWEEN 1 AND 128),
  created_by  uuid REFERENCES users ON DELETE CASCADE,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  -- the annotator the code was redeemed for
  user_id     uuid REFERENCES users ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now ()
);
CREATE INDEX pairing_codes_expiry_idx ON pairing_codes (expires_at);

-- A/B tests: an assignment is found by test and user (the UNIQUE of
-- 0001); results read events and labels per variant.
CREATE INDEX ab_assignments_variant_idx ON ab_assignments (test_id, variant_key);
CREATE INDEX annotations_variant_idx ON annotations (user_id, variant_key)
  WHERE variant_key IS NOT NULL;

-- Repeats: how often next-batch re-shows a batch the annotator already
-- labelled (0 to 0.2), to measure self-consistency. The repeated answer
-- is kept apart so that it never overwrites the original label; a label
-- is repeated at most once, so a replayed answer updates its repeat.
ALTER TABLE tasks ADD COLUMN repeat_rate numeric NOT NULL DEFAULT 0
  CHECK (repeat_rate >= 0 AND repeat_rate <= 0.2);

CREATE TABLE annotation_repeats (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid (),
  annotation_id   uuid NOT NULL REFERENCES annotations ON DELETE CASCADE,
  task_id         uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
  user_id         uuid NOT NULL REFERENCES users ON DELETE CASCADE,
  chosen_index    integer CHECK (chosen_index >= 0),
  spam            boolean NOT NULL DEFAULT false,
  decision_ms     integer,
  created_at      timestamptz NOT NULL DEFAULT now ()
);
CREATE INDEX annotation_repeats_task_idx ON annotation_repeats (task_id, user_id);
CREATE UNIQUE INDEX annotation_repeats_once_idx ON annotation_repeats (annotation_id);
