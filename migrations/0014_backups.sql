-- Database backups (`wharfctl backup`, the `backup` and `restore-drill` job types): one row per
-- backup, written 'running' before pg_dump starts and 'succeeded' only after the whole stream is
-- stored (pg_dump exited 0, the upload completed, the size is plausible); a run that fails or is
-- killed never reads 'succeeded' (the next run marks a dead owner's row failed). The manifest is
-- the census of every table taken in the dump's own snapshot: a restore drill restores the backup
-- into a scratch database and must find exactly it.
CREATE TABLE backups (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status          text        NOT NULL DEFAULT 'running'
                                CHECK (status IN ('running', 'succeeded', 'failed', 'deleted')),
    provider        text        NOT NULL,
    bucket          text        NOT NULL,
    key             text        NOT NULL,
    format          text        NOT NULL,
    size            bigint,
    sha256          text,
    dump_bytes      bigint,
    server_version  text,
    schema_version  integer,
    manifest        jsonb,
    owner           text,
    error           text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    seconds         double precision,
    verified_at     timestamptz,
    restore_seconds double precision,
    drilled_at      timestamptz,
    drill_error     text,
    deleted_at      timestamptz
);
CREATE INDEX backups_by_status ON backups (status, finished_at);
COMMENT ON TABLE backups IS 'Backups of this database: pg_dump (custom format) streamed through zstd into a multipart upload.';
COMMENT ON COLUMN backups.format IS 'How the stored bytes decode: pg_dump-custom+zstd (zstd -d | pg_restore).';
COMMENT ON COLUMN backups.size IS 'Bytes stored (compressed); sha256 is of those bytes.';
COMMENT ON COLUMN backups.dump_bytes IS 'Bytes pg_dump wrote (before compression).';
COMMENT ON COLUMN backups.manifest IS 'Census of the dumped snapshot: {"tables": {name: {rows, checksum}}}.';
COMMENT ON COLUMN backups.owner IS 'host:pid of the process that ran it.';
COMMENT ON COLUMN backups.verified_at IS 'When a restore drill last restored it and found the manifest; NULL: never verified.';
COMMENT ON COLUMN backups.drill_error IS 'Why the last restore drill of it failed (cleared by one that passed).';
