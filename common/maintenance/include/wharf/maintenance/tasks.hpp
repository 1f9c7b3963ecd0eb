// The maintenance tasks: what the `cleanup` job type runs (worker/jobs/cleanup.cpp) and
// `wharfctl cleanup <task>` runs directly. Each works in bounded batches, each batch its own
// transaction, so a run killed half-way keeps what it did and the next run goes on from there;
// each has a per-run cap and a dry run (counts what it would do, changes nothing), and records
// itself in maintenance_runs.
#pragma once

#include "wharf/pg/pool.hpp"
#include "wharf/redis/connection.hpp"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::storage {
class registry;
}

namespace wharf::maintenance {

// A task name or option that is not one; what() says which.
class task_error : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

struct task_options {
    bool dry_run = false;
    std::size_t batch = 500;         // rows per transaction
    std::size_t cap = 100'000;       // rows per run at most
    // stuck_jobs: running longer than this (24 h); job_retention: finished longer ago than this
    // (30 days); stale_multipart: opened longer ago than this (24 h); temp_objects: stored longer
    // ago than this (24 h); temp_files: not written for this long (24 h); failed_jobs: ended longer
    // ago than this (7 days); reconcile: the grace (2 min) a row must be unchanged and then a job
    // missing from Redis before it is re-enqueued.
    std::optional<std::chrono::seconds> older_than;
    std::map<std::string, std::chrono::seconds, std::less<>> per_queue;  // job_retention overrides
    // stuck_jobs: a stream entry idle longer than this has no worker renewing its lease.
    std::chrono::seconds idle_lease{600};
    // temp_files: the scratch directory to sweep (the worker's; never from a payload: a job must
    // not be able to point the sweep at another folder).
    std::optional<std::filesystem::path> scratch_dir;
};

// A job by its key.
struct job_ref {
    std::string queue, id;
    bool operator==(const job_ref&) const = default;
};

// The tasks this build has, in the order `wharfctl cleanup --help` lists them.
const std::vector<std::string_view>& task_names();

// The task's options from a cleanup job's payload ({"task": ..., "dry_run": ..., "older_than":
// "24h", "batch": N, "limit": N, "retention": {"queue": "7d"}}); task_error when bad.
struct task_request {
    std::string task;
    task_options options;
};
task_request parse_request(const nlohmann::json& payload);

// Runs one task and records it in maintenance_runs (job_id: the cleanup job, if any). Returns
// the task's result (counts), as recorded.
// `providers`: the storage providers, for the tasks that need them (stale_multipart,
// temp_objects); null where none are configured (such a task then fails, saying so).
boost::asio::awaitable<nlohmann::json> run_task(pg::pool& db, redis::connection& redis, const storage::registry* providers,
                                                const task_request& request, std::optional<std::string> job_id);

// Batch deletion (`wharfctl jobs delete`): finished jobs with their stored objects. Per batch:
// the jobs' objects (a pipeline's: its steps' too) deleted at their providers and in the catalog
// with usage (as failed_jobs does), then the rows of the jobs none of whose objects is left -- a
// pipeline's job row, its steps' rows and its pipelines row together -- in one transaction. Not
// deleted, and listed in `skipped` with the reason: a job that is not finished (queued, running,
// waiting), a step of a pipeline (delete the pipeline), a job with no row, and a job one of whose
// objects could not be deleted (kept for another run). A run killed anywhere is finished by a
// rerun: objects already gone are not counted again, rows go once. A dry run changes nothing
// and counts what would go. Result: {examined_jobs, deleted_jobs, deleted_pipelines,
// deleted_objects, freed_bytes, freed_gb, skipped_unconfigured, skipped: [{queue, id, reason}]}.
boost::asio::awaitable<nlohmann::json> delete_jobs(pg::pool& db, const storage::registry& providers,
                                                   std::vector<job_ref> jobs, bool dry_run, std::size_t batch = 500);

// The finished jobs (no pipeline steps) matching a filter, oldest finish first, at most `limit`:
// statuses among succeeded, failed, dead, cancelled, cleaned_up (empty: all of them); queue (empty:
// any); finished before `older_than` ago.
struct job_filter {
    std::vector<std::string> statuses;
    std::optional<std::string> queue;
    std::chrono::seconds older_than{0};
};
boost::asio::awaitable<std::vector<job_ref>> select_finished_jobs(pg::pool& db, job_filter filter, std::size_t limit);

}  // namespace wharf::maintenance
