// Lease renewal: every lease/3, resets the idle time of every entry this worker still holds, so a
// long job is never taken over while its worker lives. An entry reported lost was taken over
// (this worker stalled longer than the lease) or is gone (Redis lost it: the reconcile task runs
// the job again): its job is cancelled and writes nothing.
// And the cancel watcher: every cancel_poll, the jobs this worker holds that a cancel was asked for
// (wharfctl cancel) are stopped; their outcome is `cancelled`.
#include "runtime_impl.hpp"

namespace wharf::worker {

namespace asio = boost::asio;

namespace {
constexpr std::size_t renew_chunk = 1'000;  // entries per renew script call
}

asio::awaitable<void> runtime::impl::keep_leases() {
    auto self = shared_from_this();
    std::uint32_t failures = 0;
    while (!finished) {
        co_await sleep(renew_timer, std::max(options.lease / 3, std::chrono::milliseconds(10)));
        if (finished) break;
        for (auto& q : queues) {
            if (q->tracked.empty()) continue;
            std::vector<std::string> ids;
            ids.reserve(q->tracked.size());
            for (const auto& [id, job] : q->tracked) ids.push_back(id);
            for (std::size_t from = 0; from < ids.size(); from += renew_chunk) {
                std::vector<std::string> chunk(ids.begin() + from,
                                               ids.begin() + std::min(ids.size(), from + renew_chunk));
                std::vector<std::string> lost;
                std::string failure;
                try {
                    lost = co_await q->ops.renew(options.consumer, chunk);
                } catch (const redis::error& e) {
                    if (detail::closed(e)) throw;
                    failure = e.what();
                } catch (const std::exception& e) {
                    failure = e.what();
                }
                if (!failure.empty()) {
                    // The next round tries again; the lease is three rounds long.
                    if (++failures == 1) spdlog::warn("renewing leases of {} failed: {}", q->name, redact(failure));
                    break;
                }
                failures = 0;
                q->metrics.lease_renewals.inc(static_cast<double>(chunk.size() - std::min(chunk.size(), lost.size())));
                for (const auto& id : lost) {
                    const auto it = q->tracked.find(id);
                    // Acked meanwhile, or past its handler: nothing to stop.
                    if (it == q->tracked.end() || !(it->second->handler_running || it->second->waiting_for_slot)) continue;
                    spdlog::warn("job {} of {} (entry {}) was taken over by another worker, or Redis lost the entry: "
                                 "cancelling it here",
                                 it->second->job_id, q->name, id);
                    stop_job(*it->second, run_end::lease_lost);
                }
            }
        }
    }
}

asio::awaitable<void> runtime::impl::watch_cancels() {
    auto self = shared_from_this();
    std::uint32_t failures = 0;
    while (!finished) {
        co_await sleep(cancel_timer, options.cancel_poll);
        if (finished) break;
        for (auto& q : queues) {
            // Jobs between their read and their outcome; one HLEN only when the queue has no cancel.
            std::vector<std::string> ids;
            for (const auto& [entry, job] : q->tracked)
                if (!job->job_id.empty() && !job->stopped) ids.push_back(job->job_id);
            queue::operations::cancels seen;
            try {
                seen = co_await q->ops.cancels_asked(std::move(ids));
            } catch (const redis::error& e) {
                if (detail::closed(e)) throw;
                if (++failures == 1) spdlog::warn("checking {} for cancels failed: {}", q->name, redact(e.what()));
                continue;
            } catch (const std::exception& e) {
                if (++failures == 1) spdlog::warn("checking {} for cancels failed: {}", q->name, redact(e.what()));
                continue;
            }
            failures = 0;
            q->cancel_pending = seen.pending > 0;
            for (const auto& id : seen.asked) {
                for (auto& [entry, job] : q->tracked) {
                    if (job->job_id != id || job->stopped) continue;
                    spdlog::info("job {} of {}: cancel asked for; stopping it", id, q->name);
                    stop_job(*job, run_end::cancelled);
                }
            }
        }
    }
}

}  // namespace wharf::worker
