// The job-state writer's batching rules and row encoding (sans-io).
#include "wharf/pg/detail/batch.hpp"

#include "wharf/pg/detail/text.hpp"

#include <algorithm>
#include <numeric>
#include <tuple>

namespace wharf::pg::detail {

std::string job_key(std::string_view queue, std::string_view id) {
    std::string key = sanitize_text(queue);
    key.push_back('/');
    key += sanitize_text(id);
    return key;
}

batch_queue::batch_queue(std::size_t max_batch, std::size_t max_pending)
    : max_batch_(max_batch == 0 ? 1 : max_batch), max_pending_(std::max(max_pending, max_batch_)) {}

batch& batch_queue::open_batch(clock::time_point now) {
    batch& b = batches_.emplace_back();
    b.opened = now;
    return b;
}

void batch_queue::add_start(job_start s, clock::time_point now) {
    batch* b = batches_.empty() ? nullptr : &batches_.back();
    std::string key = job_key(s.queue, s.id);
    const bool usable = b && !b->sealed && !b->outcome_keys.count(key);
    if (usable) {
        if (auto it = b->start_index.find(key); it != b->start_index.end()) {
            pending_start& p = b->starts[it->second];
            // A start with a fence no larger than the one pending is a duplicate or out of date:
            // the database would refuse it too.
            if (p.start.fence < s.fence) {
                p.start = std::move(s);
                ++p.takes;
            }
            return;
        }
    }
    if (!usable || b->starts.size() >= max_batch_) b = &open_batch(now);
    b->start_index.emplace(std::move(key), b->starts.size());
    b->starts.push_back({std::move(s), 1});
}

bool batch_queue::add_progress(std::string queue, std::string id, pg::fence f, std::string json,
                               clock::time_point now) {
    batch* b = batches_.empty() || batches_.back().sealed ? nullptr : &batches_.back();
    std::string key = job_key(queue, id);
    if (b) {
        if (auto it = b->progress_index.find(key); it != b->progress_index.end()) {
            pending_progress& p = b->progress[it->second];
            if (f < p.fence) return true;  // an older owner's report: the newer one stands
            p.fence = f;
            p.json = std::move(json);
            return true;
        }
    }
    if (pending_progress_ >= max_pending_) return false;
    if (!b || b->progress.size() >= max_batch_) b = &open_batch(now);
    b->progress_index.emplace(std::move(key), b->progress.size());
    b->progress.push_back({std::move(queue), std::move(id), f, std::move(json)});
    ++pending_progress_;
    return true;
}

void batch_queue::add_outcome(job_outcome o, std::uint64_t ticket, clock::time_point now) {
    if (!waiting_.empty() || pending_outcomes_ >= max_pending_) {
        waiting_.push_back({std::move(o), ticket});
        return;
    }
    place_outcome({std::move(o), ticket}, now);
}

void batch_queue::place_outcome(pending_outcome o, clock::time_point now) {
    batch* b = batches_.empty() ? nullptr : &batches_.back();
    std::string key = job_key(o.outcome.queue, o.outcome.id);
    if (!b || b->sealed || b->outcomes.size() >= max_batch_ || b->outcome_keys.count(key)) {
        b = &open_batch(now);
    } else if (auto it = b->start_index.find(key); it != b->start_index.end()) {
        pending_start& s = b->starts[it->second];
        if (s.start.fence == o.outcome.fence) {
            b->outcome_keys.insert(std::move(key));
            s.outcome = std::move(o);
            ++b->merged;
            ++pending_outcomes_;
            return;
        }
    }
    b->outcome_keys.insert(std::move(key));
    b->outcomes.push_back(std::move(o));
    ++pending_outcomes_;
}

void batch_queue::admit(clock::time_point now) {
    while (!waiting_.empty() && pending_outcomes_ < max_pending_) {
        place_outcome(std::move(waiting_.front()), now);
        waiting_.pop_front();
    }
}

batch& batch_queue::front() { return batches_.front(); }

bool batch_queue::front_ready(clock::time_point now, clock::duration max_delay) {
    if (batches_.size() > 1) return true;
    const batch& b = batches_.front();
    if (b.starts.size() >= max_batch_ || b.progress.size() >= max_batch_ || b.outcomes.size() >= max_batch_)
        return true;
    return now >= b.opened + max_delay;
}

clock::time_point batch_queue::front_due(clock::duration max_delay) { return batches_.front().opened + max_delay; }

void batch_queue::seal_front() { batches_.front().sealed = true; }

void batch_queue::pop_front() {
    const batch& b = batches_.front();
    pending_outcomes_ -= b.outcomes.size() + b.merged;
    pending_progress_ -= b.progress.size();
    batches_.pop_front();
    admit(clock::now());
}

namespace {

// Row order by the primary key (id, queue), so concurrent writers lock rows in the same order
// (fewer deadlocks).
template <class Rows, class Key>
std::vector<std::size_t> order_by_key(const Rows& rows, Key key) {
    std::vector<std::size_t> order(rows.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(rows[a]) < key(rows[b]); });
    return order;
}

template <class Row>
auto key_of(const Row& r) {
    return std::tie(r.id, r.queue);
}

std::optional<std::string> clean(const std::optional<std::string>& text) {
    if (!text) return std::nullopt;
    return sanitize_text(*text);
}

}  // namespace

