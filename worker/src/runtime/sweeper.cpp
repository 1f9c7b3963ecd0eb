// Background upkeep shared by the fleet: taking over entries whose worker died (idle longer than
// the lease), pruning consumers that own nothing, and moving due delayed jobs back to the stream.
#include "runtime_impl.hpp"

namespace wharf::worker {

namespace asio = boost::asio;

namespace {
constexpr std::size_t promote_limit = 500;     // per script call, so one call stays short
constexpr std::uint64_t prune_every = 12;      // sweeps
}  // namespace

asio::awaitable<void> runtime::impl::sweep() {
    auto self = shared_from_this();
    std::uint64_t round = 0;
    std::uint32_t failures = 0;
    // A consumer idle this long that owns nothing belongs to a worker that is gone (a live one
    // reads at least every few seconds); deleting a live one is harmless, it is re-created.
    const auto prune_idle = std::max(options.lease * 4, std::chrono::milliseconds(60'000));
    while (!stopping) {
        co_await sleep(sweep_timer, options.sweep);
        if (stopping) break;
        ++round;
        for (auto& q : queues) {
            std::string failure;
            try {
                if (const auto n = free_slots(*q); n > 0) {
                    auto taken = co_await q->ops.reclaim(options.consumer, options.lease, n);
                    q->metrics.takeovers.inc(static_cast<double>(taken.size()));
                    for (auto& d : taken) {
                        if (stopping) break;  // stays pending with us: the next sweeper anywhere takes it
                        spdlog::info("took over entry {} of {} (delivery {})", d.entry_id, q->name, d.delivery_count);
                        dispatch(*q, std::move(d));
                    }
                }
                if (round % prune_every == 0) {
                    if (const auto pruned = co_await q->ops.prune_consumers(prune_idle); pruned > 0)
                        spdlog::info("pruned {} idle consumers of {}", pruned, q->name);
                }
            } catch (const redis::error& e) {
                if (detail::closed(e)) throw;
                failure = e.what();
            } catch (const std::exception& e) {
                failure = e.what();
            }
            if (!failure.empty() && ++failures == 1) spdlog::warn("sweeping {} failed: {}", q->name, redact(failure));
            if (failure.empty()) failures = 0;
        }
    }
}

asio::awaitable<void> runtime::impl::promote() {
    auto self = shared_from_this();
    std::uint32_t failures = 0;
    while (!stopping) {
        bool more = false;
        for (auto& q : queues) {
            std::string failure;
            try {
                more |= co_await q->ops.promote_due(promote_limit) == promote_limit;
            } catch (const redis::error& e) {
                if (detail::closed(e)) throw;
                failure = e.what();
            } catch (const std::exception& e) {
                failure = e.what();
            }
            if (!failure.empty() && ++failures == 1)
                spdlog::warn("promoting due jobs of {} failed: {}", q->name, redact(failure));
            if (failure.empty()) failures = 0;
        }
        // A full batch means more are due: go again at once; otherwise poll at the interval
        // (one cheap script call per queue, ~20 a second per worker).
        if (!more) co_await sleep(promote_timer, failures > 0 ? std::chrono::milliseconds(500) : options.promote);
    }
}

}  // namespace wharf::worker
