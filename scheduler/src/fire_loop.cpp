#include "fire_loop.hpp"

#include "wharf/metrics/registry.hpp"

#include "wharf/core/backoff.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/queue/envelope.hpp"
#include "wharf/schedule/store.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>

namespace wharf::scheduler {
namespace {

namespace asio = boost::asio;
namespace ws = wharf::schedule;

std::string slot_text(ws::micros slot) {
    return queue::format_rfc3339(std::chrono::system_clock::time_point{slot.time_since_epoch()});
}

asio::awaitable<void> enqueue(pg::pool& db, redis::connection& redis, const ws::fire& f) {
    co_await ws::enqueue_fire(redis, f);
    auto mark = [f](pqxx::connection& c) { ws::mark_enqueued(c, f); };
    co_await db.run(std::move(mark));
    metrics::default_registry()
        .counters("wharf_schedule_fires_total", "Fires this scheduler replica enqueued.", {"schedule"})
        .with({f.schedule})
        .inc();
}

struct tick_summary {
    std::size_t fired = 0;
    // How long after the tick's database time the earliest next slot is due.
    std::optional<std::chrono::microseconds> next_due_in;
};

// One pass over every schedule.
asio::awaitable<tick_summary> tick_once(pg::pool& db, redis::connection& redis, const loop_options& options) {
    auto read = [](pqxx::connection& c) { return std::make_pair(ws::database_now(c), ws::load_schedules(c)); };
    const auto snapshot = co_await db.run(std::move(read));
    const ws::micros now = snapshot.first;
    const auto& schedules = snapshot.second;
    tick_summary summary;
    std::size_t& fired = summary.fired;
    for (const auto& s : schedules) {
        if (s.def.paused) continue;
        ws::tick_result r;
        try {
            // Safe to retry on a broken connection: the compare-and-set on the cursor makes a
            // tick that did commit a no-op the second time.
            auto plan = [&s, now](pqxx::connection& c) { return ws::tick(c, s, now); };
            r = co_await db.run(std::move(plan));
        } catch (const ws::cron_error& e) {
            // A row written around wharfctl (or a zone gone from the tz database): not this tick's fault.
            spdlog::error("schedule {}: {}", s.def.name, e.what());
            continue;
        }
        if (r.next_due) {
            const auto in = *r.next_due - now;
            if (!summary.next_due_in || in < *summary.next_due_in) summary.next_due_in = in;
        }
        if (!r.won) continue;
        if (r.plan.missed > 0 || r.plan.coalesced > 0)
            spdlog::warn("schedule {}: {} slot(s) missed, {} folded into the catch-up fire", s.def.name,
                         r.plan.missed, r.plan.coalesced);
        if (r.skipped > 0)
            spdlog::info("schedule {}: {} fire(s) skipped, the previous run is still queued or running", s.def.name,
                         r.skipped);
        for (const auto& f : r.pending) {
            co_await enqueue(db, redis, f);
            spdlog::info("schedule {}: fired {} as {} on {}", f.schedule, slot_text(f.slot), f.job_id, f.queue);
            ++fired;
        }
    }
    auto stale = [&options](pqxx::connection& c) { return ws::stale_pending(c, options.stale_after, 100); };
    const auto left = co_await db.run(std::move(stale));
    for (const auto& f : left) {
        co_await enqueue(db, redis, f);
        spdlog::info("schedule {}: completed the fire of {} ({} on {}) a replica left pending", f.schedule,
                     slot_text(f.slot), f.job_id, f.queue);
        ++fired;
    }
    co_return summary;
}

}  // namespace

asio::awaitable<void> run_fire_loop(pg::pool& db, redis::connection& redis, loop_options options) {
    asio::steady_timer timer{co_await asio::this_coro::executor};
    const backoff_policy retry{.base = options.tick, .cap = std::chrono::seconds{30}, .max_attempts = 0};
    std::uint32_t failures = 0;
    for (;;) {
        const auto started = std::chrono::steady_clock::now();
        std::chrono::milliseconds wait = options.tick;
        try {
            auto ticking = tick_once(db, redis, options);
            const tick_summary summary = co_await std::move(ticking);
            if (failures > 0) spdlog::info("scheduler: ticking again after {} failed tick(s)", failures);
            failures = 0;
            // Wake when the next slot is due rather than up to a tick later (measured from the
            // tick's start, as its database time was; 2 ms past, so the slot's second has begun).
            if (summary.next_due_in) {
                const auto until = std::chrono::ceil<std::chrono::milliseconds>(*summary.next_due_in) +
                                   std::chrono::milliseconds(2);
                wait = std::clamp(until, std::chrono::milliseconds(5), options.tick);
            }
        } catch (const std::exception& e) {
            ++failures;
            wait = std::max(options.tick, retry.delay(failures, jitter_rng()));
            spdlog::warn("scheduler: tick failed ({}); next in {} ms", redact(e.what()), wait.count());
        }
        timer.expires_at(started + wait);
        co_await timer.async_wait(asio::use_awaitable);
    }
}

}  // namespace wharf::scheduler