flush_params encode(const batch& b) {
    flush_params out;
    if (!b.starts.empty()) {
        std::array<array_literal, 16> plain, combined;
        std::size_t plain_rows = 0, combined_rows = 0;
        for (std::size_t i : order_by_key(b.starts, [](const pending_start& p) { return key_of(p.start); })) {
            const pending_start& p = b.starts[i];
            const job_start& s = p.start;
            auto& cols = p.outcome ? combined : plain;
            ++(p.outcome ? combined_rows : plain_rows);
            cols[0].push(sanitize_text(s.id));
            cols[1].push(sanitize_text(s.queue));
            cols[2].push(std::int64_t{s.attempt});
            cols[3].push(std::int64_t{s.max_attempts});
            cols[4].push(std::int64_t{p.takes});
            cols[5].push(s.fence.entry_ms);
            cols[6].push(s.fence.entry_seq);
            cols[7].push(std::int64_t{s.fence.delivery});
            cols[8].push_optional(clean(s.api_key));
            cols[9].push_optional(clean(s.parent_id));
            cols[10].push(std::string_view{s.payload_json});  // made storable when reported
            cols[11].push(std::int64_t{s.fence.generation});
            if (!p.outcome) continue;
            const job_outcome& o = p.outcome->outcome;
            cols[12].push(to_string(o.status));
            cols[13].push_optional(clean(o.error));
            cols[14].push_optional(o.result_json);  // validated when reported
            if (o.run_at)
                cols[15].push(static_cast<std::int64_t>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(o.run_at->time_since_epoch()).count()));
            else
                cols[15].push_null();
        }
        if (plain_rows > 0) {
            out.starts.emplace();
            for (std::size_t c = 0; c < out.starts->size(); ++c) (*out.starts)[c] = std::move(plain[c]).finish();
        }
        if (combined_rows > 0) {
            out.combined.emplace();
            for (std::size_t c = 0; c < out.combined->size(); ++c) (*out.combined)[c] = std::move(combined[c]).finish();
        }
    }
    if (!b.progress.empty()) {
        std::array<array_literal, 7> cols;
        for (std::size_t i : order_by_key(b.progress, [](const pending_progress& p) { return key_of(p); })) {
            const pending_progress& p = b.progress[i];
            cols[0].push(sanitize_text(p.id));
            cols[1].push(sanitize_text(p.queue));
            cols[2].push(std::int64_t{p.fence.generation});
            cols[3].push(p.fence.entry_ms);
            cols[4].push(p.fence.entry_seq);
            cols[5].push(std::int64_t{p.fence.delivery});
            cols[6].push(std::string_view{p.json});  // validated when reported
        }
        out.progress.emplace();
        for (std::size_t c = 0; c < cols.size(); ++c) (*out.progress)[c] = std::move(cols[c]).finish();
    }
    if (!b.outcomes.empty()) {
        std::array<array_literal, 11> cols;
        for (std::size_t i : order_by_key(b.outcomes, [](const pending_outcome& p) { return key_of(p.outcome); })) {
            const job_outcome& o = b.outcomes[i].outcome;
            cols[0].push(sanitize_text(o.id));
            cols[1].push(sanitize_text(o.queue));
            cols[2].push(o.fence.entry_ms);
            cols[3].push(o.fence.entry_seq);
            cols[4].push(std::int64_t{o.fence.delivery});
            cols[5].push(to_string(o.status));
            cols[6].push(std::int64_t{o.attempt});
            cols[7].push_optional(clean(o.error));
            cols[8].push_optional(o.result_json);  // validated when reported
            if (o.run_at)
                cols[9].push(static_cast<std::int64_t>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(o.run_at->time_since_epoch()).count()));
            else
                cols[9].push_null();
            cols[10].push(std::int64_t{o.fence.generation});
        }
        out.outcomes.emplace();
        for (std::size_t c = 0; c < cols.size(); ++c) (*out.outcomes)[c] = std::move(cols[c]).finish();
    }
    return out;
}

std::optional<std::array<std::string, 7>> encode_unapplied(const batch& b,
                                                           const std::unordered_set<std::string>& applied) {
    std::array<array_literal, 7> cols;
    const auto add = [&](const job_outcome& o) {
        if (applied.count(job_key(o.queue, o.id))) return;
        cols[0].push(sanitize_text(o.id));
        cols[1].push(sanitize_text(o.queue));
        cols[2].push(std::int64_t{o.fence.generation});
        cols[3].push(o.fence.entry_ms);
        cols[4].push(o.fence.entry_seq);
        cols[5].push(std::int64_t{o.fence.delivery});
        cols[6].push(to_string(o.status));
    };
    for (const auto& p : b.outcomes) add(p.outcome);
    for (const auto& s : b.starts)
        if (s.outcome) add(s.outcome->outcome);
    if (cols[0].size() == 0) return std::nullopt;
    std::array<std::string, 7> out;
    for (std::size_t c = 0; c < cols.size(); ++c) out[c] = std::move(cols[c]).finish();
    return out;
}

}  // namespace wharf::pg::detail
