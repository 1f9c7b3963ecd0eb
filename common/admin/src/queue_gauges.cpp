#include "wharf/admin/queue_gauges.hpp"

#include "wharf/metrics/registry.hpp"
#include "wharf/queue/operations.hpp"

#include <algorithm>
#include <chrono>

namespace wharf::admin {

boost::asio::awaitable<void> refresh_queue_gauges(redis::connection& redis, const std::vector<std::string>& queues) {
    auto& r = metrics::default_registry();
    auto& backlog = r.gauges("wharf_queue_backlog", "Jobs waiting in the queue's stream, not yet delivered.", {"queue"});
    auto& in_flight = r.gauges("wharf_queue_in_flight", "Jobs delivered to a worker and not yet acknowledged.", {"queue"});
    auto& delayed = r.gauges("wharf_queue_delayed", "Jobs scheduled for later (retries, delays).", {"queue"});
    auto& dead = r.gauges("wharf_queue_dead", "Entries in the queue's dead-letter stream.", {"queue"});
    auto& oldest = r.gauges("wharf_queue_oldest_waiting_seconds",
                            "Age of the oldest waiting job (since it was enqueued or became due); 0 when none waits.",
                            {"queue"});
    for (const auto& name : queues) {
        queue::operations ops{redis, name};
        const auto d = co_await ops.stats();
        backlog.with({name}).set(static_cast<double>(d.waiting));
        in_flight.with({name}).set(static_cast<double>(d.in_flight));
        delayed.with({name}).set(static_cast<double>(d.delayed));
        dead.with({name}).set(static_cast<double>(d.dead));
        double age = 0;
        if (d.oldest_waiting_ms > 0) {
            const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
            age = std::max<double>(0, static_cast<double>(now_ms - d.oldest_waiting_ms) / 1000.0);
        }
        oldest.with({name}).set(age);
    }
}

}  // namespace wharf::admin
