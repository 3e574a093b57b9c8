-- The per-user pilot rate limit: when each user last started a pilot, on
-- whichever instance. A conditional upsert moves it forward only once the
-- limit has passed, so racing requests cannot both get through.
CREATE TABLE pilot_requests (
  user_id  uuid PRIMARY KEY REFERENCES users ON DELETE CASCADE,
  last_at  timestamptz NOT NULL
);
