#include "jobs/cleanup.hpp"

#include "wharf/core/log.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/maintenance/tasks.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

namespace wharf::worker {
namespace {

boost::asio::awaitable<nlohmann::json> run_cleanup(pg::pool& db, redis::connection& redis,
                                                   const storage::registry& providers,
                                                   const std::filesystem::path& scratch_dir, job_context& ctx) {
    maintenance::task_request request;
    try {
        request = maintenance::parse_request(ctx.payload);
    } catch (const maintenance::task_error& e) {
        throw permanent_error(e.what());
    }
    request.options.scratch_dir = scratch_dir;
    auto run = maintenance::run_task(db, redis, &providers, request, ctx.id);
    co_return co_await std::move(run);
}

}  // namespace

void register_cleanup_job(job_registry& registry, pg::pool& db, redis::connection& redis,
                          const storage::registry& providers, std::filesystem::path scratch_dir) {
    registry.add(job_type{.name = "cleanup",
                          .handler = [&db, &redis, &providers, scratch_dir](job_context& ctx) {
                              return run_cleanup(db, redis, providers, scratch_dir, ctx);
                          },
                          .max_attempts = 3,
                          .timeout = std::chrono::hours(1)});
}

boost::asio::awaitable<void> sweep_scratch_periodically(pg::pool& db, redis::connection& redis,
                                                        std::filesystem::path scratch_dir,
                                                        std::chrono::milliseconds every) {
    const auto executor = co_await boost::asio::this_coro::executor;
    boost::asio::steady_timer timer(executor);
    std::chrono::milliseconds wait = std::min<std::chrono::milliseconds>(every, std::chrono::minutes(1));
    for (;;) {
        timer.expires_after(wait);
        co_await timer.async_wait(boost::asio::use_awaitable);  // cancellation ends the loop here
        wait = every;
        maintenance::task_request request{.task = "temp_files", .options = {}};
        request.options.scratch_dir = scratch_dir;
        try {
            auto run = maintenance::run_task(db, redis, nullptr, request, std::nullopt);
            const nlohmann::json result = co_await std::move(run);
            const auto removed = result.value("deleted_folders", 0) + result.value("deleted_files", 0);
            if (removed > 0)
                spdlog::info("scratch sweep of {}: removed {} entries ({} bytes) left by jobs that are over",
                             scratch_dir.string(), removed, result.value("freed_bytes", 0));
        } catch (const std::exception& e) {
            spdlog::warn("scratch sweep of {} failed: {}", scratch_dir.string(), redact(e.what()));
        }
    }
}

}  // namespace wharf::worker
