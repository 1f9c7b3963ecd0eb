// The batched, fenced job-state writer (the flush loop and its SQL), load_job() and record_enqueued().
#include "wharf/pg/job_state.hpp"

#include "wharf/core/backoff.hpp"
#include "wharf/core/log.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/pg/detail/batch.hpp"
#include "wharf/pg/detail/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pqxx/pqxx>

#include <cstdint>
#include <unordered_map>
#include <unordered_set>

namespace asio = boost::asio;

namespace wharf::pg {
namespace {

// A job is (queue, id) and its fence is (generation, entry_ms, entry_seq, delivery): see
// job_state.hpp. Every statement returns the rows it applied as queue || '/' || id, the text of
// detail::job_key().

// Starts: insert the row, or take it over when the stored fence is smaller and the job is not
// final -- or is dead, failed or cleaned_up and the start belongs to a newer generation (`wharfctl dead
// retry`; an old run's take-over, whatever its entry, reopens nothing). `takes` (starts coalesced
// into the row) is added to epoch. ORDER BY the key: lock order.
constexpr const char* starts_sql = R"sql(
INSERT INTO jobs AS j (id, queue, status, attempts, max_attempts, epoch, generation, entry_ms, entry_seq, delivery,
                       api_key, parent_id, payload, created_at, updated_at, started_at)
SELECT t.id, t.queue, 'running', t.attempt, t.max_attempts, t.takes, t.generation, t.entry_ms, t.entry_seq, t.delivery,
       t.api_key, t.parent_id, t.payload::jsonb, now(), now(), now()
FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::bigint[], $6::bigint[], $7::bigint[], $8::int[],
            $9::text[], $10::text[], $11::text[], $12::int[])
     AS t(id, queue, attempt, max_attempts, takes, entry_ms, entry_seq, delivery, api_key, parent_id, payload,
          generation)
ORDER BY t.id, t.queue
ON CONFLICT (id, queue) DO UPDATE SET
    status = 'running', attempts = EXCLUDED.attempts, max_attempts = EXCLUDED.max_attempts,
    epoch = j.epoch + EXCLUDED.epoch, generation = EXCLUDED.generation,
    entry_ms = EXCLUDED.entry_ms, entry_seq = EXCLUDED.entry_seq, delivery = EXCLUDED.delivery,
    api_key = COALESCE(EXCLUDED.api_key, j.api_key), parent_id = COALESCE(EXCLUDED.parent_id, j.parent_id),
    payload = CASE WHEN j.payload = '{}'::jsonb THEN EXCLUDED.payload ELSE j.payload END,
    run_at = NULL, started_at = now(), finished_at = NULL, updated_at = now()
WHERE ((j.generation, j.entry_ms, j.entry_seq, j.delivery)
           < (EXCLUDED.generation, EXCLUDED.entry_ms, EXCLUDED.entry_seq, EXCLUDED.delivery)
       AND j.status NOT IN ('succeeded', 'failed', 'dead', 'cancelled', 'cleaned_up'))
   OR (j.generation < EXCLUDED.generation AND j.status IN ('failed', 'dead', 'cleaned_up'))
)sql";

