// The job-state writer's sans-io core: which pending change goes into which flush, and how a
// flush's rows are encoded as array parameters. The coroutine in job_state.cpp only moves them.
//
// Rules (each unit-tested in tests/unit/pg/batch_test.cpp):
//  - A job is (queue, id): every map below is keyed by job_key().
//  - A flush is one batch: at most one row per job per kind (starts, progress, outcomes), since
//    one INSERT .. ON CONFLICT or UPDATE .. FROM cannot touch a row twice.
//  - Starts of one job coalesce: the largest fence wins and `takes` counts the starts folded in,
//    so epoch still counts every take-over. Progress coalesces: the latest value wins.
//  - An outcome whose start (same fence) is pending in the open batch rides on that start: one
//    row version instead of two (see combined_sql in job_state.cpp for why that is equivalent).
//  - Order per job is kept: a change that must follow an outcome of the same job already in the
//    open batch (a start, or a second outcome) opens the next batch. Within a batch, starts are
//    written before progress, and progress before outcomes.
//  - A batch holds at most max_batch rows of each kind. The batch being flushed is sealed: later
//    changes go to the next one.
//  - Memory is bounded: at most max_pending outcomes sit in batches; more wait, in order, until
//    a flush makes room (their callers are suspended: backpressure). Progress beyond max_pending
//    pending rows is dropped (it is advisory); starts are never dropped (one per running job).
#pragma once

#include "wharf/pg/job_state.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace wharf::pg::detail {

using clock = std::chrono::steady_clock;

// The key of a job in a batch and in the set of applied outcomes: "<queue>/<id>", both sanitized
// as they are stored (a queue name has no '/', so the first one separates). The SQL statements
// return the same text for the rows they applied (queue || '/' || id).
std::string job_key(std::string_view queue, std::string_view id);

struct pending_outcome {
    job_outcome outcome;
    std::uint64_t ticket = 0;  // the caller waiting for this outcome
};

struct pending_start {
    job_start start;
    std::int32_t takes = 1;  // starts coalesced into this row; added to epoch
    // The outcome of this very delivery, when it arrived while the start was still pending (short
    // jobs): both are written as one row version instead of an insert and an update.
    std::optional<pending_outcome> outcome;
};

struct pending_progress {
    std::string queue;
    std::string id;
    pg::fence fence;
    std::string json;
};

struct batch {
    std::vector<pending_start> starts;
    std::vector<pending_progress> progress;
    std::vector<pending_outcome> outcomes;
    std::unordered_map<std::string, std::size_t> start_index, progress_index;
    std::unordered_set<std::string> outcome_keys;  // regular and merged outcomes
    std::size_t merged = 0;                       // starts carrying their outcome
    clock::time_point opened{};
    bool sealed = false;

    bool empty() const noexcept { return starts.empty() && progress.empty() && outcomes.empty(); }
    std::size_t rows() const noexcept { return starts.size() + progress.size() + outcomes.size(); }
};

class batch_queue {
public:
    batch_queue(std::size_t max_batch, std::size_t max_pending);

    void add_start(job_start s, clock::time_point now);
    // False when dropped because too much is pending.
    bool add_progress(std::string queue, std::string id, pg::fence f, std::string json, clock::time_point now);
    // Always kept: queued in a batch, or waiting for room when max_pending outcomes are pending.
    void add_outcome(job_outcome o, std::uint64_t ticket, clock::time_point now);

    bool empty() const noexcept { return batches_.empty() && waiting_.empty(); }
    std::size_t batches() const noexcept { return batches_.size(); }
    // The next batch to flush (requires !empty(); waiting outcomes are admitted first if needed).
    batch& front();
    // Whether the front batch should be flushed now rather than wait for company: it is full,
    // others queue behind it, or it has waited max_delay. Otherwise front_due() says until when.
    bool front_ready(clock::time_point now, clock::duration max_delay);
    clock::time_point front_due(clock::duration max_delay);
    // The front batch is being flushed: nothing more is added to it.
    void seal_front();
    // The front batch is durable (or given up): drop it and admit waiting outcomes.
    void pop_front();

    std::size_t pending_outcomes() const noexcept { return pending_outcomes_; }
    std::size_t waiting_outcomes() const noexcept { return waiting_.size(); }
    std::size_t progress_rows() const noexcept { return pending_progress_; }
    std::size_t max_batch() const noexcept { return max_batch_; }

private:
    batch& open_batch(clock::time_point now);
    void admit(clock::time_point now);
    void place_outcome(pending_outcome o, clock::time_point now);

    std::size_t max_batch_, max_pending_;
    std::deque<batch> batches_;  // references stay valid on push_back: a sealed front is safe
    std::deque<pending_outcome> waiting_;
    std::size_t pending_outcomes_ = 0, pending_progress_ = 0;
};

// The array parameters of one flush, one text literal per column (see job_state.cpp's SQL).
struct flush_params {
    std::optional<std::array<std::string, 12>> starts;
    std::optional<std::array<std::string, 16>> combined;  // start columns + status, error, result, run_at
    std::optional<std::array<std::string, 7>> progress;
    std::optional<std::array<std::string, 11>> outcomes;
};
flush_params encode(const batch& b);

// The outcomes of `b` (plain and merged) whose job_key() is not in `applied`, as the arrays of
// job_state.cpp's replayed_sql (id, queue, generation, entry_ms, entry_seq, delivery, status);
// none when every outcome was applied, the usual case.
std::optional<std::array<std::string, 7>> encode_unapplied(const batch& b, const std::unordered_set<std::string>& applied);

}  // namespace wharf::pg::detail
