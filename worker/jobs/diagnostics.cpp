// Diagnostic job types (noop, sleep, fail) for smoke tests and benchmarks; only registered with
// --diagnostics. Their contracts are documented in registry.hpp.
#include "wharf/worker/registry.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>

namespace wharf::worker {
namespace {

namespace asio = boost::asio;

std::int64_t int_field(const nlohmann::json& payload, const char* name, std::int64_t fallback, std::int64_t max) {
    if (!payload.is_object() || !payload.contains(name)) return fallback;
    const auto& v = payload[name];
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > max)
        throw permanent_error(std::string{"payload."} + name + " must be an integer from 0 to " + std::to_string(max));
    return v.get<std::int64_t>();
}

// With a numeric `ts` in the payload (the producer's CLOCK_MONOTONIC in µs, e.g. Node's
// process.hrtime), the result carries the enqueue-to-start latency: bench/queue reads it back
// from the jobs table. steady_clock is CLOCK_MONOTONIC on Linux, so both clocks are the same one.
asio::awaitable<nlohmann::json> noop(job_context& ctx) {
    const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    if (ctx.payload.is_object()) {
        if (const auto ts = ctx.payload.find("ts"); ts != ctx.payload.end() && ts->is_number())
            co_return nlohmann::json{{"start_latency_us", now_us - ts->get<std::int64_t>()}};
    }
    co_return nlohmann::json::object();
}

// With `progress_every_ms`, reports {"phase": "sleep", "percent": ...} that often (for the
// progress displays' tests).
asio::awaitable<nlohmann::json> sleep(job_context& ctx) {
    const auto ms = int_field(ctx.payload, "ms", 0, 7 * 86'400'000LL);
    const auto every = int_field(ctx.payload, "progress_every_ms", 0, 86'400'000LL);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    asio::steady_timer timer{ctx.executor};
    for (std::int64_t slept = 0;;) {
        const auto step = every > 0 ? std::min(every, ms - slept) : ms;
        timer.expires_at(std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(step)));
        // Cancelled (timeout, lost lease, shutdown) -> throws operation_aborted, which is the point.
        co_await timer.async_wait(asio::use_awaitable);
        slept += step;
        if (slept >= ms || std::chrono::steady_clock::now() >= until) break;
        if (ctx.report_progress)
            ctx.report_progress({{"phase", "sleep"}, {"percent", std::round(1000.0 * slept / ms) / 10}});
    }
    co_return nlohmann::json{{"slept_ms", ms}};
}

asio::awaitable<nlohmann::json> fail(job_context& ctx) {
    const auto& p = ctx.payload;
    if (p.is_object() && p.contains("record") && p["record"].is_string()) {
        // A tiny append on the I/O thread: acceptable for a diagnostic used by tests only.
        std::ofstream out{p["record"].get<std::string>(), std::ios::app};
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch());
        out << ctx.attempt << ' ' << now.count() << '\n';
    }
    std::string message = "diagnostic failure";
    if (p.is_object() && p.contains("message") && p["message"].is_string()) message = p["message"].get<std::string>();
    if (p.is_object() && p.value("permanent", false)) throw permanent_error(message);
    const auto fail_attempts = int_field(p, "fail_attempts", std::numeric_limits<std::int32_t>::max(),
                                         std::numeric_limits<std::int32_t>::max());
    if (ctx.attempt <= fail_attempts) throw std::runtime_error(message);
    co_return nlohmann::json{{"attempt", ctx.attempt}};
}

}  // namespace

void add_diagnostic_jobs(job_registry& registry) {
    registry.add({.name = "noop", .handler = noop, .max_attempts = 5, .timeout = std::chrono::seconds(60)});
    registry.add({.name = "sleep", .handler = sleep, .max_attempts = 5, .timeout = std::chrono::seconds(3600)});
    registry.add({.name = "fail",
                  .handler = fail,
                  .max_attempts = 4,
                  .timeout = std::chrono::seconds(60),
                  .retry_base = std::chrono::milliseconds(200),
                  .retry_cap = std::chrono::milliseconds(2'000)});
}

}  // namespace wharf::worker