// A start and the outcome of the same delivery (same fence) in one row version. Equivalent to
// starts_sql followed by outcomes_sql for that row:
//  - no row, or a smaller stored fence on a job not final: the start applies (epoch += takes)
//    and so does the outcome -> the row is written with the outcome;
//  - the same stored fence, not final (the start was already written, e.g. by a flush retried
//    after a lost COMMIT): the start is refused, the outcome applies -> written, epoch unchanged;
//  - a larger stored fence, or a final job: both refused (a replayed final outcome with the same
//    fence and status is reported applied by replayed_sql) -- except that a dead or failed job is
//    reopened by a newer generation, as in starts_sql.
constexpr const char* combined_sql = R"sql(
WITH t AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::bigint[], $6::bigint[], $7::bigint[],
                         $8::int[], $9::text[], $10::text[], $11::text[], $12::int[], $13::text[], $14::text[],
                         $15::text[], $16::bigint[])
           AS t(id, queue, attempt, max_attempts, takes, entry_ms, entry_seq, delivery, api_key, parent_id, payload,
                generation, status, error, result, run_at_ms)
), written AS (
    INSERT INTO jobs AS j (id, queue, status, attempts, max_attempts, epoch, generation, entry_ms, entry_seq,
                           delivery, api_key, parent_id, payload, error, result, run_at, created_at, updated_at,
                           started_at, finished_at)
    SELECT t.id, t.queue, t.status, t.attempt, t.max_attempts, t.takes, t.generation, t.entry_ms, t.entry_seq,
           t.delivery, t.api_key, t.parent_id, t.payload::jsonb, t.error, t.result::jsonb,
           to_timestamp(t.run_at_ms / 1000.0), now(), now(), now(),
           CASE WHEN t.status IN ('succeeded', 'failed', 'dead', 'cancelled') THEN now() END
    FROM t ORDER BY t.id, t.queue
    ON CONFLICT (id, queue) DO UPDATE SET
        status = EXCLUDED.status, attempts = EXCLUDED.attempts, max_attempts = EXCLUDED.max_attempts,
        epoch = j.epoch + CASE WHEN (j.generation, j.entry_ms, j.entry_seq, j.delivery)
                                    < (EXCLUDED.generation, EXCLUDED.entry_ms, EXCLUDED.entry_seq, EXCLUDED.delivery)
                               THEN EXCLUDED.epoch ELSE 0 END,
        started_at = CASE WHEN (j.generation, j.entry_ms, j.entry_seq, j.delivery)
                                 < (EXCLUDED.generation, EXCLUDED.entry_ms, EXCLUDED.entry_seq, EXCLUDED.delivery)
                            THEN now() ELSE j.started_at END,
        generation = EXCLUDED.generation,
        entry_ms = EXCLUDED.entry_ms, entry_seq = EXCLUDED.entry_seq, delivery = EXCLUDED.delivery,
        api_key = COALESCE(EXCLUDED.api_key, j.api_key), parent_id = COALESCE(EXCLUDED.parent_id, j.parent_id),
        payload = CASE WHEN j.payload = '{}'::jsonb THEN EXCLUDED.payload ELSE j.payload END,
        error = COALESCE(EXCLUDED.error, j.error), result = COALESCE(EXCLUDED.result, j.result),
        run_at = EXCLUDED.run_at, finished_at = EXCLUDED.finished_at, updated_at = now()
    WHERE ((j.generation, j.entry_ms, j.entry_seq, j.delivery)
               <= (EXCLUDED.generation, EXCLUDED.entry_ms, EXCLUDED.entry_seq, EXCLUDED.delivery)
           AND j.status NOT IN ('succeeded', 'failed', 'dead', 'cancelled', 'cleaned_up'))
       OR (j.generation < EXCLUDED.generation AND j.status IN ('failed', 'dead', 'cleaned_up'))
    RETURNING j.queue || '/' || j.id
)
SELECT * FROM written
)sql";

// Progress: only from the current holder of a running job.
constexpr const char* progress_sql = R"sql(
UPDATE jobs AS j SET progress = t.progress::jsonb, updated_at = now()
FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::int[], $7::text[])
     AS t(id, queue, generation, entry_ms, entry_seq, delivery, progress)
WHERE j.id = t.id AND j.queue = t.queue
  AND (j.generation, j.entry_ms, j.entry_seq, j.delivery) = (t.generation, t.entry_ms, t.entry_seq, t.delivery)
  AND j.status = 'running'
)sql";

