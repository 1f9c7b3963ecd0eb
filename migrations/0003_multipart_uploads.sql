-- Multipart uploads a job has open at a provider (wharf/storage/multipart_journal.hpp). A row is
-- written after the provider created the upload and before any part is sent, and removed once
-- the upload completed or was aborted. A row that outlives its attempt (the worker was killed)
-- is how the next attempt of the job, or `wharfctl storage orphans`, finds the upload to abort.

CREATE TABLE IF NOT EXISTS multipart_uploads (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider   text        NOT NULL,
    bucket     text        NOT NULL,
    key        text        NOT NULL,
    upload_id  text        NOT NULL,
    job_id     text        NOT NULL,
    attempt    integer     NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Azure's block uploads all have the id "uncommitted": two jobs writing one key are two rows.
CREATE UNIQUE INDEX IF NOT EXISTS multipart_uploads_upload ON multipart_uploads (provider, bucket, key, upload_id, job_id);
CREATE INDEX IF NOT EXISTS multipart_uploads_job_id ON multipart_uploads (job_id);

COMMENT ON INDEX multipart_uploads_upload IS 'One row per upload and job; recording the same upload again is a no-op.';
COMMENT ON INDEX multipart_uploads_job_id IS 'The uploads a job left open, which its next attempt aborts first.';
COMMENT ON TABLE multipart_uploads IS 'Multipart uploads open at a provider, by job: written before the first part, removed after complete or abort. What remains was left by a crash.';
COMMENT ON COLUMN multipart_uploads.id IS 'Surrogate id.';
COMMENT ON COLUMN multipart_uploads.provider IS 'Configured provider name (storage_providers).';
COMMENT ON COLUMN multipart_uploads.bucket IS 'Bucket or Azure container the upload belongs to.';
COMMENT ON COLUMN multipart_uploads.key IS 'Object key being uploaded.';
COMMENT ON COLUMN multipart_uploads.upload_id IS 'What abort takes: the S3 UploadId; "uncommitted" for Azure blocks (they belong to the key).';
COMMENT ON COLUMN multipart_uploads.job_id IS 'The job (jobs.id) whose attempt opened the upload. No foreign key: the job row is written in batches and may come later.';
COMMENT ON COLUMN multipart_uploads.attempt IS 'The attempt of the job that opened the upload (a take-over keeps the attempt number).';
COMMENT ON COLUMN multipart_uploads.created_at IS 'When the upload was opened.';
