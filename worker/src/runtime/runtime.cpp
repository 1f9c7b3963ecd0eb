// The runtime's skeleton: construction, the top-level run() sequence, stop requests, and the small
// waiting helpers every loop uses.
#include "runtime_impl.hpp"
#include "wharf/pg/redis_incarnations.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <unistd.h>

namespace wharf::worker {

namespace asio = boost::asio;

namespace detail {

namespace {
metrics::registry& reg() { return metrics::default_registry(); }
}  // namespace

queue_metrics::queue_metrics(const std::string& queue, std::size_t concurrency)
    : started(reg().counters("wharf_jobs_started_total", "Job attempts started.", {"queue"}).with({queue})),
      retries(reg().counters("wharf_job_retries_total", "Attempts that failed and were scheduled again.", {"queue"})
                  .with({queue})),
      dead_letters(reg().counters("wharf_dead_letters_total", "Jobs moved to the dead-letter stream.", {"queue"})
                       .with({queue})),
      handed_back(reg().counters("wharf_jobs_handed_back_total",
                                 "Jobs handed back unfinished (shutdown) for another worker to run.", {"queue"})
                      .with({queue})),
      takeovers(reg().counters("wharf_takeovers_total",
                               "Entries taken over from a worker whose lease ran out.", {"queue"})
                    .with({queue})),
      lease_renewals(reg().counters("wharf_lease_renewals_total", "Leases renewed (one per entry per renewal).",
                                    {"queue"})
                         .with({queue})),
      busy_slots(reg().gauges("wharf_worker_busy_slots", "Slots running a job now.", {"queue"}).with({queue})),
      wait(reg()
               .histograms("wharf_job_wait_seconds",
                           "Time from a job's entry in the stream (enqueued, or due after a delay) to its start.",
                           metrics::duration_buckets(), {"queue"})
               .with({queue})) {
    reg().gauges("wharf_worker_slots", "Slots (the queue's concurrency in this worker).", {"queue"})
        .with({queue})
        .set(static_cast<double>(concurrency));
    // Looked up once: a finished job only touches atomics. (Only the final outcomes have a
    // finished series; the others are counted by retries and handed_back.)
    auto& finished = reg().counters("wharf_jobs_finished_total", "Jobs this worker brought to an outcome, by outcome.",
                                    {"queue", "outcome"});
    auto& durations = reg().histograms("wharf_job_duration_seconds",
                                       "Run time of a job's handler, by how the attempt ended.",
                                       metrics::duration_buckets(), {"queue", "outcome"});
    for (std::size_t i = 0; i < outcomes; ++i) {
        const auto o = static_cast<outcome>(i);
        if (o != outcome::retried && o != outcome::handed_back) finished_[i] = &finished.with({queue, name(o)});
        duration_[i] = &durations.with({queue, name(o)});
    }
}

std::string_view queue_metrics::name(outcome o) {
    switch (o) {
    case outcome::succeeded: return "succeeded";
    case outcome::waiting: return "waiting";
    case outcome::cancelled: return "cancelled";
    case outcome::dead: return "dead";
    case outcome::retried: return "retried";
    case outcome::handed_back: return "handed_back";
    }
    return "succeeded";
}

}  // namespace detail

std::string default_consumer_name() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
    std::uniform_int_distribution<std::uint32_t> dist;
    return fmt::format("{}:{}:{:08x}", host, ::getpid(), dist(jitter_rng()));
}

