#include "jobs/cleanup.hpp"

#include "wharf/maintenance/tasks.hpp"

#include <nlohmann/json.hpp>

namespace wharf::worker {
namespace {

boost::asio::awaitable<nlohmann::json> run_cleanup(pg::pool& db, redis::connection& redis,
                                                   const storage::registry& providers, job_context& ctx) {
    maintenance::task_request request;
    try {
        request = maintenance::parse_request(ctx.payload);
    } catch (const maintenance::task_error& e) {
        throw permanent_error(e.what());
    }
    auto run = maintenance::run_task(db, redis, &providers, request, ctx.id);
    co_return co_await std::move(run);
}

}  // namespace

void register_cleanup_job(job_registry& registry, pg::pool& db, redis::connection& redis,
                          const storage::registry& providers) {
    registry.add(job_type{.name = "cleanup",
                          .handler = [&db, &redis, &providers](job_context& ctx) {
                              return run_cleanup(db, redis, providers, ctx);
                          },
                          .max_attempts = 3,
                          .timeout = std::chrono::hours(1)});
}

}  // namespace wharf::worker
