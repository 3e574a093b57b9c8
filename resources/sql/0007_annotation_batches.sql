-- Batches for annotation: one row per prompt with stored images, kept up
-- to date by triggers, so that paging batches and handing out the next one
-- are index range scans however many images a task has (no OFFSET, no
-- count over generations per page).
--
-- first_at is the creation time of the batch's first stored image: the
-- order batches are offered in. A batch is complete once every seed of its
-- prompt has its image (images >= expected); only complete batches are
-- offered, so labelling starts while generation runs. labels counts the
-- annotations of the batch, for the overlap setting.

CREATE TABLE annotation_batches (
  prompt_id  uuid PRIMARY KEY REFERENCES prompts ON DELETE CASCADE,
  task_id    uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
  first_at   timestamptz NOT NULL,
  images     integer NOT NULL DEFAULT 0,
  expected   integer NOT NULL,
  labels     integer NOT NULL DEFAULT 0
);

-- Paging: (first_at, prompt_id) after the cursor.
CREATE INDEX annotation_batches_page_idx
  ON annotation_batches (task_id, first_at, prompt_id)
  WHERE images >= expected;
-- The next batch to label: fewest labels first, then page order.
CREATE INDEX annotation_batches_queue_idx
  ON annotation_batches (task_id, labels, first_at, prompt_id)
  WHERE images >= expected;

CREATE FUNCTION cdl_count_batch_image () RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO annotation_batches AS b (prompt_id, task_id, first_at, images, expected)
  VALUES (NEW.prompt_id, NEW.task_id, NEW.created_at, 1,
          (SELECT count (*) FROM seeds WHERE prompt_id = NEW.prompt_id))
  ON CONFLICT (prompt_id) DO UPDATE
    SET images = b.images + 1,
        first_at = least (b.first_at, EXCLUDED.first_at);
  RETURN NULL;
END $$;

CREATE TRIGGER generations_batch_count AFTER INSERT ON generations
  FOR EACH ROW WHEN (NEW.state = 'done' AND NEW.image_uri IS NOT NULL)
  EXECUTE FUNCTION cdl_count_batch_image ();

CREATE FUNCTION cdl_count_batch_label () RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE annotation_batches SET labels = labels + 1 WHERE prompt_id = NEW.batch_id;
  ELSE
    UPDATE annotation_batches SET labels = labels - 1 WHERE prompt_id = OLD.batch_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER annotations_batch_count AFTER INSERT OR DELETE ON annotations
  FOR EACH ROW EXECUTE FUNCTION cdl_count_batch_label ();

-- Images stored before this migration.
INSERT INTO annotation_batches (prompt_id, task_id, first_at, images, expected, labels)
SELECT g.prompt_id, g.task_id, min (g.created_at), count (*),
       (SELECT count (*) FROM seeds s WHERE s.prompt_id = g.prompt_id),
       (SELECT count (*) FROM annotations a WHERE a.batch_id = g.prompt_id)
FROM generations g
WHERE g.state = 'done' AND g.image_uri IS NOT NULL
GROUP BY g.prompt_id, g.task_id;

-- Export and statistics read a task's annotations in creation order.
CREATE INDEX annotations_export_idx ON annotations (task_id, created_at, id);
