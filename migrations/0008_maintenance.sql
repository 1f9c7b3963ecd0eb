-- Maintenance (the `cleanup` job type and `wharfctl cleanup`, common/maintenance): one row per run
-- of a task, with what it did (or, with dry_run, what it would have done).

CREATE TABLE maintenance_runs (
    id          bigserial   PRIMARY KEY,
    task        text        NOT NULL,
    job_id      text,                   -- the cleanup job that ran it; null when wharfctl did
    dry_run     boolean     NOT NULL DEFAULT false,
    status      text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    result      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    error       text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX maintenance_runs_task ON maintenance_runs (task, started_at DESC);
-- No new index on jobs: every index there is written on the hot path. The stuck-job sweep finds
-- running rows through jobs_status_queue_idx (status, queue) WHERE status <> 'succeeded'.
