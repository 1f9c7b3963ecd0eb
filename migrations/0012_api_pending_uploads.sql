-- Uploads by presigned PUT (wharf-api): the URL is handed out with the size and key the client
-- declared; the object is counted only when the client says it is done and wharf has read it back
-- (size and SHA-256). A row that outlives its URL is an upload never completed: the tenant's
-- cleanup removes its object, if any, and the row.
CREATE TABLE api_pending_uploads (
    id           text        PRIMARY KEY CHECK (id ~ '^up_[0-9a-f]{20}$'),
    api_key      text        NOT NULL,
    provider     text        NOT NULL,
    bucket       text        NOT NULL,
    key          text        NOT NULL,
    size         bigint      NOT NULL CHECK (size >= 0),
    content_type text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX api_pending_uploads_expiry ON api_pending_uploads (api_key, expires_at);
COMMENT ON TABLE api_pending_uploads IS 'Presigned PUT uploads handed out by wharf-api and not yet completed.';
COMMENT ON COLUMN api_pending_uploads.size IS 'The size the client declared; the stored object must have exactly this many bytes.';
COMMENT ON COLUMN api_pending_uploads.expires_at IS 'When the PUT URL expires; after it the upload can no longer be made.';
