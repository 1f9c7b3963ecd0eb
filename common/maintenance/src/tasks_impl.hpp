// The tasks themselves (one file each), for run_task.
#pragma once

#include "wharf/maintenance/catalog_removal.hpp"
#include "wharf/maintenance/tasks.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <utility>
#include <set>
#include <string>
#include <vector>

namespace wharf::storage {
class catalog;
}

namespace wharf::maintenance::detail {

// The one deletion of catalog objects (catalog_removal.hpp), shared with the lifecycle's expiry.
using maintenance::catalog_object;
using maintenance::remove_objects;
using maintenance::removal_tally;

// The jobs as two text[] parameters: queues, ids.
std::pair<std::string, std::string> as_arrays(const std::vector<job_ref>& jobs);
// The live objects of those jobs (and of their steps, for pipelines), each with its job's index.
std::vector<std::pair<std::size_t, catalog_object>> objects_of(pqxx::connection& c, const std::vector<job_ref>& jobs);

boost::asio::awaitable<nlohmann::json> stuck_jobs(pg::pool& db, redis::connection& redis, const task_options& o);
boost::asio::awaitable<nlohmann::json> job_retention(pg::pool& db, const task_options& o);
boost::asio::awaitable<nlohmann::json> temp_objects(pg::pool& db, const storage::registry* providers,
                                                    const task_options& o);
boost::asio::awaitable<nlohmann::json> failed_jobs(pg::pool& db, const storage::registry* providers,
                                                   const task_options& o);
boost::asio::awaitable<nlohmann::json> reconcile(pg::pool& db, redis::connection& redis, const task_options& o);
boost::asio::awaitable<nlohmann::json> temp_files(pg::pool& db, const task_options& o);
boost::asio::awaitable<nlohmann::json> stale_multipart(pg::pool& db, const storage::registry* providers,
                                                       const task_options& o);

}  // namespace wharf::maintenance::detail
