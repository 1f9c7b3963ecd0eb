// The pipelines table (migrations/0006): every change to a pipeline is one transaction that locks
// its row, runs the state machine (plan.hpp) and writes the result -- and mirrors it into the
// pipeline job's own jobs row (progress while it runs, its final state when it ends), so
// `wharfctl status <pipeline>` and every jobs query see it. Enqueueing what the transition
// decided is the caller's part, after the commit (steps have deterministic ids, so doing it twice
// is harmless and a crash before it is repaired by the next delivery of the same event).
//
// Blocking (pqxx::connection&): call inside pg::pool::run.
#pragma once

#include "wharf/pg/pool.hpp"  // the pqxx::connection declaration
#include "wharf/pipeline/plan.hpp"
#include "wharf/redis/connection.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::pipeline {

// A transition's outcome, with copies of the steps to enqueue and to cancel.
struct transition {
    bool known = false;  // false: no such pipeline, or the job is not one of its steps
    state st;
    std::vector<step> enqueue, cancel;
    bool finished = false;
};

// Creates the pipeline from its submission, or returns the existing one as it is (a submission
// run twice). A stored source with a SHA-256 the tenant processed already finishes it at once.
transition submit(pqxx::connection& c, const spec& s);
// A job of queue `queue` with id `job_id`, a step of pipeline `pipeline_id`, reached a final state
// (`job_status` as in jobs.status: succeeded, failed, dead or cancelled).
transition record_step_end(pqxx::connection& c, std::string_view pipeline_id, std::string_view queue,
                           std::string_view job_id, std::string_view job_status, const nlohmann::json& result,
                           const std::optional<std::string>& error);
// An operator's cancel. known=false when there is no such pipeline.
transition cancel_pipeline(pqxx::connection& c, std::string_view pipeline_id);
std::optional<state> load_pipeline(pqxx::connection& c, std::string_view pipeline_id);

// After a transition committed: enqueues the steps it decided (each with its deterministic id,
// the pipeline's tenant and the pipeline as its parent) and asks the steps it cancels to stop.
// Idempotent. The worker's advancer and `wharfctl cancel` both call it.
boost::asio::awaitable<void> apply(redis::connection& redis, const transition& t);

}  // namespace wharf::pipeline
