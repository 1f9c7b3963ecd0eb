-- The failed_jobs cleanup task (common/maintenance/src/failed_jobs.cpp) deletes the stored
-- objects of jobs that failed or went dead long ago and marks them `cleaned_up`: final, like the
-- status it replaces (a worker never reopens it, except `wharfctl dead retry`'s newer
-- generation, as for failed and dead), its error kept.

ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('queued', 'running', 'waiting', 'succeeded', 'failed', 'dead', 'cancelled', 'cleaned_up'));
COMMENT ON COLUMN jobs.status IS 'queued (waiting, or a retry is scheduled at run_at), running, waiting (its own run is over; it ends when others finish: a pipeline waits for its steps), succeeded, failed (permanent error), dead (attempts exhausted or malformed; in the dead-letter stream), cancelled, cleaned_up (was failed or dead; its stored objects were deleted by the failed_jobs cleanup). The last five are final.';
