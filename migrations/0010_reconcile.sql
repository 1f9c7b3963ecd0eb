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
