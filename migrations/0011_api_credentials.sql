-- The public API's keys (wharf-api): stored only as a SHA-256 of the whole key and a short
-- display prefix (the key's second part, also how a key is found), with the tenant it acts for
-- (the envelopes' api_key, whose usage and quota are in api_keys), its scopes and its rate.
CREATE TABLE api_credentials (
    id              bigserial   PRIMARY KEY,
    prefix          text        NOT NULL UNIQUE CHECK (prefix ~ '^[A-Za-z0-9]{8}$'),
    key_sha256      bytea       NOT NULL CHECK (octet_length(key_sha256) = 32),
    tenant          text        NOT NULL CHECK (tenant ~ '^[A-Za-z0-9._:@-]{1,128}$'),
    scopes          text[]      NOT NULL,
    rate_per_second integer     NOT NULL DEFAULT 50 CHECK (rate_per_second > 0),
    name            text        NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);
COMMENT ON TABLE api_credentials IS 'wharf-api keys: the key itself is never stored, only its SHA-256.';
COMMENT ON COLUMN api_credentials.prefix IS 'The key''s display prefix (wk_<prefix>_<secret>), shown by wharfctl apikeys list.';
COMMENT ON COLUMN api_credentials.tenant IS 'Whose jobs and storage the key reaches (the envelopes'' api_key).';
COMMENT ON COLUMN api_credentials.scopes IS 'jobs:read, jobs:write, storage:read, storage:write.';
COMMENT ON COLUMN api_credentials.revoked_at IS 'Set by wharfctl apikeys revoke; a revoked key gets the same 401 as an unknown one.';
-- The API lists a tenant's jobs newest first, a page at a time.
CREATE INDEX IF NOT EXISTS jobs_by_tenant ON jobs (api_key, created_at DESC, queue, id) WHERE api_key IS NOT NULL;
