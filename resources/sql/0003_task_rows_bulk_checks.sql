-- A task's prompts and seeds are written and replaced tens of thousands of
-- rows at a time. The freeze check of those inserts and deletes now runs
-- once per statement, over the rows the statement changed, instead of once
-- per row; the rule of 0001 is unchanged: no row of a frozen task may be
-- added, changed or removed. Updates keep the row trigger.

CREATE FUNCTION cdl_forbid_frozen_rows () RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  t uuid;
BEGIN
  SELECT k.id INTO t
    FROM (SELECT DISTINCT task_id FROM changed_rows) c
    JOIN tasks k ON k.id = c.task_id
   WHERE k.frozen_at IS NOT NULL
   LIMIT 1;
  IF t IS NOT NULL THEN
    RAISE EXCEPTION 'task % is frozen: its % cannot change', t, TG_TABLE_NAME
      USING ERRCODE = 'CDL01';
  END IF;
  RETURN NULL;
END $$;

DROP TRIGGER prompts_frozen ON prompts;
CREATE TRIGGER prompts_frozen BEFORE UPDATE ON prompts
  FOR EACH ROW EXECUTE FUNCTION cdl_forbid_frozen_children ();
CREATE TRIGGER prompts_frozen_insert AFTER INSERT ON prompts
  REFERENCING NEW TABLE AS changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cdl_forbid_frozen_rows ();
CREATE TRIGGER prompts_frozen_delete AFTER DELETE ON prompts
  REFERENCING OLD TABLE AS changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cdl_forbid_frozen_rows ();

DROP TRIGGER seeds_frozen ON seeds;
CREATE TRIGGER seeds_frozen BEFORE UPDATE ON seeds
  FOR EACH ROW EXECUTE FUNCTION cdl_forbid_frozen_children ();
CREATE TRIGGER seeds_frozen_insert AFTER INSERT ON seeds
  REFERENCING NEW TABLE AS changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cdl_forbid_frozen_rows ();
CREATE TRIGGER seeds_frozen_delete AFTER DELETE ON seeds
  REFERENCING OLD TABLE AS changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cdl_forbid_frozen_rows ();
