-- A backup's second object: the metadata.json files of processed jobs (processed/<video>/metadata.json,
-- read decoded from wherever they are stored), in one tar.zst archive beside the dump (the seed's
-- metadata backup). Recorded on the backup's row; retention deletes it with the dump.
ALTER TABLE backups
    ADD COLUMN metadata_key    text,
    ADD COLUMN metadata_size   bigint,
    ADD COLUMN metadata_sha256 text,
    ADD COLUMN metadata_files  bigint,
    ADD COLUMN metadata_error  text;

COMMENT ON COLUMN backups.metadata_key IS 'Key (at the backup''s provider) of the tar.zst archive of the processed jobs'' metadata.json files; NULL when there were none, or it failed.';
COMMENT ON COLUMN backups.metadata_size IS 'Bytes of that archive as stored.';
COMMENT ON COLUMN backups.metadata_sha256 IS 'SHA-256 of that archive as stored.';
COMMENT ON COLUMN backups.metadata_files IS 'metadata.json files in it (each read and checked against the catalog''s SHA-256).';
COMMENT ON COLUMN backups.metadata_error IS 'Why the archive could not be made (the database backup stands).';
