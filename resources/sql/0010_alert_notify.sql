-- Every instance hears about alert changes, whichever instance decided
-- them: NOTIFY cdl_alerts with the alert's id when it fires or clears.
-- The unique partial index alerts_firing_idx keeps one firing row per
-- (kind, subject), so only the instance whose statement changed the row
-- delivers it.

CREATE FUNCTION cdl_notify_alert () RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify ('cdl_alerts', NEW.id::text);
  RETURN NULL;
END $$;

CREATE TRIGGER alerts_notify_insert AFTER INSERT ON alerts
  FOR EACH ROW EXECUTE FUNCTION cdl_notify_alert ();

CREATE TRIGGER alerts_notify_update AFTER UPDATE OF state ON alerts
  FOR EACH ROW EXECUTE FUNCTION cdl_notify_alert ();

CREATE INDEX alerts_recent_idx ON alerts (created_at DESC);

-- The failing-worker condition looks at the jobs finished in the last
-- minutes, every evaluation.
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;
