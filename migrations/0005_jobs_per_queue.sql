-- Jobs are identified by (queue, id), as Redis identifies them: a job id is unique within its
-- queue (duplicate detection is per queue), and a job that is not given an id takes its stream
-- entry id, which two queues' streams can hand out at the same millisecond. Keyed by id alone,
-- two such jobs shared one row and the second was acknowledged as already finished without ever
-- running. The tables that name a job (the multipart journal, the catalog) name its queue too.
--
-- And a job's run has a generation: `wharfctl dead retry` puts a dead job back with the next one.
-- Only a newer generation may reopen a dead or failed row. Before, any newer fence did, so a
-- second chain of attempts left by a lost hand-over (a take-over racing the first chain's last
-- outcome) could reopen a job that had already been dead-lettered.

ALTER TABLE jobs ADD COLUMN generation integer NOT NULL DEFAULT 0 CHECK (generation >= 0);
ALTER TABLE jobs DROP CONSTRAINT jobs_pkey;
-- id first: an operator's lookup by id alone (wharfctl status <id>) uses the key's prefix.
ALTER TABLE jobs ADD PRIMARY KEY (id, queue);

COMMENT ON TABLE jobs IS
  'State of every job wharf has seen, keyed by (job id, queue). Written by workers in batches; a change from a worker that no longer holds the job (stale fence) is refused, so a job''s final state is written once.';
COMMENT ON COLUMN jobs.id IS 'Job id, unique within its queue: the producer''s idempotency id, or the Redis stream entry id when none was given.';
COMMENT ON COLUMN jobs.generation IS 'Fence, part 0: the run''s generation (envelope _gen), bumped by `wharfctl dead retry`. Only a larger generation reopens a dead or failed job.';
COMMENT ON COLUMN jobs.delivery IS 'Fence, part 3: that entry''s delivery count. Writes are accepted only from the holder of the largest fence (generation, entry_ms, entry_seq, delivery).';

ALTER TABLE multipart_uploads ADD COLUMN job_queue text NOT NULL DEFAULT 'upload';
ALTER TABLE multipart_uploads ALTER COLUMN job_queue DROP DEFAULT;
DROP INDEX multipart_uploads_upload;
CREATE UNIQUE INDEX multipart_uploads_upload ON multipart_uploads (provider, bucket, key, upload_id, job_id, job_queue);
DROP INDEX multipart_uploads_job_id;
CREATE INDEX multipart_uploads_job ON multipart_uploads (job_id, job_queue);
COMMENT ON INDEX multipart_uploads_upload IS 'One row per upload and job; recording the same upload again is a no-op.';
COMMENT ON INDEX multipart_uploads_job IS 'The uploads a job left open, which its next attempt aborts first.';
COMMENT ON COLUMN multipart_uploads.job_queue IS 'The queue of that job (jobs.queue): a job is (job_queue, job_id).';

-- Rows written before this migration came from the upload job, the only one that stored objects.
ALTER TABLE objects ADD COLUMN job_queue text;
UPDATE objects SET job_queue = 'upload' WHERE job_id IS NOT NULL;
DROP INDEX objects_job_id;
CREATE INDEX objects_job ON objects (job_id, job_queue);
COMMENT ON INDEX objects_job IS 'Objects written by a job.';
COMMENT ON COLUMN objects.job_id IS 'The job (jobs.id, with job_queue) that last wrote the object.';
COMMENT ON COLUMN objects.job_queue IS 'The queue of that job (jobs.queue).';