// Outcomes, returning the jobs applied:
//  - updated: the stored fence equals the given one and the job is not final yet;
//  - inserted: no row at all (a malformed envelope dead-lettered before any start).
// Both sub-statements see the table as it was before this statement, so a row counts in at most
// one of them. An outcome applied by neither is stale unless replayed_sql finds it already stored.
// The last error is kept when an outcome brings none (a success after retries still shows why the
// earlier attempts failed).
constexpr const char* outcomes_sql = R"sql(
WITH t AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::int[], $6::text[], $7::int[],
                         $8::text[], $9::text[], $10::bigint[], $11::int[])
           AS t(id, queue, entry_ms, entry_seq, delivery, status, attempt, error, result, run_at_ms, generation)
), updated AS (
    UPDATE jobs AS j SET
        status = t.status, attempts = t.attempt, error = COALESCE(t.error, j.error),
        result = COALESCE(t.result::jsonb, j.result), run_at = to_timestamp(t.run_at_ms / 1000.0),
        finished_at = CASE WHEN t.status IN ('succeeded', 'failed', 'dead', 'cancelled') THEN now() END,
        updated_at = now()
    FROM t
    WHERE j.id = t.id AND j.queue = t.queue
      AND (j.generation, j.entry_ms, j.entry_seq, j.delivery) = (t.generation, t.entry_ms, t.entry_seq, t.delivery)
      AND j.status NOT IN ('succeeded', 'failed', 'dead', 'cancelled', 'cleaned_up')
    RETURNING j.queue || '/' || j.id
), inserted AS (
    INSERT INTO jobs (id, queue, status, attempts, max_attempts, epoch, generation, entry_ms, entry_seq, delivery,
                      error, result, run_at, finished_at)
    SELECT t.id, t.queue, t.status, t.attempt, t.attempt, 1, t.generation, t.entry_ms, t.entry_seq, t.delivery,
           t.error, t.result::jsonb, to_timestamp(t.run_at_ms / 1000.0),
           CASE WHEN t.status IN ('succeeded', 'failed', 'dead', 'cancelled') THEN now() END
    FROM t WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = t.id AND j.queue = t.queue)
    ORDER BY t.id, t.queue
    ON CONFLICT (id, queue) DO NOTHING
    RETURNING queue || '/' || id
)
SELECT * FROM updated UNION ALL SELECT * FROM inserted
)sql";

// Outcomes of this flush that combined_sql and outcomes_sql did not apply, checked for a replay:
// the same final outcome already stored under the same fence (a flush rerun after its COMMIT was
// lost in a connection failure) is reported applied, with nothing written. Only those outcomes are
// looked up, and usually there are none: looking every outcome up again inside the writing
// statements cost PostgreSQL an index probe per job on every flush.
constexpr const char* replayed_sql = R"sql(
SELECT j.queue || '/' || j.id
FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::int[], $7::text[])
     AS t(id, queue, generation, entry_ms, entry_seq, delivery, status)
JOIN jobs j ON j.id = t.id AND j.queue = t.queue
WHERE (j.generation, j.entry_ms, j.entry_seq, j.delivery) = (t.generation, t.entry_ms, t.entry_seq, t.delivery)
  AND j.status = t.status AND j.status IN ('succeeded', 'failed', 'dead', 'cancelled')
)sql";

// Every statement of a flush touches `jobs` by id: a batch of keys, each a primary-key lookup. A
// prepared statement may switch to a generic plan after five runs, kept for the connection's life;
// planned while `jobs` looked small (early in a deployment, or after a TRUNCATE) that plan
// hash-joins a sequential scan of the whole table, so every flush would read every row and the
// worker would slow down as the table grows. Within the flush's transaction only keyed nested
// loops are allowed, whatever the statistics say (tests/integration/pg: flushes_never_scan...).
constexpr const char* keyed_lookups_only =
    "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; "
    "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off";

// The statements are prepared once per connection (libpqxx re-prepares them on a new one, and
// preparing the same definition again is a no-op): parsing and planning these CTEs on every flush
// cost PostgreSQL more CPU than many of the rows they write.
template <std::size_t N>
pqxx::result exec_array_params(pqxx::work& tx, const char* sql, const std::array<std::string, N>& params) {
    const std::string name = "wharf_job_state_" + std::to_string(reinterpret_cast<std::uintptr_t>(sql));
    tx.conn().prepare(name, sql);
    return std::apply([&](const auto&... p) { return tx.exec_prepared(name, p...); }, params);
}

// The caller of finished(), resumed on its own executor. Type-erased and move-only: Boost 1.81
// has no any_completion_handler.
class completion {
public:
    completion() = default;
    template <class Handler>
    explicit completion(Handler h) : p_(std::make_unique<holder<Handler>>(std::move(h))) {}

    void operator()(std::exception_ptr error, write_result r) {
        auto p = std::move(p_);
        if (p) p->complete(error, r);
    }

private:
    struct base {
        virtual ~base() = default;
        virtual void complete(std::exception_ptr, write_result) = 0;
    };
    template <class Handler>
    struct holder final : base {
        explicit holder(Handler h)
            : handler(std::move(h)),
              // Keeps the caller's executor alive while the outcome waits for its flush.
              home(asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked)) {}
        void complete(std::exception_ptr error, write_result r) override {
            asio::post(home, [h = std::move(handler), error, r]() mutable { std::move(h)(error, r); });
        }
        Handler handler;
        asio::any_io_executor home;
    };
    std::unique_ptr<base> p_;
};

