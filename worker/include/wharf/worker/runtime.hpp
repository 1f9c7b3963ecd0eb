// The worker runtime: takes jobs from the queues' Redis streams, runs each in its own coroutine,
// keeps their leases, records their state in PostgreSQL and acknowledges them. See
// src/runtime/ for the pieces (consumer, job runner, lease keeper, sweeper, shutdown).
#pragma once

#include "wharf/redis/endpoint.hpp"
#include "wharf/worker/queue_spec.hpp"
#include "wharf/worker/registry.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace wharf::worker {

// A job with a parent (a pipeline's step) reached a final state.
struct child_finished {
    std::string queue, id, parent_id;
    std::string status;  // succeeded | failed | dead | cancelled
    std::optional<std::string> result_json, error;
};
// Called after the child's final state is durable and before its entry is acknowledged, so a crash
// in between calls it again for the same child: it must be idempotent. An exception is retried
// with backoff (the entry stays unacknowledged meanwhile).
using child_finished_hook = std::function<boost::asio::awaitable<void>(child_finished)>;

struct runtime_options {
    redis::endpoint redis;
    std::string database_url;
    std::vector<queue_spec> queues;
    std::string consumer;  // this process's consumer name in the group (host:pid:random)
    std::chrono::milliseconds grace{30'000};   // running jobs may finish within this on shutdown
    std::chrono::milliseconds lease{30'000};   // an entry idle this long may be taken over
    std::chrono::milliseconds sweep{5'000};    // how often to look for entries to take over
    std::chrono::milliseconds promote{50};     // how often to move due delayed jobs back
    std::chrono::milliseconds duplicate_wait{250};  // a duplicate id re-checks after this
    // How long Redis remembers a finished or dead producer id (a repeat within it costs no
    // PostgreSQL read; after it, the job's row tells). Redis memory: ~180 B per id for this long.
    std::chrono::milliseconds finished_id_ttl{60'000};
    std::chrono::milliseconds cancel_poll{1'000};   // how often running jobs are checked for cancels
    // Stop (gracefully) once no job has been in hand for this long; 0: never. For workers started
    // per batch of work (a Kubernetes Job from KEDA's ScaledJob) that should end when it is done.
    std::chrono::milliseconds exit_when_idle{0};
    child_finished_hook on_child_finished;          // optional
    std::size_t batch = 256;       // most entries taken by one read
    std::size_t pg_threads = 2;    // PostgreSQL pool threads
};

// The default consumer name: "<host>:<pid>:<random hex>".
std::string default_consumer_name();

class runtime {
public:
    // Every queue in options must have a type in registry (the caller validates and reports).
    runtime(boost::asio::any_io_executor executor, runtime_options options, job_registry registry);
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    // The strand run() must be spawned on.
    boost::asio::any_io_executor executor() const;

    // Runs until stop() and then drains: stops reading, lets running jobs finish within the grace
    // period, hands the rest back, flushes state and acknowledgements. Throws only on a bug.
    boost::asio::awaitable<void> run();

    // Begins the graceful shutdown; callable from any thread, any number of times.
    void stop();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

// The wharf-worker program (flags, logging, signals); main() only calls this.
int worker_main(int argc, const char* const* argv);

}  // namespace wharf::worker
