// The tasks themselves (one file each), for run_task.
#pragma once

#include "wharf/maintenance/tasks.hpp"

#include <nlohmann/json.hpp>

namespace wharf::maintenance::detail {

boost::asio::awaitable<nlohmann::json> stuck_jobs(pg::pool& db, redis::connection& redis, const task_options& o);
boost::asio::awaitable<nlohmann::json> job_retention(pg::pool& db, const task_options& o);
boost::asio::awaitable<nlohmann::json> temp_objects(pg::pool& db, const storage::registry* providers,
                                                    const task_options& o);
boost::asio::awaitable<nlohmann::json> temp_files(pg::pool& db, const task_options& o);
boost::asio::awaitable<nlohmann::json> stale_multipart(pg::pool& db, const storage::registry* providers,
                                                       const task_options& o);

}  // namespace wharf::maintenance::detail