// How many outcomes may be pending per max_batch before finished() callers wait.
constexpr std::size_t pending_batches_bound = 8;

}  // namespace

struct job_state_writer::impl : std::enable_shared_from_this<impl> {
    impl(asio::any_io_executor ex, pool& db_in, writer_options o)
        : strand(asio::make_strand(ex)),
          db(db_in),
          options(o),
          queue(o.max_batch, o.max_batch * pending_batches_bound),
          wake(strand),
          done_signal(strand) {}

    asio::strand<asio::any_io_executor> strand;
    pool& db;
    writer_options options;
    // Everything below is touched on the strand only.
    detail::batch_queue queue;
    std::unordered_map<std::uint64_t, completion> waiters;
    std::uint64_t next_ticket = 1;
    std::uint64_t dropped_progress = 0;
    // The flush loop sleeps on `wake` (idle, or gathering company for a batch); adding work
    // cancels it when the loop should look again.
    asio::steady_timer wake;
    enum class loop_state { busy, idle, gathering } state = loop_state::busy;
    bool stopping = false, stopped = false;
    asio::steady_timer done_signal;  // cancelled when the loop has stopped (drain() waits on it)

    void poke() {
        if (state == loop_state::idle ||
            (state == loop_state::gathering && (stopping || queue.front_ready(detail::clock::now(), options.max_delay))))
            wake.cancel();
    }

    void add_outcome(job_outcome o, completion done) {
        if (stopped) {
            done(std::make_exception_ptr(unavailable("job state writer is stopped")), write_result::stale);
            return;
        }
        const auto ticket = next_ticket++;
        waiters.emplace(ticket, std::move(done));
        queue.add_outcome(std::move(o), ticket, detail::clock::now());
        poke();
    }

    template <class F>
    static void for_each_outcome(const detail::batch& b, F f) {
        for (const auto& p : b.outcomes) f(p);
        if (b.merged > 0)
            for (const auto& s : b.starts)
                if (s.outcome) f(*s.outcome);
    }

    void complete_batch(const detail::batch& b, const std::unordered_set<std::string>& applied) {
        for_each_outcome(b, [&](const detail::pending_outcome& p) {
            auto it = waiters.find(p.ticket);
            if (it == waiters.end()) return;
            it->second({}, applied.count(detail::job_key(p.outcome.queue, p.outcome.id)) ? write_result::applied
                                                                                          : write_result::stale);
            waiters.erase(it);
        });
    }

    void fail_batch(const detail::batch& b, std::exception_ptr error) {
        for_each_outcome(b, [&](const detail::pending_outcome& p) {
            auto it = waiters.find(p.ticket);
            if (it == waiters.end()) return;
            it->second(error, write_result::stale);
            waiters.erase(it);
        });
    }

