// What a job handler sees and returns. Handlers are coroutines; the runtime owns everything else
// (leases, retries, timeouts, state, acknowledgement).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace wharf::worker {

struct job_context {
    std::string id;
    std::string queue;
    std::int32_t attempt = 1;
    std::int32_t max_attempts = 1;
    // 1 normally; > 1 when a worker already had this attempt (it died, or handed it back at
    // shutdown): the attempt may have done part of its work.
    std::int32_t delivery = 1;
    nlohmann::json payload;
    std::optional<std::string> api_key;
    boost::asio::any_io_executor executor;
    // Records progress (any JSON, e.g. {"done":123,"total":456}) in the job's row; cheap to call
    // often, the latest value wins.
    std::function<void(nlohmann::json)> report_progress;
};

// Throw from a handler: the job fails now with this reason, no retry (bad payload, 4xx).
class permanent_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
// Any other exception is retryable (up to max_attempts, with the retry backoff).

// A handler returns the job's result (stored as the row's result JSON).
using job_handler = std::function<boost::asio::awaitable<nlohmann::json>(job_context&)>;

// Per-type defaults, overridable per job by the envelope.
struct job_type {
    std::string name;
    job_handler handler;
    std::int32_t max_attempts = 5;
    std::chrono::seconds timeout{300};
    std::chrono::milliseconds retry_base{1'000};
    std::chrono::milliseconds retry_cap{300'000};
    // A handler that succeeds records status `waiting` rather than `succeeded`: the job is over
    // only when others finish (a pipeline, whose steps write its final state).
    bool completes_later = false;
};

}  // namespace wharf::worker
