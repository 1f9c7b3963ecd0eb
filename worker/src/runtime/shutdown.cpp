// Graceful shutdown: no new jobs; jobs read ahead but not started are handed back at once; running
// ones get the grace period; the rest are cancelled and handed back (re-queued at once, same
// attempt) so another worker starts them right away; then every outcome is written and
// acknowledged before the process exits.
#include "runtime_impl.hpp"

#include <algorithm>

namespace wharf::worker {

namespace asio = boost::asio;

namespace {
// Bounds on the phases after the grace period: cancelled handlers unwinding, and outcomes
// reaching PostgreSQL and Redis. Past them the entries stay pending and are taken over.
constexpr std::chrono::seconds unwind_limit{10};
constexpr std::chrono::seconds flush_limit{10};
}  // namespace

asio::awaitable<void> runtime::impl::drain() {
    auto self = shared_from_this();
    // Jobs in hand whose handler has not ended (waiting ones are stopped below, and end at once).
    const auto running = [this] {
        std::size_t n = 0;
        for (const auto& q : queues) n += q->held;
        return n;
    };
    const auto tracked = [this] {
        std::size_t n = 0;
        for (const auto& q : queues) n += q->tracked.size();
        return n;
    };
    using clock = std::chrono::steady_clock;
    const auto started = clock::now();

    {
        std::vector<std::shared_ptr<detail::job_run>> waiting;  // stop_job must not run mid-iteration
        for (auto& q : queues) waiting.insert(waiting.end(), q->slot_queue.begin(), q->slot_queue.end());
        if (!waiting.empty()) spdlog::info("handing back {} jobs read ahead but not started", waiting.size());
        for (auto& job : waiting) stop_job(*job, run_end::handed_back);
    }
    if (!co_await wait_until([&] { return running() == 0; }, clock::now() + options.grace)) {
        spdlog::warn("{} jobs still running after the grace period of {}: cancelling and handing them back",
                     running(), format_duration(options.grace));
        std::vector<std::shared_ptr<detail::job_run>> to_stop;  // stop_job must not run mid-iteration
        for (auto& q : queues)
            for (auto& [id, job] : q->tracked)
                if (job->holds_slot) to_stop.push_back(job);
        for (auto& job : to_stop) stop_job(*job, run_end::handed_back);
        if (!co_await wait_until([&] { return running() == 0; }, clock::now() + unwind_limit))
            spdlog::error("{} jobs ignored cancellation; leaving them pending for another worker", running());
    }
    // A read cut short by the stop may have been served by Redis with its reply lost: those entries
    // are ours but were never dispatched. Hand them back too, rather than leave them to a take-over
    // a lease later.
    for (auto& q : queues) {
        std::vector<queue::delivery> orphans;
        co_await with_redis_retry(
            "listing the entries this worker holds",
            [&]() -> asio::awaitable<void> { orphans = co_await q->ops.own_pending(options.consumer, 10'000); },
            [&] { return clock::now() > started + flush_limit; });
        std::size_t handed = 0;
        for (auto& d : orphans) {
            if (q->tracked.contains(d.entry_id)) continue;
            if (auto j = dispatch(*q, std::move(d))) {
                stop_job(*j, run_end::handed_back);
                ++handed;
            }
        }
        if (handed > 0) spdlog::info("handing back {} jobs of {} read as the worker stopped", handed, q->name);
    }
    if (!co_await wait_until([&] { return tracked() == 0; }, clock::now() + flush_limit)) {
        spdlog::error("{} outcomes could not be written or acknowledged in time; they stay pending", tracked());
        abandon = true;
        co_await wait_until([&] { return tracked() == 0; }, clock::now() + std::chrono::seconds(3));
    }
    abandon = true;
}

// --exit-when-idle: nothing in hand for that long (no job read, running or being settled) stops
// the worker the graceful way, as SIGTERM would.
asio::awaitable<void> runtime::impl::stop_when_idle() {
    auto self = shared_from_this();
    const auto check_every = std::clamp(options.exit_when_idle / 10, std::chrono::milliseconds(50),
                                        std::chrono::milliseconds(1'000));
    while (!stopping) {
        co_await sleep(idle_timer, check_every);
        if (stopping) break;
        bool busy = false;
        for (const auto& q : queues) busy = busy || q->held > 0 || !q->tracked.empty();
        const auto now = std::chrono::steady_clock::now();
        if (busy) {
            last_busy = now;
        } else if (now - last_busy >= options.exit_when_idle) {
            spdlog::info("no job for {}: stopping (--exit-when-idle)", format_duration(options.exit_when_idle));
            request_stop();
            break;
        }
    }
}

}  // namespace wharf::worker
