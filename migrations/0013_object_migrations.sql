-- Moving stored objects between providers (`wharfctl storage migrate`, the `migrate-objects` job
-- type): one row per run and a manifest with one row per object, so a run killed anywhere is
-- finished by running it again. An object goes pending -> (bytes copied to the destination and
-- verified) -> switched (its catalog row and both providers' usage moved in one transaction) ->
-- done (the source deleted); or failed (with the error; a rerun tries it again) or skipped (the
-- object was deleted or replaced while the run went on). 'switched' is written only when the source
-- could not be deleted after the switch; a rerun finds every other step from the catalog.
CREATE TABLE object_migrations (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_provider text        NOT NULL,
    to_provider   text        NOT NULL CHECK (to_provider <> from_provider),
    prefix        text        NOT NULL DEFAULT '',
    api_key       text,
    state         text        NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'finished')),
    owner         text,
    lease_until   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
-- One unfinished run per (from, to, prefix, api_key): running the same migration again resumes it.
CREATE UNIQUE INDEX object_migrations_running ON object_migrations (from_provider, to_provider, prefix, COALESCE(api_key, ''))
    WHERE state = 'running';
COMMENT ON TABLE object_migrations IS 'Runs of wharfctl storage migrate / the migrate-objects job: objects of one provider moved to another.';
COMMENT ON COLUMN object_migrations.prefix IS 'Only keys starting with this; empty = every key.';
COMMENT ON COLUMN object_migrations.api_key IS 'Only objects charged to this tenant; NULL = every object.';
COMMENT ON COLUMN object_migrations.owner IS 'host:pid of the process running it; another process waits until lease_until (or takes over from a dead process of the same host).';
COMMENT ON COLUMN object_migrations.lease_until IS 'The owner renews it while it runs.';
COMMENT ON COLUMN object_migrations.state IS 'running until every object of the manifest is done or skipped.';

CREATE TABLE object_migration_items (
    migration_id bigint      NOT NULL REFERENCES object_migrations (id) ON DELETE CASCADE,
    object_id    bigint      NOT NULL,
    key          text        NOT NULL,
    size         bigint      NOT NULL CHECK (size >= 0),
    sha256       text        NOT NULL,
    state        text        NOT NULL DEFAULT 'pending'
                             CHECK (state IN ('pending', 'switched', 'done', 'failed', 'skipped')),
    attempts     integer     NOT NULL DEFAULT 0,
    error        text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (migration_id, object_id)
);
CREATE INDEX object_migration_items_open ON object_migration_items (migration_id, state) WHERE state NOT IN ('done', 'skipped');
COMMENT ON TABLE object_migration_items IS 'The manifest of a migration run: one row per object, with its state, attempts and last error.';
COMMENT ON COLUMN object_migration_items.object_id IS 'objects.id of the live row when the object entered the manifest (the row keeps its id when it moves).';
COMMENT ON COLUMN object_migration_items.sha256 IS 'The SHA-256 the catalog recorded: the copy must hash to it before the switch.';
COMMENT ON COLUMN object_migration_items.attempts IS 'Copies tried, over every run of the migration.';
COMMENT ON COLUMN object_migration_items.error IS 'Why the last attempt failed (failed), or why the object was skipped.';
