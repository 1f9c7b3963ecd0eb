-- Schedules (wharf-scheduler, common/schedule): periodic jobs. Each slot a schedule fires is one
-- row of schedule_fires keyed (schedule, slot), written in the same transaction that moves the
-- schedule's cursor past it, so any number of scheduler replicas fire a slot exactly once. The
-- job's id is derived from the row (sched:<name>:<slot>), so the queue's duplicate-id rule holds
-- too when a replica dies between the row and the XADD and another one completes the fire.

CREATE TABLE schedules (
    name            text        PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    cron            text        NOT NULL,
    time_zone       text        NOT NULL DEFAULT 'UTC',
    queue           text        NOT NULL,
    payload         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    api_key         text,
    max_attempts    integer,
    timeout_s       integer,
    overlap         text        NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'allow')),
    catch_up        text        NOT NULL DEFAULT 'latest' CHECK (catch_up IN ('latest', 'all')),
    catch_up_window_s bigint    NOT NULL DEFAULT 3600 CHECK (catch_up_window_s >= 0),
    jitter_s        integer     NOT NULL DEFAULT 0 CHECK (jitter_s >= 0),
    paused          boolean     NOT NULL DEFAULT false,
    -- The newest slot considered (fired, skipped, missed or coalesced); the next tick plans
    -- from here. A new schedule starts at its creation: it does not fire slots from before it.
    cursor          timestamptz NOT NULL DEFAULT now(),
    missed          bigint      NOT NULL DEFAULT 0,
    coalesced       bigint      NOT NULL DEFAULT 0,
    skipped         bigint      NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN schedules.missed IS 'slots never run: older than the catch-up window, or past the cap of 100 (counting stops at 100000 per plan)';
COMMENT ON COLUMN schedules.coalesced IS 'slots inside the catch-up window folded into one fire (catch_up = latest)';
COMMENT ON COLUMN schedules.skipped IS 'fires not enqueued because the previous run was still queued or running (overlap = skip)';

CREATE TABLE schedule_fires (
    schedule    text        NOT NULL REFERENCES schedules (name) ON DELETE CASCADE,
    slot        timestamptz NOT NULL,  -- the nominal time (UTC); a manual trigger: the moment asked
    job_id      text        NOT NULL,
    queue       text        NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('pending', 'enqueued', 'skipped')),
    manual      boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    enqueued_at timestamptz,
    PRIMARY KEY (schedule, slot)
);
COMMENT ON COLUMN schedule_fires.outcome IS 'pending (recorded, the XADD not yet confirmed: any replica completes it), enqueued, skipped (overlap)';
CREATE INDEX schedule_fires_pending ON schedule_fires (created_at) WHERE outcome = 'pending';
