-- Storage accounting: one row per stored object, per-provider usage and per-API-key usage.
-- All three change together in one transaction (wharf/storage/catalog.hpp), so a retried or
-- crashed upload never counts a byte twice or loses one.

CREATE TABLE IF NOT EXISTS objects (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider     text        NOT NULL,
    bucket       text        NOT NULL,
    key          text        NOT NULL,
    size         bigint      NOT NULL CHECK (size >= 0),
    sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    etag         text        NOT NULL DEFAULT '',
    api_key      text,
    job_id       text,
    tier         text        NOT NULL DEFAULT 'hot' CHECK (tier IN ('hot', 'warm', 'cold')),
    prefix_class text        NOT NULL DEFAULT 'permanent' CHECK (prefix_class IN ('temp', 'permanent')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz
);

-- A key names one live object per provider and bucket; deleted rows are kept for history.
CREATE UNIQUE INDEX IF NOT EXISTS objects_live_key ON objects (provider, bucket, key) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS objects_api_key ON objects (api_key) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS objects_job_id ON objects (job_id);
-- Temp objects are the ones a cleanup sweeps, oldest first.
CREATE INDEX IF NOT EXISTS objects_temp_created ON objects (created_at) WHERE prefix_class = 'temp' AND deleted_at IS NULL;

COMMENT ON INDEX objects_live_key IS 'One live object per (provider, bucket, key); the catalog locks this row when recording.';
COMMENT ON INDEX objects_api_key IS 'Live objects of a tenant.';
COMMENT ON INDEX objects_job_id IS 'Objects written by a job.';
COMMENT ON INDEX objects_temp_created IS 'Live temp objects by age, for cleanup.';
COMMENT ON TABLE objects IS 'Every object wharf stored: one live row per (provider, bucket, key); deleting sets deleted_at.';
COMMENT ON COLUMN objects.id IS 'Surrogate id.';
COMMENT ON COLUMN objects.provider IS 'Configured provider name (storage_providers), e.g. local or s3-main.';
COMMENT ON COLUMN objects.bucket IS 'Bucket, Azure container, or root folder of a local provider.';
COMMENT ON COLUMN objects.key IS 'Object key inside the bucket (layout: temp/, processed/, videos/, transcripts/).';
COMMENT ON COLUMN objects.size IS 'Size in bytes.';
COMMENT ON COLUMN objects.sha256 IS 'SHA-256 of the whole object, lower-case hex, computed while uploading.';
COMMENT ON COLUMN objects.etag IS 'ETag the provider returned (S3 ETag, Azure ETag, local: the SHA-256).';
COMMENT ON COLUMN objects.api_key IS 'Tenant the object is charged to (api_keys.api_key); NULL = nobody.';
COMMENT ON COLUMN objects.job_id IS 'The job (jobs.id) that last wrote the object.';
COMMENT ON COLUMN objects.tier IS 'Storage tier: hot, warm or cold.';
COMMENT ON COLUMN objects.prefix_class IS 'temp (scratch under temp/, may be purged) or permanent.';
COMMENT ON COLUMN objects.created_at IS 'When the row was first recorded.';
COMMENT ON COLUMN objects.updated_at IS 'When the object was last replaced or changed.';
COMMENT ON COLUMN objects.deleted_at IS 'When the object was deleted; NULL while it is live.';

CREATE TABLE IF NOT EXISTS storage_stats (
    provider            text        PRIMARY KEY,
    total_bytes         bigint      NOT NULL DEFAULT 0 CHECK (total_bytes >= 0),
    file_count          bigint      NOT NULL DEFAULT 0 CHECK (file_count >= 0),
    limit_bytes         bigint      NOT NULL DEFAULT 5368709120 CHECK (limit_bytes > 0),
    is_full             boolean     NOT NULL DEFAULT false,
    alert_sent          boolean     NOT NULL DEFAULT false,
    alert_generation    bigint      NOT NULL DEFAULT 0,
    alert_attempts      integer     NOT NULL DEFAULT 0,
    alert_next_at       timestamptz,
    alert_claimed_until timestamptz,
    last_updated        timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE storage_stats IS 'Usage of each storage provider, kept in the same transaction as the objects rows.';
COMMENT ON COLUMN storage_stats.provider IS 'Configured provider name.';
COMMENT ON COLUMN storage_stats.total_bytes IS 'Sum of objects.size of the live rows of this provider.';
COMMENT ON COLUMN storage_stats.file_count IS 'Number of live rows of this provider.';
COMMENT ON COLUMN storage_stats.limit_bytes IS 'Capacity limit in bytes (configured; default 5 GiB).';
COMMENT ON COLUMN storage_stats.is_full IS 'total_bytes >= limit_bytes; placement skips full providers.';
COMMENT ON COLUMN storage_stats.alert_sent IS 'The "provider full" email for the current crossing was sent; reset with is_full when usage drops below the limit.';
COMMENT ON COLUMN storage_stats.alert_generation IS 'Counts crossings into full; an alert is marked sent only for the crossing it was claimed for.';
COMMENT ON COLUMN storage_stats.alert_attempts IS 'Failed attempts to send the alert of the current crossing.';
COMMENT ON COLUMN storage_stats.alert_next_at IS 'After a failed send: not before this time (backoff with full jitter).';
COMMENT ON COLUMN storage_stats.alert_claimed_until IS 'A worker is sending the alert until then; a crashed sender''s claim expires and another worker retries.';
COMMENT ON COLUMN storage_stats.last_updated IS 'When usage or flags last changed.';

CREATE TABLE IF NOT EXISTS api_keys (
    api_key     text        PRIMARY KEY,
    quota_bytes bigint      CHECK (quota_bytes IS NULL OR quota_bytes >= 0),
    used_bytes  bigint      NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
    file_count  bigint      NOT NULL DEFAULT 0 CHECK (file_count >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE api_keys IS 'Per-tenant storage usage and quota; a row appears with the first object charged to the key.';
COMMENT ON COLUMN api_keys.api_key IS 'The tenant (the envelope''s api_key).';
COMMENT ON COLUMN api_keys.quota_bytes IS 'Storage quota in bytes; NULL = unlimited.';
COMMENT ON COLUMN api_keys.used_bytes IS 'Sum of objects.size of the live rows charged to this key.';
COMMENT ON COLUMN api_keys.file_count IS 'Number of live rows charged to this key.';
COMMENT ON COLUMN api_keys.updated_at IS 'When usage or quota last changed.';
