-- Compression of old jobs (the `compress` job type, `wharfctl storage compress`): a compressible
-- artifact of a job finished long ago is stored again, gzip-encoded, under its own key. Its row
-- keeps the SHA-256 of the content every reader gets (decoded); `size` stays what the provider
-- holds, so usage is the stored bytes. The stored object says what it is (Content-Encoding), so a
-- run killed between the provider's write and the catalog's is finished by the next one.
ALTER TABLE objects
    ADD COLUMN content_encoding    text CHECK (content_encoding IN ('gzip')),
    ADD COLUMN stored_sha256       text CHECK (stored_sha256 ~ '^[0-9a-f]{64}$'),
    ADD COLUMN content_size        bigint CHECK (content_size >= 0),
    ADD COLUMN compress_checked_at timestamptz,
    ADD CONSTRAINT objects_encoding_complete
        CHECK ((content_encoding IS NULL) = (stored_sha256 IS NULL) AND (content_encoding IS NULL) = (content_size IS NULL));

COMMENT ON COLUMN objects.content_encoding IS 'How the stored bytes are encoded (gzip: recompressed by the compress job); readers get the decoded bytes. NULL: stored as read.';
COMMENT ON COLUMN objects.stored_sha256 IS 'With content_encoding: SHA-256 of the stored (encoded) bytes; sha256 stays the decoded content''s.';
COMMENT ON COLUMN objects.content_size IS 'With content_encoding: size of the decoded content; size is the stored bytes.';
COMMENT ON COLUMN objects.compress_checked_at IS 'The compress job found the object not worth compressing (trial ratio); not tried again until it is replaced.';
