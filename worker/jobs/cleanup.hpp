// The `cleanup` job type (queue `cleanup`): runs one maintenance task (common/maintenance) per
// job, as wharf-scheduler's schedules enqueue them. And the scratch sweep every worker that runs
// storing jobs runs for itself: scratch is per host, a scheduled job reaches only one of them.
//
// Payload: {"task": "stuck_jobs" | "job_retention" | "stale_multipart" | "temp_objects" |
//                   "temp_files", "dry_run": false,
//           "older_than": "24h",
//           "batch": 500, "limit": 100000, "idle_lease": "10m" (stuck_jobs),
//           "retention": {"<queue>": "7d"} (job_retention)}
// temp_files sweeps the scratch directory of the worker that runs the job.
// Result: the task's counts, as recorded in maintenance_runs (e.g. {"examined", "marked_as_failed",
// "kept_renewing"} or {"deleted_jobs", "deleted_pipelines"}).
#pragma once

#include "wharf/pg/pool.hpp"
#include "wharf/redis/connection.hpp"
#include "wharf/storage/registry.hpp"
#include "wharf/worker/registry.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <filesystem>

namespace wharf::worker {

// db, redis and providers outlive the worker's jobs (worker_main owns them).
void register_cleanup_job(job_registry& registry, pg::pool& db, redis::connection& redis,
                          const storage::registry& providers, std::filesystem::path scratch_dir);

// The temp_files task on `scratch_dir` a minute after start and then every `every`, until
// cancelled; a failed sweep is logged and the next one goes on. Each run is in maintenance_runs.
boost::asio::awaitable<void> sweep_scratch_periodically(pg::pool& db, redis::connection& redis,
                                                        std::filesystem::path scratch_dir,
                                                        std::chrono::milliseconds every);

}  // namespace wharf::worker
