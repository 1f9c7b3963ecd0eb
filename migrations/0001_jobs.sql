-- Job state: one row per job id, written by the workers' batched, fenced writer
-- (common/pg/include/wharf/pg/job_state.hpp). Operators query it; every column is commented,
-- so `\d+ jobs` in psql explains it.
--
-- (schema_migrations, the runner's own bookkeeping, is created by the runner before this file
-- runs: see common/pg/src/migrate.cpp.)

CREATE TABLE jobs (
    id           text        PRIMARY KEY,
    queue        text        NOT NULL,
    status       text        NOT NULL DEFAULT 'queued'
                             CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
    attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer     NOT NULL DEFAULT 1 CHECK (max_attempts >= 0),
    epoch        bigint      NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    entry_ms     bigint      NOT NULL DEFAULT 0,
    entry_seq    bigint      NOT NULL DEFAULT 0,
    delivery     integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    run_at       timestamptz,
    error        text,
    result       jsonb,
    progress     jsonb,
    payload      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    api_key      text,
    parent_id    text
);

-- "What is stuck / failing in queue X": status first, it is the selective column. Partial:
-- succeeded rows are the bulk of the table and nobody looks them up by status, so leaving them
-- out keeps the hot path (a job finishing) to one index write, the primary key.
CREATE INDEX jobs_status_queue_idx ON jobs (status, queue) WHERE status <> 'succeeded';
-- The children of a pipeline step.
CREATE INDEX jobs_parent_id_idx ON jobs (parent_id) WHERE parent_id IS NOT NULL;
-- A tenant's jobs, newest first.
CREATE INDEX jobs_api_key_idx ON jobs (api_key, created_at) WHERE api_key IS NOT NULL;
-- Retention sweeps and "what finished in the last N minutes". BRIN: rows arrive roughly in
-- finishing order, and a BRIN index costs next to nothing to maintain, unlike a B-tree on a
-- column that every state change rewrites (which would also rule out HOT updates).
CREATE INDEX jobs_finished_at_idx ON jobs USING brin (finished_at);

COMMENT ON TABLE jobs IS
  'State of every job wharf has seen, keyed by job id. Written by workers in batches; a change from a worker that no longer holds the job (stale fence) is refused, so a job''s final state is written once.';
COMMENT ON COLUMN jobs.id IS 'Job id: the producer''s idempotency id, or the Redis stream entry id when none was given.';
COMMENT ON COLUMN jobs.queue IS 'Queue (= job type) the job was enqueued on: stream wharf:{<queue>}:stream.';
COMMENT ON COLUMN jobs.status IS 'queued (waiting, or a retry is scheduled at run_at), running, succeeded, failed (permanent error), dead (attempts exhausted or malformed; in the dead-letter stream), cancelled. The last four are final.';
COMMENT ON COLUMN jobs.attempts IS 'Attempt number of the latest run, 1-based (a retry increments it; a take-over of the same attempt does not).';
COMMENT ON COLUMN jobs.max_attempts IS 'Attempts allowed before the job goes dead.';
COMMENT ON COLUMN jobs.epoch IS 'How many times a worker took the job (first start, retries and take-overs after a worker died). epoch - attempts > 0 means take-overs happened.';
COMMENT ON COLUMN jobs.entry_ms IS 'Fence, part 1: millisecond part of the Redis stream entry id of the delivery that last started the job.';
COMMENT ON COLUMN jobs.entry_seq IS 'Fence, part 2: sequence part of that stream entry id.';
COMMENT ON COLUMN jobs.delivery IS 'Fence, part 3: that entry''s delivery count. Writes are accepted only from the holder of the largest fence (entry_ms, entry_seq, delivery).';
COMMENT ON COLUMN jobs.created_at IS 'When wharf first wrote the row (first start, or dead-lettering of a malformed envelope).';
COMMENT ON COLUMN jobs.updated_at IS 'Last change of any column.';
COMMENT ON COLUMN jobs.started_at IS 'When the latest run started.';
COMMENT ON COLUMN jobs.finished_at IS 'When the job reached a final status; NULL while not final.';
COMMENT ON COLUMN jobs.run_at IS 'For status queued after a failure: when the next attempt is due.';
COMMENT ON COLUMN jobs.error IS 'Last error, readable: why the latest attempt failed, or why the job is dead. Kept when a retry starts.';
COMMENT ON COLUMN jobs.result IS 'JSON result of a succeeded job (job type specific).';
COMMENT ON COLUMN jobs.progress IS 'Latest JSON progress reported by the running job (e.g. {"bytes_done":..,"bytes_total":..}).';
COMMENT ON COLUMN jobs.payload IS 'The envelope''s payload object, as enqueued.';
COMMENT ON COLUMN jobs.api_key IS 'Tenant that enqueued the job (envelope api_key), if any.';
COMMENT ON COLUMN jobs.parent_id IS 'For pipelines: id of the job that spawned this one.';
COMMENT ON INDEX jobs_status_queue_idx IS 'Jobs by status within a queue, except succeeded ones (operators: stuck, failed, dead per queue).';
COMMENT ON INDEX jobs_parent_id_idx IS 'Children of a pipeline job.';
COMMENT ON INDEX jobs_api_key_idx IS 'A tenant''s jobs by creation time.';
COMMENT ON INDEX jobs_finished_at_idx IS 'Recently finished jobs; retention sweeps.';
