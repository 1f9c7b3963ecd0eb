#include "wharf/producer/submit.hpp"

#include "wharf/core/backoff.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/pg/job_state.hpp"
#include "wharf/queue/operations.hpp"

#include <cstdio>

namespace wharf::producer {

using namespace std::chrono;

boost::asio::awaitable<submitted> submit(redis::connection& redis, pg::pool* db, std::string queue,
                                         queue::envelope e, std::string_view id_prefix) {
    submitted out;
    const bool delayed = e.run_at && *e.run_at > system_clock::now();
    if (delayed && !e.id) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "%.*s-%lld-%08llx", static_cast<int>(std::min<std::size_t>(id_prefix.size(), 40)),
                      id_prefix.data(),
                      static_cast<long long>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count()),
                      static_cast<unsigned long long>(jitter_rng()() & 0xffffffffULL));
        e.id = buf;
    }
    queue::operations ops{redis, queue};
    auto enqueuing = ops.enqueue(e);
    out.entry_id = co_await std::move(enqueuing);
    out.job_id = e.id.value_or(out.entry_id);
    if (delayed) out.run_at = *e.run_at;
    if (db) {
        pg::job_enqueued row{.id = out.job_id,
                             .queue = queue,
                             .fence = std::nullopt,
                             .max_attempts = e.max_attempts.value_or(0),
                             .api_key = e.api_key,
                             .parent_id = e.parent_id,
                             .payload_json = e.payload_json,
                             .run_at_ms = std::nullopt};
        if (const auto dash = out.entry_id.find('-'); dash != std::string::npos)
            row.fence = pg::fence{std::stoll(out.entry_id.substr(0, dash)), std::stoll(out.entry_id.substr(dash + 1)), 0};
        if (delayed) row.run_at_ms = duration_cast<milliseconds>(e.run_at->time_since_epoch()).count();
        try {
            auto recording = pg::record_enqueued(*db, std::move(row));
            co_await std::move(recording);
        } catch (const std::exception& ex) {
            out.row_error = redact(ex.what());
        }
    }
    co_return out;
}

}  // namespace wharf::producer
