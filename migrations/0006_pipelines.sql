-- Pipelines (wharf/pipeline/): a submission on the `pipeline` queue runs its steps as ordinary
-- jobs on their own queues (download, transcode, publish), each with a deterministic id
-- "<pipeline>:<step>". The pipeline job's own run only starts the first step and records status
-- `waiting`; whoever finishes a step advances the pipeline in one transaction on this table, and
-- the one that finishes it writes the pipeline job's final state.

ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('queued', 'running', 'waiting', 'succeeded', 'failed', 'dead', 'cancelled'));
COMMENT ON COLUMN jobs.status IS 'queued (waiting, or a retry is scheduled at run_at), running, waiting (its own run is over; it ends when others finish: a pipeline waits for its steps), succeeded, failed (permanent error), dead (attempts exhausted or malformed; in the dead-letter stream), cancelled. The last four are final.';

CREATE TABLE pipelines (
    id            text        PRIMARY KEY,
    api_key       text,
    video_id      text        NOT NULL,
    status        text        NOT NULL DEFAULT 'running'
                              CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    spec          jsonb       NOT NULL,
    steps         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    source_sha256 text,
    result        jsonb,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
-- "Has this tenant processed these bytes already?" (duplicate sources finish early).
CREATE INDEX pipelines_source ON pipelines (api_key, source_sha256) WHERE status = 'succeeded';
-- Running pipelines, for operators and the reconciliation sweep.
CREATE INDEX pipelines_running ON pipelines (updated_at) WHERE status = 'running';

COMMENT ON TABLE pipelines IS 'One row per pipeline (the job of the same id on queue pipeline): its submission, the state of each step, and its outcome. Changed only in the transaction that records a step''s end.';
COMMENT ON COLUMN pipelines.id IS 'The pipeline id: the pipeline job''s id; its steps are the jobs "<id>:<step>".';
COMMENT ON COLUMN pipelines.api_key IS 'Tenant that submitted it: charged for its objects; duplicate sources are found per tenant only.';
COMMENT ON COLUMN pipelines.video_id IS 'Where its outputs go: processed/<video_id>/.';
COMMENT ON COLUMN pipelines.status IS 'running, succeeded, failed (a step failed: error names it), cancelled.';
COMMENT ON COLUMN pipelines.spec IS 'The submission, validated: source, renditions and options.';
COMMENT ON COLUMN pipelines.steps IS 'Step name -> {queue, job, status, result, error}: what each step was asked and how it ended.';
COMMENT ON COLUMN pipelines.source_sha256 IS 'SHA-256 of the source once known (after download, or given with a stored source).';
COMMENT ON COLUMN pipelines.result IS 'Final outcome: the published artifacts with presigned URLs, or the original pipeline''s for a duplicate source.';
COMMENT ON COLUMN pipelines.error IS 'Why it failed: the step and its reason.';
COMMENT ON COLUMN pipelines.created_at IS 'When the submission was first run.';
COMMENT ON COLUMN pipelines.updated_at IS 'Last change.';
COMMENT ON COLUMN pipelines.finished_at IS 'When it reached a final status.';
COMMENT ON INDEX pipelines_source IS 'Succeeded pipelines by tenant and source SHA-256: duplicate detection.';
COMMENT ON INDEX pipelines_running IS 'Running pipelines by last change.';
