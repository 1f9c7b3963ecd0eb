// One queue's reader: a blocking XREADGROUP on its own connection, asking for no more entries
// than there are free slots (plus a read-ahead while the queue's jobs are short), so the process
// never holds more jobs than it can run soon.
#include "runtime_impl.hpp"
#include "wharf/worker/read_ahead.hpp"

namespace wharf::worker {

namespace asio = boost::asio;

namespace {
// How long one read blocks. Short enough that a stale COUNT is soon refreshed, long enough that an
// idle worker costs Redis almost nothing. A new entry ends the block at once either way.
constexpr std::chrono::milliseconds read_block{2'000};
}  // namespace

std::size_t runtime::impl::prefetch(const detail::queue_state& q) const {
    return read_ahead(q.concurrency, q.runs, q.mean_run_us);  // see read_ahead.hpp
}

std::size_t runtime::impl::free_slots(const detail::queue_state& q) const {
    const std::size_t limit = q.concurrency + prefetch(q);
    if (q.held >= limit) return 0;
    // Entries whose handler is done but whose outcome is not yet written and acknowledged are
    // cheap, but bounded too: while PostgreSQL or Redis is down they must not pile up unboundedly.
    const std::size_t backlog_cap = limit + std::max<std::size_t>(options.batch, 1'024);
    if (q.tracked.size() >= backlog_cap) return 0;
    return std::min({limit - q.held, backlog_cap - q.tracked.size(), options.batch});
}

asio::awaitable<void> runtime::impl::consume(detail::queue_state& q) {
    auto self = shared_from_this();
    std::uint32_t failures = 0;
    asio::steady_timer backoff_timer{strand};
    while (!stopping) {
        const std::size_t n = free_slots(q);
        if (n == 0) {
            q.slot_freed.expires_at(std::chrono::steady_clock::time_point::max());
            co_await q.slot_freed.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        std::vector<queue::delivery> got;
        std::string failure;
        try {
            got = co_await queue::operations::read_new(*q.reader, q.ops.keys(), options.consumer, n, read_block);
        } catch (const redis::error& e) {
            if (stopping) break;  // request_stop() closed the reader to end the read
            if (detail::closed(e)) throw;
            failure = e.what();
        } catch (const std::exception& e) {
            failure = e.what();  // NOGROUP after Redis lost its data, LOADING while it starts...
        }
        if (!failure.empty()) {
            ++failures;
            if (failures == 1) spdlog::warn("reading queue {} failed: {}; retrying with backoff", q.name, redact(failure));
            co_await sleep(backoff_timer, reconnect_policy.delay(failures, jitter_rng()));
            if (failure.find("NOGROUP") != std::string::npos) {
                try {
                    co_await q.ops.ensure_group();
                } catch (const std::exception& e) {
                    spdlog::debug("re-creating the group of {} failed: {}", q.name, redact(e.what()));
                }
            }
            continue;
        }
        if (failures > 0) spdlog::info("reading queue {} works again after {} failures", q.name, failures);
        failures = 0;
        // A new session of the reader (it reconnects by itself, even when no read failed: a
        // restart while every slot was busy) may be a restarted or failed-over server: learn which
        // incarnation these entries come from before any of them runs.
        if (q.reader->sessions() != q.reader_sessions) {
            co_await refresh_data_since();
            q.reader_sessions = q.reader->sessions();
        }
        for (auto& d : got) dispatch(q, std::move(d));
    }
}

}  // namespace wharf::worker
