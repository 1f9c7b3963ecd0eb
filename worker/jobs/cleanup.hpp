// The `cleanup` job type (queue `cleanup`): runs one maintenance task (common/maintenance) per
// job, as wharf-scheduler's schedules enqueue them.
//
// Payload: {"task": "stuck_jobs" | "job_retention" | "stale_multipart" | "temp_objects", "dry_run": false,
//           "older_than": "24h",
//           "batch": 500, "limit": 100000, "idle_lease": "10m" (stuck_jobs),
//           "retention": {"<queue>": "7d"} (job_retention)}
// Result: the task's counts, as recorded in maintenance_runs (e.g. {"examined", "marked_as_failed",
// "kept_renewing"} or {"deleted_jobs", "deleted_pipelines"}).
#pragma once

#include "wharf/pg/pool.hpp"
#include "wharf/redis/connection.hpp"
#include "wharf/storage/registry.hpp"
#include "wharf/worker/registry.hpp"

namespace wharf::worker {

// db, redis and providers outlive the worker's jobs (worker_main owns them).
void register_cleanup_job(job_registry& registry, pg::pool& db, redis::connection& redis,
                          const storage::registry& providers);

}  // namespace wharf::worker
