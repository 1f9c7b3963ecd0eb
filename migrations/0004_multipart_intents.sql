-- Intents (wharf/storage/multipart_journal.hpp): a job writes a row with upload_id '(creating)'
-- before it asks a provider to create a multipart upload, so a worker killed between the
-- provider's answer and the real row still leaves the provider and key behind for the next
-- attempt, which lists that key and aborts what no row records. No schema change.

COMMENT ON COLUMN multipart_uploads.upload_id IS 'What abort takes: the S3 UploadId; "uncommitted" for Azure blocks (they belong to the key); "(creating)" for an intent, written before the upload is created.';
