-- Every instance hears about worker changes, whichever instance made them:
-- NOTIFY cdl_workers with the worker's id when anything a person sees
-- changes. Health-check claims alone do not notify.

CREATE FUNCTION cdl_notify_worker () RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify ('cdl_workers', NEW.id::text);
  RETURN NULL;
END $$;

CREATE TRIGGER workers_notify_insert AFTER INSERT ON workers
  FOR EACH ROW EXECUTE FUNCTION cdl_notify_worker ();

CREATE TRIGGER workers_notify_update
  AFTER UPDATE OF name, base_url, enabled, status, priority, max_concurrent_jobs,
                  current_queue_len, consecutive_failures, last_error, last_checked_at,
                  tags
  ON workers
  FOR EACH ROW EXECUTE FUNCTION cdl_notify_worker ();
