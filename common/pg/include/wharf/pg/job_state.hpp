// Where a job's state changes: the batched, fenced writer of the `jobs` table.
//
// A job is (queue, id): ids are unique within a queue, as in Redis.
//
// Fencing: each delivery of a job carries a fence, made of the run's generation (bumped only by
// `wharfctl dead retry`), the Redis stream entry id (ms-seq) and the entry's delivery count.
// Stream ids only grow and every delivery (first read or take-over by XAUTOCLAIM) bumps the count,
// so a later owner always holds a larger fence.
//  - started(): applied only when the stored fence is smaller than the given one and the job is
//    not final; it then bumps `epoch` (times the job was taken) and stores the fence. A dead or
//    failed job is reopened only by a larger generation: a take-over of the same run, however
//    new its entry, cannot bring back a job whose last attempt was already recorded.
//  - finished()/retrying(): applied only when the stored fence equals the given one (so the
//    holder of the latest lease, and nobody else, writes the outcome once).
// Writes are batched: many jobs' changes go to PostgreSQL as one statement per kind per flush,
// so PostgreSQL is not the throughput ceiling.
#pragma once

#include "wharf/pg/pool.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace pqxx {
class transaction_base;
}

namespace wharf::pg {

struct fence {
    std::int64_t entry_ms = 0;
    std::int64_t entry_seq = 0;
    std::int32_t delivery = 1;
    std::int32_t generation = 0;  // compared first: a retried dead job outranks all its old entries
    friend bool operator==(const fence&, const fence&) = default;
    friend auto operator<=>(const fence& a, const fence& b) {
        return std::tie(a.generation, a.entry_ms, a.entry_seq, a.delivery) <=>
               std::tie(b.generation, b.entry_ms, b.entry_seq, b.delivery);
    }
};

// waiting: the job's own run is over, but it is not final until others finish (a pipeline waits
// for its steps; whoever finishes the last one writes its final state).
enum class job_status { queued, running, waiting, succeeded, failed, dead, cancelled, cleaned_up };
std::string_view to_string(job_status s) noexcept;
std::optional<job_status> job_status_from_string(std::string_view s) noexcept;
inline bool is_final(job_status s) noexcept {
    return s == job_status::succeeded || s == job_status::failed || s == job_status::dead ||
           s == job_status::cancelled || s == job_status::cleaned_up;
}

struct job_start {
    std::string id;
    std::string queue;
    pg::fence fence;
    std::int32_t attempt = 1;  // retry attempt, 1-based (from the envelope)
    std::int32_t max_attempts = 1;
    std::optional<std::string> api_key;
    std::optional<std::string> parent_id;
    std::string payload_json = "{}";
};

struct job_outcome {
    std::string id;
    std::string queue;
    pg::fence fence;
    job_status status = job_status::succeeded;  // succeeded | failed | dead | cancelled | queued (retry) | waiting
    std::int32_t attempt = 1;
    std::optional<std::string> error;
    std::optional<std::string> result_json;
    // For a retry (status queued): when the next attempt is due.
    std::optional<std::chrono::system_clock::time_point> run_at;
};

enum class write_result { applied, stale };  // stale: fenced off, a newer owner holds the job

struct writer_options {
    std::chrono::milliseconds max_delay{2};   // a change waits at most this long for company
    std::size_t max_batch = 1000;
};

class job_state_writer {
public:
    job_state_writer(boost::asio::any_io_executor executor, pool& db, writer_options options = {});
    ~job_state_writer();

    // Fire-and-forget: the job starts at once; the row follows in the next flush.
    void started(job_start s);
    // Latest value wins within a flush; fenced like finished().
    void progress(std::string queue, std::string id, pg::fence f, std::string progress_json);
    // Completes once the outcome is durable (or refused as stale). Callers acknowledge the job in
    // Redis only after this returns, so a crash in between re-delivers rather than loses it.
    // A job never seen by started() (a malformed envelope dead-lettered at once) is inserted.
    boost::asio::awaitable<write_result> finished(job_outcome o);

    // Flushes what is pending and stops the flush loop.
    boost::asio::awaitable<void> drain();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

// Synchronous reads used by wharfctl and by the take-over path.
struct job_row {
    std::string id, queue;
    job_status status;
    std::int32_t attempts = 0, max_attempts = 0;
    std::int64_t epoch = 0;
    pg::fence fence;  // of the delivery that last started (or finished) the job
    std::optional<std::string> error, result_json, progress_json, api_key, parent_id;
    std::string created_at, updated_at;
    std::optional<std::string> started_at, finished_at, run_at;
};
boost::asio::awaitable<std::optional<job_row>> load_job(pool& db, std::string queue, std::string id);
// The rows of many jobs in one statement (those that have one; any order).
struct job_key {
    std::string queue, id;
};
boost::asio::awaitable<std::vector<job_row>> load_jobs(pool& db, std::vector<job_key> keys);
// Every queue's job with this id (an operator may not know the queue), ordered by queue.
boost::asio::awaitable<std::vector<job_row>> load_jobs_with_id(pool& db, std::string id);

// A job just added to a queue by wharfctl (producers that XADD directly write no row; the first
// start writes it): status queued, attempts 0, epoch 0, with the stream entry as its fence (delivery
// 0, so the first start takes it over), or no fence when it waits in the delayed set. An id that
// has a row already keeps it. Returns whether a row was written.
struct job_enqueued {
    std::string id;
    std::string queue;
    std::optional<pg::fence> fence;  // entry ms/seq, delivery 0; none while delayed
    std::int32_t max_attempts = 1;
    std::optional<std::string> api_key;
    std::optional<std::string> parent_id;
    std::string payload_json = "{}";
    std::optional<std::int64_t> run_at_ms;  // Unix ms, when delayed
};
boost::asio::awaitable<bool> record_enqueued(pool& db, job_enqueued job);
// A final row on which no start was ever recorded (epoch 0: a pipeline's state mirror wrote it,
// and the start of the job's own run was lost with its worker) takes the bookkeeping of the
// delivery that found it: attempts, max_attempts, takes and fence. A no-op on any other row.
boost::asio::awaitable<void> record_lost_start(pool& db, job_start start);
// The same insert inside the caller's transaction (a schedule writes it with the fire).
bool insert_enqueued(pqxx::transaction_base& tx, const job_enqueued& job);

}  // namespace wharf::pg