runtime::impl::impl(asio::any_io_executor ex, runtime_options opts, job_registry reg)
    : strand(asio::make_strand(ex)), options(std::move(opts)), registry(std::move(reg)),
      commands(strand, options.redis, {.client_name = "wharf-worker"}),
      db(strand, options.database_url, {.threads = options.pg_threads}), writer(strand, db),
      promote_timer(strand), sweep_timer(strand), renew_timer(strand), cancel_timer(strand), idle_timer(strand) {
    for (const auto& spec : options.queues) {
        const job_type* type = registry.find(spec.name);
        if (!type) throw std::invalid_argument("no job type for queue " + spec.name);
        auto reader = std::make_unique<redis::connection>(
            strand, options.redis, redis::connection_options{.client_name = "wharf-worker-reader"});
        queues.push_back(std::make_unique<detail::queue_state>(spec.name, spec.concurrency, *type, commands,
                                                               std::move(reader), strand));
        queues.back()->ops.set_finished_id_ttl(
            std::chrono::ceil<std::chrono::seconds>(std::max(options.finished_id_ttl, std::chrono::milliseconds(1'000))));
    }
}

void runtime::impl::wake() {
    for (auto* t : waiters) t->cancel();
}

asio::awaitable<bool> runtime::impl::wait_until(const std::function<bool()>& done,
                                                std::optional<std::chrono::steady_clock::time_point> deadline) {
    asio::steady_timer own{strand};
    waiters.push_back(&own);
    struct unregister {
        std::vector<asio::steady_timer*>& list;
        asio::steady_timer* t;
        ~unregister() { list.erase(std::remove(list.begin(), list.end(), t), list.end()); }
    } guard{waiters, &own};
    while (!done()) {
        if (deadline && std::chrono::steady_clock::now() >= *deadline) co_return false;
        own.expires_at(deadline.value_or(std::chrono::steady_clock::time_point::max()));
        co_await own.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return true;
}

asio::awaitable<void> runtime::impl::sleep(asio::steady_timer& timer, std::chrono::milliseconds d) {
    timer.expires_after(d);
    // Cancelled means "wake up early" (shutdown): not an error.
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

void runtime::impl::spawn_loop(const char* name, asio::awaitable<void> loop) {
    ++live_loops;
    asio::co_spawn(strand, std::move(loop), [self = shared_from_this(), name](std::exception_ptr e) {
        --self->live_loops;
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                spdlog::error("{} stopped: {}", name, redact(ex.what()));
            }
        }
        self->wake();
    });
}

asio::awaitable<void> runtime::impl::refresh_data_since() {
    std::int64_t since = 0;
    try {
        auto identify = queue::identify_server(commands);
        auto server = co_await std::move(identify);
        auto record = pg::redis_data_since(db, std::move(server.run_id), server.now_ms);
        since = co_await std::move(record);
    } catch (const std::exception& e) {
        // Unknown: everything older than now is treated as possibly stale (a read per entry until
        // the backlog written before now is through), never the other way round.
        since = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
        spdlog::warn("telling whether Redis restarted failed: {}; checking entries older than now against PostgreSQL",
                     redact(e.what()));
    }
    if (since > data_since_ms) {
        spdlog::info("Redis has restarted or failed over since wharf first saw it: entries older than {} ms are "
                     "checked against PostgreSQL before they run",
                     since);
        data_since_ms = since;
    }
}

asio::awaitable<void> runtime::impl::run() {
    auto self = shared_from_this();  // loops and jobs keep the state alive through their frames
    spdlog::info("worker {} starting: {}", options.consumer, [&] {
        std::string s;
        for (const auto& q : queues) s += fmt::format("{}{}={}", s.empty() ? "" : ",", q->name, q->concurrency);
        return s;
    }());
    spawn_loop("lease keeper", keep_leases());
    spawn_loop("cancel watcher", watch_cancels());
    // Redis may not be up yet (a fleet starting together): keep trying until it is or we stop.
    for (auto& q : queues) {
        co_await with_redis_retry(
            "creating the consumer group", [&q]() { return q->ops.ensure_group(); }, [this] { return stopping; });
    }
    if (!stopping) {
        for (auto& q : queues) spawn_loop("consumer", consume(*q));
        spawn_loop("promoter", promote());
        spawn_loop("sweeper", sweep());
        if (options.exit_when_idle.count() > 0) spawn_loop("idle watch", stop_when_idle());
        spdlog::info("worker {} running (lease {}, sweep {})", options.consumer, format_duration(options.lease),
                     format_duration(options.sweep));
    }
    co_await wait_until([this] { return stopping; });
    co_await drain();

    finished = true;
    renew_timer.cancel();
    cancel_timer.cancel();
    wake();
    if (!co_await wait_until([this] { return live_loops == 0; },
                             std::chrono::steady_clock::now() + std::chrono::seconds(5)))
        spdlog::warn("{} background loops did not stop in time", live_loops);
    try {
        co_await writer.drain();
    } catch (const std::exception& e) {
        spdlog::error("flushing job state at shutdown failed: {}", redact(e.what()));
    }
    commands.close();
    spdlog::info("worker {} stopped", options.consumer);
}

void runtime::impl::request_stop() {
    asio::post(strand, [self = shared_from_this()] {
        if (self->stopping) return;
        self->stopping = true;
        std::size_t running = 0;
        for (auto& q : self->queues) running += q->executing;
        spdlog::info("stop requested: no new jobs; {} running, grace {}", running,
                     format_duration(self->options.grace));
        for (auto& q : self->queues) {
            q->reader->close();  // aborts the blocking read at once
            q->slot_freed.cancel();
        }
        self->promote_timer.cancel();
        self->sweep_timer.cancel();
        self->idle_timer.cancel();
        self->wake();
    });
}

// ---- runtime ------------------------------------------------------------------------------------

runtime::runtime(asio::any_io_executor executor, runtime_options options, job_registry registry)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(options), std::move(registry))) {}

runtime::~runtime() = default;

asio::any_io_executor runtime::executor() const { return impl_->strand; }

asio::awaitable<void> runtime::run() { return impl_->run(); }

void runtime::stop() { impl_->request_stop(); }

}  // namespace wharf::worker
