-- Reconciliation (the `reconcile` maintenance task, common/maintenance/src/reconcile.cpp): a job
-- PostgreSQL has queued or running whose Redis side is gone (a failover or restart that lost
-- writes, a FLUSHALL) is put back in its stream. A job must be found missing twice, `grace` apart,
-- with its row unchanged, before it is: a worker that still runs it notices within its lease that
-- the entry is gone and stops. This table holds the first sightings.

CREATE TABLE reconcile_suspects (
    queue            text        NOT NULL,
    id               text        NOT NULL,
    status           text        NOT NULL,
    row_updated_at   timestamptz NOT NULL,
    first_missing_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (queue, id)
);
COMMENT ON TABLE reconcile_suspects IS 'Jobs (queue, id) that the last reconcile run found queued or running in jobs but in neither their stream nor their delayed set; re-enqueued once still missing grace later with the row unchanged.';
COMMENT ON COLUMN reconcile_suspects.status IS 'jobs.status when first found missing.';
COMMENT ON COLUMN reconcile_suspects.row_updated_at IS 'jobs.updated_at when first found missing: a row that changed since is no suspect any more.';
COMMENT ON COLUMN reconcile_suspects.first_missing_at IS 'When a run first found it missing.';

-- The Redis server incarnations workers have seen (wharf/pg/redis_incarnations.hpp). A rollback
-- of Redis (a restart from an older file, a failover to a replica that missed writes) is a new
-- incarnation: entries older than the moment wharf first saw it may belong to jobs that ended
-- since, so a worker reads such a job's row before running it.
CREATE TABLE redis_incarnations (
    run_id        text        PRIMARY KEY,
    first_seen_ms bigint      NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE redis_incarnations IS 'Redis server incarnations (INFO run_id) workers have connected to; a new one after the first means Redis restarted or failed over.';
COMMENT ON COLUMN redis_incarnations.first_seen_ms IS 'The Redis server''s TIME (unix ms) when a worker first saw this incarnation: stream entries older than that are checked against jobs before they run.';
