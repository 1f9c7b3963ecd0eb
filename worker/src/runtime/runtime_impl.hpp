// The runtime's shared state. Everything here is touched only on the runtime strand: the
// consumer loops, job coroutines, lease keeper, sweeper and shutdown all run on it, so no locks.
#pragma once

#include "wharf/metrics/registry.hpp"
#include "wharf/pg/job_state.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/queue/operations.hpp"
#include "wharf/redis/connection.hpp"
#include "wharf/worker/outcome.hpp"
#include "wharf/worker/runtime.hpp"

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace wharf::worker {

namespace detail {

struct queue_state;

// Every Redis failure but our own close() is retried with backoff by the long-lived loops: not
// only I/O errors and timeouts but also replies such as LOADING from a restarting server, which
// the client may report as a protocol error. A loop that gave up would leave a zombie worker.
inline bool closed(const redis::error& e) noexcept { return e.which() == redis::error::kind::closed; }

// One delivery of one job, from the read until Redis no longer holds it for us (acked, delayed,
// dead-lettered, or taken over by another worker).
struct job_run {
    job_run(queue_state& q, queue::delivery d, boost::asio::any_io_executor ex)
        : queue(q), delivery(std::move(d)), timer(ex) {}

    queue_state& queue;
    queue::delivery delivery;
    queue::envelope envelope;
    std::string job_id;
    pg::fence fence;
    std::int32_t max_attempts = 1;
    std::chrono::milliseconds timeout{0};
    job_context context;
    boost::asio::steady_timer timer;           // the per-job timeout
    boost::asio::cancellation_signal cancel;   // stops the job's coroutine tree
    bool handler_running = false;              // only then may `cancel` be emitted
    bool in_hand = true;                       // counted in queue_state::held
    bool holds_slot = false;                   // counted in queue_state::executing
    bool waiting_for_slot = false;             // parked on `timer` in queue_state::slot_queue
    std::optional<run_end> stopped;            // why the runtime stopped it, if it did
};

// How one attempt ended, before the outcome is decided and written.
struct attempt_end {
    run_end end = run_end::succeeded;
    std::string error;
    nlohmann::json result;
    double run_seconds = -1;  // the handler's run time; negative when it did not run
};

// A queue's series in the process's metrics (wharf::metrics::default_registry()), looked up
// once: the job paths only touch atomics.
struct queue_metrics {
    explicit queue_metrics(const std::string& queue, std::size_t concurrency);
    metrics::counter& started;
    metrics::counter& retries;
    metrics::counter& dead_letters;
    metrics::counter& handed_back;
    metrics::counter& takeovers;
    metrics::counter& lease_renewals;
    metrics::gauge& busy_slots;
    metrics::histogram& wait;  // from the entry's time in the stream (enqueued, or due) to the start
    // How an attempt ended, as the metrics name it.
    enum class outcome { succeeded, waiting, cancelled, dead, retried, handed_back };
    static constexpr std::size_t outcomes = 6;
    static std::string_view name(outcome o);
    // A job's final outcome as this worker recorded it: succeeded, dead, cancelled, or waiting
    // (a pipeline's own job, done once its steps are). Not for retried and handed_back.
    metrics::counter& finished(outcome o) { return *finished_[static_cast<std::size_t>(o)]; }
    // The handler's run time, by how the attempt ended.
    metrics::histogram& duration(outcome o) { return *duration_[static_cast<std::size_t>(o)]; }

private:
    std::array<metrics::counter*, outcomes> finished_{};
    std::array<metrics::histogram*, outcomes> duration_{};
};

struct queue_state {
    queue_state(std::string name, std::size_t concurrency, const job_type& type, redis::connection& commands,
                std::unique_ptr<redis::connection> reader, boost::asio::any_io_executor ex)
        : name(name), concurrency(concurrency), type(type), ops(commands, std::move(name)),
          reader(std::move(reader)), slot_freed(ex), metrics(this->name, concurrency) {}

    std::string name;
    std::size_t concurrency;
    const job_type& type;
    queue::operations ops;
    std::unique_ptr<redis::connection> reader;  // the blocking XREADGROUP connection, nothing else
    std::uint64_t reader_sessions = 0;          // reader->sessions() when the incarnation was last checked

    // Jobs taken from the stream whose handler has not ended yet (read, waiting for a slot, or
    // running); at most concurrency + prefetch(). Of them, `executing` hold one of the
    // `concurrency` slots; the others wait in `slot_queue`, first come first served.
    std::size_t held = 0;
    std::size_t executing = 0;
    std::deque<std::shared_ptr<job_run>> slot_queue;
    // Handler run time, exponentially averaged: prefetching pays only for short jobs.
    double mean_run_us = 0;
    std::uint64_t runs = 0;
    // Entries Redis holds for us, by entry id: renewed by the lease keeper until released.
    std::unordered_map<std::string, std::shared_ptr<job_run>> tracked;
    std::vector<queue::operations::ack_item> acks;  // waiting for the next batched ack
    bool ack_flushing = false;
    // Cancels are asked for in this queue (as of the last look): a job without a producer id is
    // then checked before it starts (claim_id checks the others). True until the first look.
    bool cancel_pending = true;
    boost::asio::steady_timer slot_freed;  // the consumer sleeps on it while it holds all it may
    queue_metrics metrics;
};

}  // namespace detail

struct runtime::impl : std::enable_shared_from_this<runtime::impl> {
    impl(boost::asio::any_io_executor ex, runtime_options options, job_registry registry);

    // runtime.cpp
    boost::asio::awaitable<void> run();
    void request_stop();
    void wake();  // something the waiters of wait_until() may care about changed
    boost::asio::awaitable<bool> wait_until(const std::function<bool()>& done,
                                            std::optional<std::chrono::steady_clock::time_point> deadline = {});
    boost::asio::awaitable<void> sleep(boost::asio::steady_timer& timer, std::chrono::milliseconds d);
    // Retries fn on Redis I/O errors and error replies (LOADING after a restart...) with backoff,
    // until it succeeds or `give_up()` says so (then returns false).
    template <class F>
    boost::asio::awaitable<bool> with_redis_retry(const char* what, F fn, const std::function<bool()>& give_up);
    void spawn_loop(const char* name, boost::asio::awaitable<void> loop);

    // queue_consumer.cpp
    boost::asio::awaitable<void> consume(detail::queue_state& q);
    std::size_t free_slots(const detail::queue_state& q) const;
    std::size_t prefetch(const detail::queue_state& q) const;

    // job_runner.cpp
    // Starts a job run; null when the entry is in hand already.
    std::shared_ptr<detail::job_run> dispatch(detail::queue_state& q, queue::delivery d);
    boost::asio::awaitable<void> run_job(std::shared_ptr<detail::job_run> j);
    boost::asio::awaitable<bool> prepare_run(std::shared_ptr<detail::job_run> j);
    boost::asio::awaitable<detail::attempt_end> execute(std::shared_ptr<detail::job_run> j);
    boost::asio::awaitable<void> finish_attempt(std::shared_ptr<detail::job_run> j, detail::attempt_end ended);
    boost::asio::awaitable<std::optional<pg::job_row>> final_row(const detail::job_run& j);
    // The row reads of final_row(), batched: the reads asked for while one statement is in flight
    // go together in the next (pg::load_jobs), so a burst of new producer ids costs a few
    // statements, not one round trip each.
    boost::asio::awaitable<std::optional<pg::job_row>> read_row(const std::string& queue, const std::string& id);
    boost::asio::awaitable<void> flush_row_reads();
    // outcome: the stats counter its acknowledgement bumps ("duplicates" for a producer's repeat).
    boost::asio::awaitable<void> settle_finished(std::shared_ptr<detail::job_run> j, const pg::job_row& row,
                                                 std::string outcome = "");
    boost::asio::awaitable<void> dead_letter_now(std::shared_ptr<detail::job_run> j, std::string reason);
    boost::asio::awaitable<void> cancel_before_start(std::shared_ptr<detail::job_run> j);
    // Tells the parent (options.on_child_finished) that this child is final; false when the
    // runtime gave up (shutting down with PostgreSQL away): the entry must then stay pending.
    boost::asio::awaitable<bool> notify_parent(const detail::job_run& j, const std::optional<std::string>& parent_id,
                                               pg::job_status status, std::optional<std::string> result_json,
                                               std::optional<std::string> error);
    boost::asio::awaitable<std::optional<pg::write_result>> finish_durably(pg::job_outcome o);
    boost::asio::awaitable<void> acquire_slot(std::shared_ptr<detail::job_run> j);
    void release_slot(detail::job_run& j);
    void untrack(detail::job_run& j);
    void push_ack(detail::job_run& j, std::string outcome);
    boost::asio::awaitable<void> flush_acks(detail::queue_state& q);
    void stop_job(detail::job_run& j, run_end why);

    // lease_keeper.cpp, sweeper.cpp
    boost::asio::awaitable<void> keep_leases();
    boost::asio::awaitable<void> watch_cancels();
    boost::asio::awaitable<void> sweep();
    boost::asio::awaitable<void> promote();

    // shutdown.cpp
    boost::asio::awaitable<void> drain();
    boost::asio::awaitable<void> stop_when_idle();
    std::chrono::steady_clock::time_point last_busy = std::chrono::steady_clock::now();

    boost::asio::strand<boost::asio::any_io_executor> strand;
    runtime_options options;
    job_registry registry;
    redis::connection commands;  // scripts, acks, renewals: pipelined, shared by everything
    pg::pool db;
    pg::job_state_writer writer;
    std::vector<std::unique_ptr<detail::queue_state>> queues;

    // Entries up to this Redis time (unix ms) may be stale copies of jobs that ended since: their
    // rows are read before they run (pg::redis_data_since; checked again whenever a queue's
    // reader has a new session, which is how a restart or a failover shows itself to a worker).
    std::int64_t data_since_ms = 0;
    boost::asio::awaitable<void> refresh_data_since();

    struct row_read {
        explicit row_read(boost::asio::any_io_executor ex) : wake(std::move(ex)) {}
        pg::job_key key;
        std::optional<pg::job_row> row;
        std::exception_ptr error;
        bool done = false;
        boost::asio::steady_timer wake;  // cancelled when done
    };
    std::vector<std::shared_ptr<row_read>> row_reads;  // waiting for the next statement
    bool row_reads_flushing = false;

    bool stopping = false;   // no new jobs
    bool abandon = false;    // shutdown's last phase: pending retries give up
    bool finished = false;   // the lease keeper may stop
    std::size_t live_loops = 0;
    std::vector<boost::asio::steady_timer*> waiters;  // of wait_until(); wake() cancels them
    boost::asio::steady_timer promote_timer, sweep_timer, renew_timer, cancel_timer, idle_timer;
    backoff_policy reconnect_policy{std::chrono::milliseconds(50), std::chrono::milliseconds(2'000), 0};
};

}  // namespace wharf::worker

// ---- template bodies ----------------------------------------------------------------------------
#include "wharf/core/redact.hpp"
#include "wharf/queue/error.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace wharf::worker {

template <class F>
boost::asio::awaitable<bool> runtime::impl::with_redis_retry(const char* what, F fn,
                                                             const std::function<bool()>& give_up) {
    boost::asio::steady_timer timer{strand};
    for (std::uint32_t attempt = 1;; ++attempt) {
        std::string failure;
        try {
            co_await fn();
            co_return true;
        } catch (const redis::error& e) {
            if (detail::closed(e)) throw;  // we closed it: shutting down
            failure = e.what();
        } catch (const std::exception& e) {
            // Error replies are retried too ("-LOADING" while a restarted Redis reads its AOF), and
            // so is any other failure: the callers' work (an ack, a re-queue) must not be lost.
            failure = e.what();
        }
        if (give_up()) co_return false;
        const auto delay = reconnect_policy.delay(attempt, jitter_rng());
        if (attempt == 1)
            spdlog::warn("{} failed: {}; retrying with backoff", what, redact(failure));
        else
            spdlog::debug("{} failed again (attempt {}): {}", what, attempt, redact(failure));
        co_await sleep(timer, delay);
    }
}

}  // namespace wharf::worker