    // Writes one batch; retries until it is durable. Only an error that retrying cannot fix
    // (a bug: the statements or the data are wrong) gives the batch up, and then every waiting
    // caller gets that error rather than a silent loss.
    asio::awaitable<void> flush(detail::batch& b) {
        const detail::flush_params params = detail::encode(b);
        const backoff_policy policy{std::chrono::milliseconds{100}, std::chrono::milliseconds{5'000}, 0};
        for (std::uint32_t attempt = 1;; ++attempt) {
            std::string problem;
            try {
                // Named, not a temporary in the co_await: see pool::run.
                // The lambda reads `b` on the pool's thread: a sealed batch is not changed until
                // the flush is over.
                auto write = [&params, &b](pqxx::connection& c) {
                        pqxx::work tx(c);
                        tx.exec0(keyed_lookups_only);
                        if (params.starts) exec_array_params(tx, starts_sql, *params.starts);
                        if (params.progress) exec_array_params(tx, progress_sql, *params.progress);
                        std::unordered_set<std::string> ids;
                        if (params.combined) {
                            const auto r = exec_array_params(tx, combined_sql, *params.combined);
                            for (const auto& row : r) ids.emplace(row[0].c_str());
                        }
                        if (params.outcomes) {
                            const auto r = exec_array_params(tx, outcomes_sql, *params.outcomes);
                            ids.reserve(r.size());
                            for (const auto& row : r) ids.emplace(row[0].c_str());
                        }
                        if (auto check = detail::encode_unapplied(b, ids)) {
                            const auto r = exec_array_params(tx, replayed_sql, *check);
                            for (const auto& row : r) ids.emplace(row[0].c_str());
                        }
                        tx.commit();
                        return ids;
                    };
                // Safe to rerun: starts and outcomes are fenced, a replayed final outcome reports
                // applied, and progress is last-writer-wins.
                auto applied = co_await db.run(std::move(write), true);
                complete_batch(b, applied);
                if (attempt > 1) spdlog::info("job state: flush of {} rows succeeded after {} attempts", b.rows(), attempt);
                co_return;
            } catch (const unavailable& e) {
                problem = e.what();
            } catch (const pqxx::transaction_rollback& e) {
                problem = detail::one_line(e.what());  // deadlock or serialization failure: rerun
            } catch (const pqxx::sql_error& e) {
                // Also rerun what a busy server refused: statement_timeout (57014) and class 53
                // (out of disk, memory or connections).
                const auto& state = e.sqlstate();
                if (!detail::is_retryable_sqlstate(state) && state != "57014" && !state.starts_with("53")) {
                    spdlog::error("job state: flush of {} rows failed and is given up: {}", b.rows(),
                                  detail::one_line(e.what()));
                    fail_batch(b, std::current_exception());
                    co_return;
                }
                problem = detail::one_line(e.what());
            } catch (const std::exception& e) {
                spdlog::error("job state: flush of {} rows failed and is given up: {}", b.rows(), e.what());
                fail_batch(b, std::current_exception());
                co_return;
            }
            const auto delay = policy.delay(attempt, jitter_rng());
            spdlog::warn("job state: flush of {} rows failed (attempt {}), keeping it and retrying in {} ms: {}",
                         b.rows(), attempt, delay.count(), problem);
            asio::steady_timer timer(strand, delay);
            co_await timer.async_wait(asio::use_awaitable);
        }
    }

    asio::awaitable<void> loop() {
        auto self = shared_from_this();  // the loop keeps the state alive until it ends
        for (;;) {
            if (queue.empty()) {
                if (stopping) break;
                state = loop_state::idle;
                wake.expires_at(asio::steady_timer::time_point::max());
                // Cancellation is the wake-up signal, not an error.
                co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
                state = loop_state::busy;
                continue;
            }
            const auto now = detail::clock::now();
            if (!stopping && !queue.front_ready(now, options.max_delay)) {
                state = loop_state::gathering;
                wake.expires_at(queue.front_due(options.max_delay));
                co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
                state = loop_state::busy;
                continue;
            }
            queue.seal_front();
            co_await flush(queue.front());
            queue.pop_front();
        }
        stopped = true;
        done_signal.cancel();
        if (dropped_progress > 0) spdlog::info("job state: {} progress reports were dropped under load", dropped_progress);
    }
};

job_state_writer::job_state_writer(asio::any_io_executor executor, pool& db, writer_options options)
    : impl_(std::make_shared<impl>(std::move(executor), db, options)) {
    asio::co_spawn(impl_->strand, impl_->loop(), [](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            spdlog::critical("job state: flush loop ended: {}", ex.what());
        }
    });
}

job_state_writer::~job_state_writer() {
    // Whatever is pending is still flushed (the loop keeps its state alive), then the loop ends.
    asio::post(impl_->strand, [impl = impl_] {
        impl->stopping = true;
        impl->poke();
    });
}

void job_state_writer::started(job_start s) {
    s.payload_json = redact_payload_urls(s.payload_json);  // a row never keeps a URL's secrets
    if (!detail::is_storable_json(s.payload_json)) {
        spdlog::warn("job state: payload of job {} is not storable JSON; stored as {{}}", detail::sanitize_text(s.id));
        s.payload_json = "{}";
    }
    asio::post(impl_->strand, [impl = impl_, s = std::move(s)]() mutable {
        if (impl->stopped) return;
        impl->queue.add_start(std::move(s), detail::clock::now());
        impl->poke();
    });
}

void job_state_writer::progress(std::string queue, std::string id, pg::fence f, std::string progress_json) {
    if (!detail::is_storable_json(progress_json)) {
        spdlog::warn("job state: progress of job {} is not storable JSON; ignored", detail::sanitize_text(id));
        return;
    }
    asio::post(impl_->strand, [impl = impl_, queue = std::move(queue), id = std::move(id), f,
                               json = std::move(progress_json)]() mutable {
        if (impl->stopped) return;
        if (!impl->queue.add_progress(std::move(queue), std::move(id), f, std::move(json), detail::clock::now()) &&
            impl->dropped_progress++ % 10'000 == 0)
            spdlog::warn("job state: too many pending writes, dropping progress reports");
        impl->poke();
    });
}

// Not a coroutine on purpose: the outcome is moved straight into the initiation, with no
// coroutine frame in between (GCC 12 relocated a by-value parameter captured inside a co_await
// expression bitwise, corrupting its strings).
asio::awaitable<write_result> job_state_writer::finished(job_outcome o) {
    if (o.status == job_status::running) throw std::invalid_argument("finished(): status running is not an outcome");
    if (o.result_json && !detail::is_storable_json(*o.result_json))
        throw std::invalid_argument("finished(): result of job " + detail::sanitize_text(o.id) +
                                    " is not storable JSON");
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr, write_result)>(
        [impl = impl_](auto handler, job_outcome o) {
            asio::post(impl->strand, [impl, o = std::move(o), done = completion(std::move(handler))]() mutable {
                impl->add_outcome(std::move(o), std::move(done));
            });
        },
        asio::use_awaitable, std::move(o));
}

namespace {

// drain()'s wait, on the writer's strand.
template <class Impl>
asio::awaitable<void> wait_stopped(std::shared_ptr<Impl> impl) {
    impl->stopping = true;
    impl->poke();
    while (!impl->stopped) {
        impl->done_signal.expires_at(asio::steady_timer::time_point::max());
        co_await impl->done_signal.async_wait(asio::as_tuple(asio::use_awaitable));
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
            throw boost::system::system_error(asio::error::operation_aborted, "job state drain");
    }
}

}  // namespace

asio::awaitable<void> job_state_writer::drain() {
    // co_spawn forwards our cancellation into the wait, so a caller can bound the drain with a
    // deadline.
    auto wait = wait_stopped(impl_);
    co_await asio::co_spawn(impl_->strand, std::move(wait), asio::use_awaitable);
}

namespace {

constexpr const char* job_row_columns = R"sql(
SELECT id, queue, status, attempts, max_attempts, epoch, error, result::text, progress::text, api_key, parent_id,
       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       to_char(run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       generation, entry_ms, entry_seq, delivery
FROM jobs )sql";

job_row job_row_from(const pqxx::row& row) {
    auto opt = [&](int i) -> std::optional<std::string> {
        if (row[i].is_null()) return std::nullopt;
        return row[i].as<std::string>();
    };
    job_row out;
    out.id = row[0].as<std::string>();
    out.queue = row[1].as<std::string>();
    const auto status = job_status_from_string(row[2].c_str());
    if (!status) throw std::runtime_error("jobs.status holds an unknown value '" + row[2].as<std::string>() + "'");
    out.status = *status;
    out.attempts = row[3].as<std::int32_t>();
    out.max_attempts = row[4].as<std::int32_t>();
    out.epoch = row[5].as<std::int64_t>();
    out.error = opt(6);
    out.result_json = opt(7);
    out.progress_json = opt(8);
    out.api_key = opt(9);
    out.parent_id = opt(10);
    out.created_at = row[11].as<std::string>();
    out.updated_at = row[12].as<std::string>();
    out.started_at = opt(13);
    out.finished_at = opt(14);
    out.run_at = opt(15);
    out.fence = {.entry_ms = row[17].as<std::int64_t>(),
                 .entry_seq = row[18].as<std::int64_t>(),
                 .delivery = row[19].as<std::int32_t>(),
                 .generation = row[16].as<std::int32_t>()};
    return out;
}

}  // namespace

asio::awaitable<std::optional<job_row>> load_job(pool& db, std::string queue, std::string id) {
    auto read = [queue = std::move(queue), id = std::move(id)](pqxx::connection& c) -> std::optional<job_row> {
        pqxx::read_transaction tx(c);
        const auto r = tx.exec_params(std::string{job_row_columns} + "WHERE id = $1 AND queue = $2", id, queue);
        if (r.empty()) return std::nullopt;
        return job_row_from(r[0]);
    };
    co_return co_await db.run(std::move(read));  // named: see pool::run
}

asio::awaitable<std::vector<job_row>> load_jobs(pool& db, std::vector<job_key> keys) {
    auto read = [keys = std::move(keys)](pqxx::connection& c) {
        detail::array_literal ids, queues;
        for (const auto& k : keys) {
            ids.push(std::string_view{k.id});
            queues.push(std::string_view{k.queue});
        }
        pqxx::read_transaction tx(c);
        tx.exec0(keyed_lookups_only);  // see flushes: a primary-key probe per key, whatever the plan cache holds
        std::vector<job_row> out;
        for (const auto& row : tx.exec_params(std::string{job_row_columns} +
                                                  "WHERE (id, queue) IN (SELECT t.id, t.queue FROM "
                                                  "unnest($1::text[], $2::text[]) AS t(id, queue))",
                                              std::move(ids).finish(), std::move(queues).finish()))
            out.push_back(job_row_from(row));
        return out;
    };
    co_return co_await db.run(std::move(read));  // named: see pool::run
}

asio::awaitable<std::vector<job_row>> load_jobs_with_id(pool& db, std::string id) {
    auto read = [id = std::move(id)](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<job_row> out;
        for (const auto& row : tx.exec_params(std::string{job_row_columns} + "WHERE id = $1 ORDER BY queue", id))
            out.push_back(job_row_from(row));
        return out;
    };
    co_return co_await db.run(std::move(read));  // named: see pool::run
}

asio::awaitable<void> record_lost_start(pool& db, job_start start) {
    auto write = [start = std::move(start)](pqxx::connection& c) {
        pqxx::work tx(c);
        // Each earlier attempt took the job once; this attempt, once per delivery.
        const std::int64_t takes = std::int64_t{start.attempt} + std::max(start.fence.delivery, 1) - 1;
        tx.exec_params(R"sql(
UPDATE jobs SET attempts = $3, max_attempts = $4, epoch = $5, generation = $6, entry_ms = $7, entry_seq = $8,
                delivery = $9, started_at = COALESCE(started_at, now()), updated_at = now()
WHERE id = $1 AND queue = $2 AND epoch = 0 AND status IN ('succeeded', 'failed', 'dead', 'cancelled', 'cleaned_up'))sql",
                       detail::sanitize_text(start.id), start.queue, start.attempt, start.max_attempts, takes,
                       start.fence.generation, start.fence.entry_ms, start.fence.entry_seq, start.fence.delivery);
        tx.commit();
    };
    co_await db.run(std::move(write), true);  // named: see pool::run; idempotent (epoch = 0 only)
}

