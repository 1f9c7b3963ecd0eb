// Where one delivery becomes one job run: decode, duplicate check, the handler in its own
// coroutine under a timeout, then the outcome -- written to PostgreSQL first, acknowledged in
// Redis second, so a crash in between re-delivers the job instead of losing it.
#include "runtime_impl.hpp"

#include "wharf/core/json.hpp"
#include "wharf/worker/read_ahead.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>

#include <map>

namespace wharf::worker {

namespace asio = boost::asio;
using detail::attempt_end;
using detail::job_run;
using detail::queue_state;

namespace {
// Acks per script call: big enough to amortise the round trip, small enough to keep Redis
// responsive (one script call blocks the server while it runs).
constexpr std::size_t ack_batch_max = 256;

// The next delivery of a job (retry, delay, hand-back) keeps its id and its duplicate-detection
// token, so it is recognised as the same run and not as a duplicate.
queue::envelope next_envelope(const job_run& j, std::int32_t attempt) {
    queue::envelope next = j.envelope;
    next.attempt = attempt;
    next.id = j.job_id;
    next.token = j.envelope.token.value_or(j.delivery.entry_id);
    return next;
}

// The jobs row a decoded delivery starts with.
pg::job_start start_of(const job_run& j) {
    const auto& e = j.envelope;
    return {.id = j.job_id,
            .queue = j.queue.name,
            .fence = j.fence,
            .attempt = e.attempt,
            .max_attempts = j.max_attempts,
            .api_key = e.api_key,
            .parent_id = e.parent_id,
            .payload_json = e.payload_json};
}

// An attempt's end in the metrics, once its outcome is durable.
void record_attempt(queue_state& q, outcome_decision::action what, bool completes_later, double run_seconds) {
    using action = outcome_decision::action;
    using outcome = detail::queue_metrics::outcome;
    outcome o = outcome::succeeded;
    switch (what) {
        case action::succeed:
            o = completes_later ? outcome::waiting : outcome::succeeded;
            q.metrics.finished(o).inc();
            break;
        case action::cancel:
            o = outcome::cancelled;
            q.metrics.finished(o).inc();
            break;
        case action::retry:
            o = outcome::retried;
            q.metrics.retries.inc();
            break;
        case action::hand_back:
            o = outcome::handed_back;
            q.metrics.handed_back.inc();
            break;
        case action::dead:
            o = outcome::dead;
            q.metrics.finished(o).inc();
            q.metrics.dead_letters.inc();
            break;
        case action::drop:
            return;
    }
    // Only attempts that ran their handler have a run time.
    if (run_seconds >= 0) q.metrics.duration(o).observe(run_seconds);
}

}  // namespace

std::shared_ptr<job_run> runtime::impl::dispatch(queue_state& q, queue::delivery d) {
    // A take-over of our own entry (a renewal failed while Redis was away): we run it already.
    if (q.tracked.contains(d.entry_id)) return nullptr;
    auto j = std::make_shared<job_run>(q, std::move(d), strand);
    q.tracked.emplace(j->delivery.entry_id, j);
    ++q.held;
    auto& slot_owner = *j;
    asio::co_spawn(strand, run_job(j),
                   asio::bind_cancellation_slot(slot_owner.cancel.slot(), [](std::exception_ptr e) {
                       // run_job contains handler failures itself; anything here is a runtime bug.
                       if (!e) return;
                       try {
                           std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                           spdlog::error("job coroutine failed: {}", redact(ex.what()));
                       }
                   }));
    return j;
}

// Waits (parked on the job's own timer, which the handler's timeout uses only later) until a
// slot is handed over by release_slot(), or the job is stopped meanwhile (shutdown, lease lost).
asio::awaitable<void> runtime::impl::acquire_slot(std::shared_ptr<job_run> j) {
    auto& q = j->queue;
    if (q.executing < q.concurrency && q.slot_queue.empty()) {
        j->holds_slot = true;
        ++q.executing;
        q.metrics.busy_slots.set(static_cast<double>(q.executing));
        co_return;
    }
    if (stopping) {  // shutting down: a job that would have to wait is handed back instead
        j->stopped = run_end::handed_back;
        co_return;
    }
    q.slot_queue.push_back(j);
    j->waiting_for_slot = true;
    while (!j->holds_slot && !j->stopped) {
        j->timer.expires_at(std::chrono::steady_clock::time_point::max());
        co_await j->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    j->waiting_for_slot = false;
    if (!j->holds_slot) std::erase(q.slot_queue, j);
}

// The job's handler phase is over (or it ended without one): its place in `held`, and its slot,
// go to the next job.
void runtime::impl::release_slot(job_run& j) {
    auto& q = j.queue;
    if (j.in_hand) {
        j.in_hand = false;
        --q.held;
        q.slot_freed.cancel();  // the reader may take more
    }
    if (j.holds_slot) {
        j.holds_slot = false;
        --q.executing;
        while (q.executing < q.concurrency && !q.slot_queue.empty()) {
            auto next = std::move(q.slot_queue.front());
            q.slot_queue.pop_front();
            next->holds_slot = true;
            ++q.executing;
            next->timer.cancel();
        }
        q.metrics.busy_slots.set(static_cast<double>(q.executing));
    }
    if (stopping) wake();
}

void runtime::impl::untrack(job_run& j) {
    release_slot(j);
    auto& q = j.queue;
    if (auto it = q.tracked.find(j.delivery.entry_id); it != q.tracked.end() && it->second.get() == &j) {
        q.tracked.erase(it);  // may drop the last reference to j: touch nothing after this
        q.slot_freed.cancel();
        if (stopping) wake();
    }
}

void runtime::impl::stop_job(job_run& j, run_end why) {
    if (!j.stopped) j.stopped = why;
    // Cancel only the handler: the runtime's own Redis/PostgreSQL calls around it must finish.
    if (j.handler_running) j.cancel.emit(asio::cancellation_type::terminal);
    if (j.waiting_for_slot) j.timer.cancel();  // it never starts: handed back or dropped
}

asio::awaitable<std::optional<pg::write_result>> runtime::impl::finish_durably(pg::job_outcome o) {
    asio::steady_timer timer{strand};
    for (std::uint32_t attempt = 1;; ++attempt) {
        std::string failure;
        try {
            co_return co_await writer.finished(o);
        } catch (const std::exception& e) {
            failure = e.what();
        }
        // Not acknowledged: the entry stays pending and another worker re-runs the job later.
        if (abandon) co_return std::nullopt;
        if (attempt == 1)
            spdlog::warn("recording the outcome of job {} failed: {}; retrying with backoff", o.id, redact(failure));
        co_await sleep(timer, reconnect_policy.delay(attempt, jitter_rng()));
    }
}

void runtime::impl::push_ack(job_run& j, std::string outcome) {
    auto& q = j.queue;
    q.acks.push_back({j.delivery.entry_id, j.envelope.id, std::move(outcome)});
    if (q.ack_flushing) return;  // the running flush picks it up: batching comes for free
    q.ack_flushing = true;
    asio::co_spawn(strand, flush_acks(q), [](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            spdlog::error("acknowledging jobs failed: {}", redact(ex.what()));
        }
    });
}

asio::awaitable<void> runtime::impl::flush_acks(queue_state& q) {
    auto self = shared_from_this();
    asio::steady_timer timer{strand};
    std::uint32_t failures = 0;
    while (!q.acks.empty()) {
        std::vector<queue::operations::ack_item> batch;
        if (q.acks.size() <= ack_batch_max) {
            batch.swap(q.acks);
        } else {
            batch.assign(std::make_move_iterator(q.acks.begin()),
                         std::make_move_iterator(q.acks.begin() + ack_batch_max));
            q.acks.erase(q.acks.begin(), q.acks.begin() + ack_batch_max);
        }
        std::string failure;
        try {
            co_await q.ops.ack(batch);
        } catch (const redis::error& e) {
            if (detail::closed(e)) {
                q.ack_flushing = false;
                throw;
            }
            failure = e.what();
        } catch (const std::exception& e) {
            failure = e.what();
        }
        if (failure.empty()) {
            if (failures > 0) spdlog::info("acknowledgements of {} go through again", q.name);
            failures = 0;
            for (const auto& a : batch) {
                if (auto it = q.tracked.find(a.entry_id); it != q.tracked.end()) untrack(*it->second);
            }
            continue;
        }
        // Keep them (in order, in front) and try again: a job finished while Redis was down is
        // acknowledged once it is back. Its entry keeps being renewed meanwhile.
        q.acks.insert(q.acks.begin(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
        if (abandon) break;
        if (++failures == 1)
            spdlog::warn("acknowledging {} jobs of {} failed: {}; retrying with backoff", q.acks.size(), q.name,
                         redact(failure));
        co_await sleep(timer, reconnect_policy.delay(failures, jitter_rng()));
    }
    q.ack_flushing = false;
}

// The job's row when an earlier run of this generation (or a newer one) already finished it, else
// nothing: a dead retry's run (a newer generation) is not finished by the dead row it reopens.
asio::awaitable<std::optional<pg::job_row>> runtime::impl::final_row(const job_run& j) {
    try {
        auto row = co_await read_row(j.queue.name, j.job_id);
        if (row && pg::is_final(row->status) && row->fence.generation >= j.fence.generation) co_return row;
    } catch (const std::exception& e) {
        // Unknown: run it (at-least-once); the fenced writer still keeps the final state single.
        spdlog::warn("reading the state of job {} of {} failed: {}", j.job_id, j.queue.name, redact(e.what()));
    }
    co_return std::nullopt;
}

asio::awaitable<std::optional<pg::job_row>> runtime::impl::read_row(const std::string& queue, const std::string& id) {
    auto r = std::make_shared<row_read>(strand);
    r->key = {queue, id};
    row_reads.push_back(r);
    if (!row_reads_flushing) {
        row_reads_flushing = true;
        asio::co_spawn(strand, flush_row_reads(), [](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                spdlog::error("reading job rows failed: {}", redact(ex.what()));
            }
        });
    }
    while (!r->done) {
        r->wake.expires_at(std::chrono::steady_clock::time_point::max());
        co_await r->wake.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (r->error) std::rethrow_exception(r->error);
    co_return std::move(r->row);
}

asio::awaitable<void> runtime::impl::flush_row_reads() {
    auto self = shared_from_this();
    constexpr std::size_t most = 1'000;  // keys per statement
    while (!row_reads.empty()) {
        std::vector<std::shared_ptr<row_read>> batch;
        if (row_reads.size() <= most) {
            batch.swap(row_reads);
        } else {
            batch.assign(row_reads.begin(), row_reads.begin() + most);
            row_reads.erase(row_reads.begin(), row_reads.begin() + most);
        }
        std::vector<pg::job_key> keys;
        keys.reserve(batch.size());
        for (const auto& r : batch) keys.push_back(r->key);
        std::vector<pg::job_row> rows;
        std::exception_ptr error;
        try {
            auto load = pg::load_jobs(db, std::move(keys));  // named: see pg::pool::run
            rows = co_await std::move(load);
        } catch (...) {
            error = std::current_exception();
        }
        std::map<std::pair<std::string, std::string>, pg::job_row*> found;
        for (auto& row : rows) found[{row.queue, row.id}] = &row;
        for (const auto& r : batch) {
            if (const auto it = found.find({r->key.queue, r->key.id}); it != found.end()) r->row = *it->second;
            r->error = error;
            r->done = true;
            r->wake.cancel();
        }
    }
    row_reads_flushing = false;
}

// A delivery of a job that an earlier run already finished leaves the stream the way that run
// left it. That run's own hand-over to Redis may have been lost (Redis came back from an AOF that
// did not have it yet, or the worker died after the row was written): a job that went dead with
// this very entry is dead-lettered now -- once, since the script adds the dead letter only while
// the entry is still in the stream. Anything else (a success, or another entry of the same job)
// is acknowledged.
asio::awaitable<void> runtime::impl::settle_finished(std::shared_ptr<job_run> j, const pg::job_row& row,
                                                    std::string outcome) {
    auto& q = j->queue;
    const auto& d = j->delivery;
    release_slot(*j);
    if (row.epoch == 0) {
        try {
            auto start = start_of(*j);  // named: see pg::pool::run on GCC 12 and temporaries
            auto record = pg::record_lost_start(db, std::move(start));
            co_await std::move(record);
        } catch (const std::exception& e) {
            spdlog::warn("recording the lost start of job {} of {} failed: {}", j->job_id, q.name, redact(e.what()));
        }
    }
    // The parent may not have heard of it: the run that finished it may have died in between.
    if (!co_await notify_parent(*j, row.parent_id, row.status, row.result_json, row.error)) {
        untrack(*j);
        co_return;
    }
    const bool this_entry = row.fence.generation == j->fence.generation && row.fence.entry_ms == d.entry_ms &&
                            row.fence.entry_seq == d.entry_seq;
    if (row.status != pg::job_status::dead || !this_entry) {
        spdlog::info("job {} of {}: already {} by an earlier run; acknowledging entry {}", j->job_id, q.name,
                     pg::to_string(row.status), d.entry_id);
        push_ack(*j, std::move(outcome));  // untracked once the batched ack went through
        co_return;
    }
    spdlog::info("job {} of {}: already dead; making sure entry {} is dead-lettered", j->job_id, q.name, d.entry_id);
    const std::string reason = row.error.value_or("dead");
    co_await with_redis_retry(
        "dead-lettering a job", [&]() { return q.ops.dead_letter(d, j->job_id, reason, row.attempts); },
        [this] { return abandon; });
    untrack(*j);
}

asio::awaitable<void> runtime::impl::dead_letter_now(std::shared_ptr<job_run> j, std::string reason) {
    auto& q = j->queue;
    const auto& d = j->delivery;
    if (j->job_id.empty()) j->job_id = d.entry_id;
    spdlog::warn("job {} of {} dead-lettered: {}", j->job_id, q.name, reason);
    pg::job_outcome o{.id = j->job_id,
                      .queue = q.name,
                      .fence = j->fence,
                      .status = pg::job_status::dead,
                      .attempt = j->envelope.attempt,
                      .error = reason};
    const auto written = co_await finish_durably(std::move(o));
    if (written && *written == pg::write_result::stale) {
        // An earlier run finished the job (settle as it did), or a newer owner holds it.
        if (const auto row = co_await final_row(*j)) co_return co_await settle_finished(j, *row);
    }
    if (written && *written == pg::write_result::applied &&
        co_await notify_parent(*j, j->envelope.parent_id, pg::job_status::dead, std::nullopt, reason)) {
        co_await with_redis_retry(
            "dead-lettering a job",
            [&]() { return q.ops.dead_letter(d, j->job_id, reason, j->envelope.attempt); },
            [this] { return abandon; });
        q.metrics.dead_letters.inc();
        q.metrics.finished(detail::queue_metrics::outcome::dead).inc();
    }
    untrack(*j);
}

asio::awaitable<bool> runtime::impl::notify_parent(const job_run& j, const std::optional<std::string>& parent_id,
                                                   pg::job_status status, std::optional<std::string> result_json,
                                                   std::optional<std::string> error) {
    if (!parent_id || !options.on_child_finished || !pg::is_final(status)) co_return true;
    const child_finished event{.queue = j.queue.name,
                               .id = j.job_id,
                               .parent_id = *parent_id,
                               .status = std::string{pg::to_string(status)},
                               .result_json = std::move(result_json),
                               .error = std::move(error)};
    asio::steady_timer timer{strand};
    for (std::uint32_t attempt = 1;; ++attempt) {
        std::string failure;
        try {
            auto told = options.on_child_finished(event);
            co_await std::move(told);
            co_return true;
        } catch (const std::exception& e) {
            failure = e.what();
        }
        if (abandon) co_return false;
        if (attempt == 1)
            spdlog::warn("job {} of {}: telling its parent {} that it is {} failed: {}; retrying with backoff",
                         j.job_id, j.queue.name, *parent_id, event.status, redact(failure));
        co_await sleep(timer, reconnect_policy.delay(attempt, jitter_rng()));
    }
}

// A job a cancel was asked for before it started: recorded cancelled (its start first, so the
// outcome follows a start of this very delivery) and acknowledged, never run.
asio::awaitable<void> runtime::impl::cancel_before_start(std::shared_ptr<job_run> j) {
    auto& q = j->queue;
    spdlog::info("job {} of {}: cancel asked for before it started; not running it", j->job_id, q.name);
    release_slot(*j);
    writer.started(start_of(*j));
    pg::job_outcome o{.id = j->job_id,
                      .queue = q.name,
                      .fence = j->fence,
                      .status = pg::job_status::cancelled,
                      .attempt = j->envelope.attempt,
                      .error = "cancelled before it started"};
    const auto written = co_await finish_durably(std::move(o));
    if (!written) {
        untrack(*j);
        co_return;
    }
    if (*written == pg::write_result::stale) {
        if (const auto row = co_await final_row(*j)) co_return co_await settle_finished(j, *row);
        untrack(*j);  // a newer owner holds it; that worker sees the cancel too
        co_return;
    }
    if (!co_await notify_parent(*j, j->envelope.parent_id, pg::job_status::cancelled, std::nullopt,
                                std::string{"cancelled before it started"})) {
        untrack(*j);
        co_return;
    }
    q.metrics.finished(detail::queue_metrics::outcome::cancelled).inc();
    push_ack(*j, "cancelled");
}


// One delivery, in three steps. Whatever any of them throws ends the attempt with a reason
// (retried within max_attempts, like a handler's failure): an exception must never leave a job
// unfinished with its slot, its place in `held` and its entry's lease kept for ever.
asio::awaitable<void> runtime::impl::run_job(std::shared_ptr<job_run> j) {
    auto self = shared_from_this();
    attempt_end ended;
    try {
        if (!co_await prepare_run(j)) co_return;
        ended = co_await execute(j);
    } catch (const std::exception& ex) {
        ended = {.end = run_end::failed_retryable, .error = std::string{"internal error: "} + ex.what()};
    } catch (...) {
        ended = {.end = run_end::failed_retryable, .error = "internal error: unknown exception"};
    }
    try {
        if (j->job_id.empty()) {
            // It failed before the envelope was decoded: nothing to retry, keep it for a human.
            co_await dead_letter_now(j, ended.error);
        } else {
            co_await finish_attempt(j, std::move(ended));
        }
    } catch (const std::exception& ex) {
        // The outcome could not be written: the entry stays pending, and once its lease runs out
        // it is taken over (and counted as a death, so this cannot loop for ever).
        spdlog::error("job {} of {}: ending the attempt failed: {}", j->job_id, j->queue.name, redact(ex.what()));
        untrack(*j);
    }
}

// Decode and the checks before a run. False: the delivery was handled here (dead-lettered,
// acknowledged, delayed, or left to the other run of the same id).
asio::awaitable<bool> runtime::impl::prepare_run(std::shared_ptr<job_run> j) {
    auto& q = j->queue;
    const auto& d = j->delivery;
    const auto give_up = [this] { return abandon; };
    j->fence = pg::fence{d.entry_ms, d.entry_seq, d.delivery_count};

    // ---- an entry whose workers keep dying is not even decoded any more: if the decoder itself
    // is what kills them, this is the rule that ends the crash loop. Its bound lies above the
    // decoded rule's for any envelope (max_attempts is at most 100): an entry that decodes is
    // always dead-lettered by that rule first, under its own job id, with its row -- this one
    // knows only the entry id, and catching a decodable job here would orphan its row.
    constexpr std::int32_t undecoded_bound = 100 + 3;
    if (auto reason = died_too_often_reason(d.delivery_count, undecoded_bound); !reason.empty()) {
        co_await dead_letter_now(j, reason);
        co_return false;
    }

    // ---- decode: a malformed envelope is dead-lettered at once, the worker keeps going
    auto decoded = queue::decode(d.job_text, q.name);
    if (auto* bad = std::get_if<queue::decode_error>(&decoded)) {
        co_await dead_letter_now(j, "malformed envelope: " + bad->reason);
        co_return false;
    }
    j->envelope = std::move(std::get<queue::envelope>(decoded));
    auto& e = j->envelope;
    j->job_id = e.id.value_or(d.entry_id);
    j->fence.generation = e.generation;
    j->max_attempts = e.max_attempts.value_or(q.type.max_attempts);
    j->timeout = e.timeout_s ? std::chrono::milliseconds(std::chrono::seconds(*e.timeout_s)) : q.type.timeout;

    // ---- a job whose workers keep dying is not run again
    if (auto reason = died_too_often_reason(d.delivery_count, j->max_attempts); !reason.empty()) {
        writer.started(start_of(*j));
        co_await dead_letter_now(j, reason);
        co_return false;
    }

    // ---- a delivery that may repeat a run that already ended: a take-over (that worker died
    // between its outcome and the ack), an envelope wharf re-enqueued (a retry, a delayed job, a
    // dead retry, a reconciliation: Redis may have lost the ack of the run it repeats), or an
    // entry older than the Redis server incarnation (a restart from an older AOF brings back
    // entries whose jobs ended since; see pg::redis_data_since). Acknowledge it instead of
    // running it again. Only these pay for the read; a first delivery of a fresh entry does not.
    const bool may_have_ended = d.delivery_count > 1 || e.token || d.entry_ms <= data_since_ms;
    if (may_have_ended) {
        if (const auto row = co_await final_row(*j)) {
            co_await settle_finished(j, *row);
            co_return false;
        }
    }

    // ---- run_at ahead (a producer's direct XADD): park it in the delayed set, do not run it
    if (e.run_at && *e.run_at > std::chrono::system_clock::now()) {
        const auto next = next_envelope(*j, e.attempt);
        co_await with_redis_retry(
            "delaying a job", [&]() { return q.ops.retry_later(d, next, *e.run_at); }, give_up);
        untrack(*j);
        co_return false;
    }

    // ---- a cancel asked for a job without a producer id (claim_id below checks the others)
    if (!e.id && q.cancel_pending) {
        bool asked = false;
        const bool ok = co_await with_redis_retry(
            "checking a job for a cancel",
            [&]() -> asio::awaitable<void> {
                std::vector<std::string> ids{j->job_id};
                auto look = q.ops.cancels_asked(std::move(ids));
                const auto seen = co_await std::move(look);
                asked = !seen.asked.empty();
            },
            give_up);
        if (!ok) {
            untrack(*j);
            co_return false;
        }
        if (asked) {
            co_await cancel_before_start(j);
            co_return false;
        }
    }

    // ---- duplicate detection for producer ids
    if (e.id) {
        auto claim = queue::operations::claim_result::run;
        const bool ok = co_await with_redis_retry(
            "checking a job id",
            [&]() -> asio::awaitable<void> { claim = co_await q.ops.claim_id(d, e, options.duplicate_wait); }, give_up);
        if (!ok) {
            untrack(*j);
            co_return false;
        }
        if (claim == queue::operations::claim_result::run_new && !may_have_ended) {
            // Redis keeps finished ids for finished_id_ttl; PostgreSQL as long as the rows.
            if (const auto row = co_await final_row(*j)) {
                spdlog::info("job {} of {}: duplicate of a job that already ended ({} in PostgreSQL); acknowledged without "
                             "running (entry {})",
                             j->job_id, q.name, pg::to_string(row->status), d.entry_id);
                co_await settle_finished(j, *row, "duplicates");
                co_return false;
            }
        }
        if (claim == queue::operations::claim_result::duplicate_done) {
            spdlog::info("job {} of {}: duplicate of a finished job, acknowledged without running (entry {})",
                         j->job_id, q.name, d.entry_id);
            untrack(*j);
            co_return false;
        }
        if (claim == queue::operations::claim_result::cancelled) {
            co_await cancel_before_start(j);
            co_return false;
        }
        if (claim == queue::operations::claim_result::wait) {
            spdlog::debug("job {} of {}: the same id is pending or running; waiting", j->job_id, q.name);
            untrack(*j);
            co_return false;
        }
    }
    co_return true;
}

// The run itself, once a slot is free: the handler in its own cancellable coroutine tree under
// the job's timeout. Every failure of the handler becomes the attempt's end, never an exception.
asio::awaitable<attempt_end> runtime::impl::execute(std::shared_ptr<job_run> j) {
    auto self = shared_from_this();
    auto& q = j->queue;
    const auto& d = j->delivery;
    const auto& e = j->envelope;
    if (!j->stopped && !j->holds_slot) co_await acquire_slot(j);
    attempt_end out;
    if (j->stopped) {
        out.end = *j->stopped;  // lost or handed back before it started
        co_return out;
    }
    writer.started(start_of(*j));
    q.metrics.started.inc();
    if (d.entry_ms > 0) {  // the entry's time in its id: when it was enqueued, or became due
        const std::chrono::system_clock::time_point in_stream{std::chrono::milliseconds(d.entry_ms)};
        q.metrics.wait.observe(
            std::max(0.0, std::chrono::duration<double>(std::chrono::system_clock::now() - in_stream).count()));
    }
    j->context.id = j->job_id;
    j->context.queue = q.name;
    j->context.attempt = e.attempt;
    j->context.max_attempts = j->max_attempts;
    j->context.delivery = d.delivery_count;
    j->context.api_key = e.api_key;
    j->context.executor = strand;
    j->context.report_progress = [w = std::weak_ptr<job_run>(j), self](nlohmann::json progress) {
        if (auto jr = w.lock()) self->writer.progress(jr->queue.name, jr->job_id, jr->fence, dump_json(progress));
    };
    {
        auto payload = parse_json(e.payload_json,
                                  {.max_bytes = queue::max_envelope_bytes, .max_depth = queue::max_envelope_depth});
        if (!payload) {  // the decoder checked it; kept so that a bug here fails one job, not the worker
            out.end = run_end::failed_permanent;
            out.error = "payload is not JSON: " + payload.error;
            co_return out;
        }
        j->context.payload = std::move(payload.value);
    }
    j->timer.expires_after(j->timeout);
    j->timer.async_wait([w = std::weak_ptr<job_run>(j), self](boost::system::error_code ec) {
        if (ec) return;  // cancelled: the handler ended first
        if (auto jr = w.lock()) {
            spdlog::warn("job {} of {} timed out after {}: cancelling it", jr->job_id, jr->queue.name,
                         format_duration(jr->timeout));
            self->stop_job(*jr, run_end::timed_out);
        }
    });
    j->handler_running = true;
    const auto began = std::chrono::steady_clock::now();
    try {
        out.result = co_await q.type.handler(j->context);
    } catch (const permanent_error& ex) {
        out.end = run_end::failed_permanent;
        out.error = ex.what();
    } catch (const std::exception& ex) {
        out.end = run_end::failed_retryable;
        out.error = ex.what();
    } catch (...) {
        out.end = run_end::failed_retryable;
        out.error = "unknown exception";
    }
    j->handler_running = false;
    j->timer.cancel();
    const double took_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - began).count();
    out.run_seconds = took_us / 1e6;
    q.mean_run_us = next_mean_run_us(q.mean_run_us, q.runs, took_us);
    ++q.runs;
    // The handler's cancellation must not leak into our own writes below.
    co_await asio::this_coro::reset_cancellation_state();
    // A stop that the handler ignored and finished anyway: its result stands, unless the job now
    // belongs to another worker.
    if (j->stopped && (out.end != run_end::succeeded || *j->stopped == run_end::lease_lost)) out.end = *j->stopped;
    co_return out;
}

// The outcome: PostgreSQL first, then Redis.
asio::awaitable<void> runtime::impl::finish_attempt(std::shared_ptr<job_run> j, attempt_end ended) {
    auto self = shared_from_this();
    auto& q = j->queue;
    const auto& d = j->delivery;
    const auto& e = j->envelope;
    const auto give_up = [this] { return abandon; };
    j->handler_running = false;  // an exception may have left it set: nothing to cancel any more
    release_slot(*j);

    const backoff_policy retry_policy{q.type.retry_base, q.type.retry_cap, 0};
    auto decision =
        decide_outcome(ended.end, ended.error, e.attempt, j->max_attempts, retry_policy, j->timeout, jitter_rng());
    using action = outcome_decision::action;
    pg::job_outcome o{.id = j->job_id, .queue = q.name, .fence = j->fence, .attempt = e.attempt};
    auto due = std::chrono::system_clock::now();
    switch (decision.what) {
        case action::drop:
            spdlog::info("job {} of {}: taken over by another worker; dropping this run", j->job_id, q.name);
            untrack(*j);
            co_return;
        case action::succeed:
            o.status = q.type.completes_later ? pg::job_status::waiting : pg::job_status::succeeded;
            o.result_json = dump_json(ended.result);
            break;
        case action::cancel:
            o.status = pg::job_status::cancelled;
            o.error = decision.message;
            // Cancelled before it started: its start was never written, and the outcome must
            // follow a start of this very delivery (a no-op when the start is already there).
            writer.started(start_of(*j));
            break;
        case action::retry:
            due += decision.delay;
            [[fallthrough]];
        case action::hand_back:
            o.status = pg::job_status::queued;
            o.error = decision.message;
            o.run_at = due;
            break;
        case action::dead:
            o.status = pg::job_status::dead;
            o.error = decision.message;
            break;
    }
    if (decision.what == action::retry) spdlog::info("job {} of {}: {}", j->job_id, q.name, decision.message);
    if (decision.what == action::dead)
        spdlog::warn("job {} of {} dead-lettered: {}", j->job_id, q.name, decision.message);

    const std::optional<std::string> result_json = o.result_json, error = o.error;
    const auto status = o.status;
    const auto written = co_await finish_durably(std::move(o));
    if (!written) {
        untrack(*j);  // shutting down with PostgreSQL away: the entry stays pending, re-run later
        co_return;
    }
    if (*written == pg::write_result::stale) {
        // Refused: either a newer owner holds the job (its entry is not ours to remove), or an
        // earlier run already finished it and lost its ack (then nobody else will remove it).
        if (const auto row = co_await final_row(*j)) co_return co_await settle_finished(j, *row);
        spdlog::info("job {} of {}: outcome refused (a newer owner holds it)", j->job_id, q.name);
        untrack(*j);
        co_return;
    }
    if (pg::is_final(status) && !co_await notify_parent(*j, e.parent_id, status, result_json, error)) {
        untrack(*j);  // given up at shutdown: the entry stays pending and comes back to settle
        co_return;
    }
    record_attempt(q, decision.what, q.type.completes_later, ended.run_seconds);
    switch (decision.what) {
        case action::succeed:
            push_ack(*j, q.type.completes_later ? "waiting" : "succeeded");  // untracked once acked
            co_return;
        case action::cancel:
            push_ack(*j, "cancelled");
            co_return;
        case action::retry:
        case action::hand_back: {
            const auto next = next_envelope(*j, decision.what == action::retry ? e.attempt + 1 : e.attempt);
            co_await with_redis_retry(
                "re-queueing a job", [&]() { return q.ops.retry_later(d, next, due); }, give_up);
            break;
        }
        case action::dead:
            co_await with_redis_retry(
                "dead-lettering a job", [&]() { return q.ops.dead_letter(d, j->job_id, decision.message, e.attempt); },
                give_up);
            break;
        case action::drop:
            break;
    }
    untrack(*j);
}

}  // namespace wharf::worker
