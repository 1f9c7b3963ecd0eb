// Enqueueing a job as wharf's own producers do (wharfctl enqueue, wharf-api): XADD (or the
// delayed set, for a job to run later), then the job's `queued` row, so its status is visible
// before a worker starts it. The job is enqueued whatever happens to the row: a failure there is
// reported, not thrown (the worker writes the row when it starts the job anyway).
#pragma once

#include "wharf/queue/envelope.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::redis {
class connection;
}
namespace wharf::pg {
class pool;
}

namespace wharf::producer {

struct submitted {
    std::string job_id;    // the envelope's id, else the stream entry id
    std::string entry_id;  // empty when delayed
    std::optional<std::chrono::system_clock::time_point> run_at;  // when delayed
    std::optional<std::string> row_error;                          // the queued row was not written
};

// A decoded envelope (queue::decode). A delayed job without an id gets one made of `id_prefix`,
// the time and randomness: its entry id does not exist until it is due, and a status lookup needs
// something. `db` may be null (no row is written).
boost::asio::awaitable<submitted> submit(redis::connection& redis, pg::pool* db, std::string queue,
                                         queue::envelope e, std::string_view id_prefix);

}  // namespace wharf::producer