bool insert_enqueued(pqxx::transaction_base& tx, const job_enqueued& job) {
    std::string payload = redact_payload_urls(job.payload_json);  // as started() does
    if (!detail::is_storable_json(payload)) payload = "{}";
    const std::int64_t ms = job.fence ? job.fence->entry_ms : 0, seq = job.fence ? job.fence->entry_seq : 0;
    const std::int32_t generation = job.fence ? job.fence->generation : 0;
    const auto r = tx.exec_params(R"sql(
INSERT INTO jobs (id, queue, status, attempts, max_attempts, epoch, generation, entry_ms, entry_seq, delivery, api_key,
                  parent_id, payload, run_at, created_at, updated_at)
VALUES ($1, $2, 'queued', 0, $3, 0, $10, $4, $5, 0, $6, $7, $8::jsonb, to_timestamp($9::bigint / 1000.0), now(), now())
ON CONFLICT (id, queue) DO NOTHING
RETURNING id)sql",
                                  detail::sanitize_text(job.id), job.queue, job.max_attempts, ms, seq, job.api_key,
                                  job.parent_id, payload, job.run_at_ms, generation);
    return !r.empty();
}

asio::awaitable<bool> record_enqueued(pool& db, job_enqueued job) {
    auto write = [job = std::move(job)](pqxx::connection& c) -> bool {
        pqxx::work tx(c);
        const bool inserted = insert_enqueued(tx, job);
        tx.commit();
        return inserted;
    };
    co_return co_await db.run(std::move(write), true);  // named: see pool::run
}

}  // namespace wharf::pg
