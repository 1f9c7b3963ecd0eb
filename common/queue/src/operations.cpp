// Every Redis operation on a queue's data structures. Multi-step changes are the Lua scripts of
// scripts.cpp; single commands are sent as they are.
//
// Duplicate detection (claim_id). An envelope with a producer id has an id key
// wharf:{q}:id:<id>, a HASH {token, state} that lives id_ttl (7 days) after its last change while
// active, and finished_id_ttl (1 minute by default) once done or dead -- PostgreSQL keeps every finished id, so
// Redis need not keep them for long:
//  - token: the run that owns the id: the envelope's "_token" if it has one (set when wharf
//    re-enqueues a job: a retry, a delayed enqueue), else the stream entry id of the delivery that
//    first claimed it (a take-over redelivers the same entry, so the same token).
//  - state: active while a run is pending or running; done after ack(); dead after dead_letter().
// Before any of that, a job a cancel was asked for (wharf:{q}:cancel, see request_cancel) is
// reported `cancelled`: it must not start.
// claim_id: no key -> the delivery takes the id (active) and runs once PostgreSQL says the job has
// not ended already (run_new: the worker reads the row); the same token -> runs (a retry
// or a redelivery of the owning run); done/dead -> a duplicate of a finished job: the script acks
// and deletes it and counts it in stats.duplicates; another run active -> the duplicate waits:
// the script moves it to delayed (due now + wait_delay) and acks it, to be looked at again then.
#include "wharf/queue/operations.hpp"

#include "scripts.hpp"
#include "wharf/core/backoff.hpp"
#include "wharf/queue/error.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <stdexcept>

namespace wharf::queue {
namespace {

using namespace std::chrono;

// Keeps each script's argument list well under Lua's stack limit for unpack().
constexpr std::size_t max_ack_batch = 500;

std::int64_t now_ms() {
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

const redis::reply& checked(const redis::reply& r, std::string_view op) {
    if (r.is_error()) throw error(errc::error_reply, std::string{op} + ": " + r.str());
    return r;
}

[[noreturn]] void unexpected(std::string_view op, const redis::reply& r) {
    throw error(errc::unexpected_reply, std::string{op} + ": unexpected reply " + r.debug_string());
}

void parse_entry_id(std::string_view id, std::int64_t& ms, std::int64_t& seq) {
    ms = seq = 0;
    const auto dash = id.find('-');
    const auto first = id.substr(0, dash);
    std::from_chars(first.data(), first.data() + first.size(), ms);
    if (dash != std::string_view::npos) {
        const auto second = id.substr(dash + 1);
        std::from_chars(second.data(), second.data() + second.size(), seq);
    }
}

delivery make_delivery(std::string id, std::int32_t count, std::string job) {
    delivery d;
    d.entry_id = std::move(id);
    parse_entry_id(d.entry_id, d.entry_ms, d.entry_seq);
    d.delivery_count = count;
    d.job_text = std::move(job);
    return d;
}

// The value of `name` in a flat [field, value, ...] array, or nullptr.
const redis::reply* field_of(const redis::reply& flat, std::string_view name) {
    if (!flat.is_array()) return nullptr;
    for (std::size_t i = 0; i + 1 < flat.size(); i += 2)
        if (flat[i].is_string() && flat[i].str() == name) return &flat[i + 1];
    return nullptr;
}

std::string string_field(const redis::reply& flat, std::string_view name) {
    const redis::reply* v = field_of(flat, name);
    if (!v) return {};
    if (v->is_string()) return v->str();
    if (v->is_integer()) return std::to_string(v->integer());
    return {};
}

// A token unique enough to tell two runs of the same job id apart (and to keep two identical
// envelopes distinct as members of the delayed ZSET).
std::string fresh_token() {
    char buf[48];
    std::snprintf(buf, sizeof buf, "t%lld-%016llx", static_cast<long long>(now_ms()),
                  static_cast<unsigned long long>(jitter_rng()()));
    return buf;
}

bool is_missing_group(const redis::reply& r) {
    return r.is_error() && (r.str().starts_with("NOGROUP") || r.str().find("no such key") != std::string::npos);
}

}  // namespace

operations::operations(redis::connection& commands, std::string queue) : redis_(commands), keys_(queue) {
    if (!valid_queue_name(queue))
        throw error(errc::invalid_queue_name, "queue name \"" + queue + "\": 1-64 characters of [a-z0-9_-]");
}

boost::asio::awaitable<void> operations::ensure_group() {
    // Id 0, not $: entries a producer added before the first worker started must be delivered.
    std::vector<redis::command> cmds{
        {"XGROUP", "CREATE", keys_.stream, std::string{consumer_group}, "0", "MKSTREAM"},
        {"SADD", std::string{registry_key}, keys_.queue},
    };
    auto replies = co_await redis_.exec_pipeline(std::move(cmds));
    if (replies.at(0).is_error() && !replies[0].str().starts_with("BUSYGROUP")) checked(replies[0], "XGROUP CREATE");
    checked(replies.at(1), "SADD registry");
}

boost::asio::awaitable<std::string> operations::enqueue(const envelope& e) {
    const bool delayed = e.run_at && *e.run_at > system_clock::now();
    if (delayed) {
        envelope copy = e;
        if (!copy.token) copy.token = fresh_token();
        const auto due = duration_cast<milliseconds>(copy.run_at->time_since_epoch()).count();
        std::vector<redis::command> cmds{
            {"ZADD", keys_.delayed, std::to_string(due), encode(copy)},
            {"SADD", std::string{registry_key}, keys_.queue},
        };
        auto replies = co_await redis_.exec_pipeline(std::move(cmds));
        checked(replies.at(0), "ZADD delayed");
        checked(replies.at(1), "SADD registry");
        co_return std::string{};
    }
    std::vector<redis::command> cmds{
        {"XADD", keys_.stream, "*", "job", encode(e)},
        {"SADD", std::string{registry_key}, keys_.queue},
    };
    auto replies = co_await redis_.exec_pipeline(std::move(cmds));
    const auto& id = checked(replies.at(0), "XADD");
    checked(replies.at(1), "SADD registry");
    if (!id.is_string()) unexpected("XADD", id);
    co_return id.str();
}

boost::asio::awaitable<std::vector<delivery>> operations::read_new(redis::connection& blocking, const queue::keys& k,
                                                                   const std::string& consumer, std::size_t count,
                                                                   std::chrono::milliseconds block) {
    redis::command read{"XREADGROUP", "GROUP",   std::string{consumer_group}, consumer, "COUNT",
                        std::to_string(count), "BLOCK", std::to_string(block.count()), "STREAMS", k.stream, ">"};
    const redis::reply r = co_await blocking.exec_blocking(std::move(read), block);
    std::vector<delivery> out;
    if (r.is_nil()) co_return out;  // BLOCK timed out: nothing new
    if (is_missing_group(r)) {
        // The stream or group is gone (a Redis restart without persistence, a manual DEL):
        // recreate it so the next read works, and report nothing new now.
        redis::command create{"XGROUP", "CREATE", k.stream, std::string{consumer_group}, "0", "MKSTREAM"};
        const redis::reply c = co_await blocking.exec(std::move(create));
        if (c.is_error() && !c.str().starts_with("BUSYGROUP")) checked(c, "XGROUP CREATE");
        co_return out;
    }
    checked(r, "XREADGROUP");
    if (!r.is_array()) unexpected("XREADGROUP", r);
    for (const auto& stream : r.elements()) {
        if (!stream.is_array() || stream.size() != 2) unexpected("XREADGROUP", r);
        for (const auto& entry : stream[1].elements()) {
            if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string()) unexpected("XREADGROUP", r);
            const redis::reply* job = field_of(entry[1], "job");
            out.push_back(make_delivery(entry[0].str(), 1, job && job->is_string() ? job->str() : std::string{}));
        }
    }
    co_return out;
}

namespace {
// The {id, deliveries, job|false} triples the reclaim and own_pending scripts return.
std::vector<delivery> deliveries_of(const redis::reply& r, const char* what) {
    checked(r, what);
    if (!r.is_array() || r.size() % 3 != 0) unexpected(what, r);
    std::vector<delivery> out;
    out.reserve(r.size() / 3);
    for (std::size_t i = 0; i < r.size(); i += 3) {
        if (!r[i].is_string() || !r[i + 1].is_integer()) unexpected(what, r);
        out.push_back(make_delivery(r[i].str(), static_cast<std::int32_t>(r[i + 1].integer()),
                                    r[i + 2].is_string() ? r[i + 2].str() : std::string{}));
    }
    return out;
}
}  // namespace

boost::asio::awaitable<std::vector<delivery>> operations::reclaim(const std::string& consumer,
                                                                  std::chrono::milliseconds lease, std::size_t count) {
    if (count == 0) co_return std::vector<delivery>{};
    std::vector<std::string> keys{keys_.stream};
    std::vector<std::string> args{consumer, std::to_string(lease.count()), std::to_string(count)};
    const redis::reply r = co_await redis_.eval(scripts::reclaim(), std::move(keys), std::move(args));
    if (is_missing_group(r)) co_return std::vector<delivery>{};  // nothing was ever read: nothing to take over
    co_return deliveries_of(r, "reclaim");
}

boost::asio::awaitable<std::vector<delivery>> operations::own_pending(const std::string& consumer, std::size_t count) {
    if (count == 0) co_return std::vector<delivery>{};
    std::vector<std::string> keys{keys_.stream};
    std::vector<std::string> args{consumer, std::to_string(count)};
    const redis::reply r = co_await redis_.eval(scripts::own_pending(), std::move(keys), std::move(args));
    if (is_missing_group(r)) co_return std::vector<delivery>{};
    co_return deliveries_of(r, "own_pending");
}

boost::asio::awaitable<std::vector<std::string>> operations::renew(const std::string& consumer,
                                                                   const std::vector<std::string>& entry_ids) {
    std::vector<std::string> lost;
    for (std::size_t start = 0; start < entry_ids.size(); start += max_ack_batch) {
        const std::size_t end = std::min(entry_ids.size(), start + max_ack_batch);
        std::vector<std::string> args{consumer};
        args.insert(args.end(), entry_ids.begin() + static_cast<std::ptrdiff_t>(start),
                    entry_ids.begin() + static_cast<std::ptrdiff_t>(end));
        std::vector<std::string> keys{keys_.stream};
        const redis::reply r = co_await redis_.eval(scripts::renew(), std::move(keys), std::move(args));
        if (is_missing_group(r)) {
            // The group is gone, so nobody owns these entries any more.
            lost.insert(lost.end(), entry_ids.begin() + static_cast<std::ptrdiff_t>(start),
                        entry_ids.begin() + static_cast<std::ptrdiff_t>(end));
            continue;
        }
        checked(r, "renew");
        for (const auto& id : r.elements()) lost.push_back(id.str());
    }
    co_return lost;
}

boost::asio::awaitable<operations::claim_result> operations::claim_id(const delivery& d, const envelope& e,
                                                                      std::chrono::milliseconds wait_delay) {
    if (!e.id) co_return claim_result::run;  // no producer id: the entry id is unique already
    std::vector<std::string> keys{keys_.stream, keys_.delayed, keys_.stats, keys_.id_key(*e.id), keys_.cancel};
    std::vector<std::string> args{d.entry_id, e.token.value_or(std::string{}), std::to_string(now_ms()),
                                  std::to_string(wait_delay.count()), std::to_string(id_ttl_.count()), d.job_text,
                                  *e.id};
    const redis::reply r = co_await redis_.eval(scripts::claim_id(), std::move(keys), std::move(args));
    checked(r, "claim_id");
    if (!r.is_string()) unexpected("claim_id", r);
    if (r.str() == "run") co_return claim_result::run;
    if (r.str() == "run_new") co_return claim_result::run_new;
    if (r.str() == "cancelled") co_return claim_result::cancelled;
    if (r.str() == "duplicate_done") co_return claim_result::duplicate_done;
    if (r.str() == "wait") co_return claim_result::wait;
    unexpected("claim_id", r);
}

boost::asio::awaitable<void> operations::ack(const std::vector<ack_item>& items) {
    for (std::size_t start = 0; start < items.size(); start += max_ack_batch) {
        const std::size_t end = std::min(items.size(), start + max_ack_batch);
        std::vector<std::string> keys{keys_.stream, keys_.stats, keys_.cancel};
        std::vector<std::string> args{std::to_string(finished_id_ttl_.count()), std::to_string(end - start)};
        args.reserve(2 + 4 * (end - start));
        for (std::size_t i = start; i < end; ++i) {
            const ack_item& item = items[i];
            args.push_back(item.entry_id);
            if (item.job_id) {
                keys.push_back(keys_.id_key(*item.job_id));
                args.push_back(std::to_string(keys.size()));  // Lua KEYS index, 1-based
            } else {
                args.push_back("0");
            }
            args.push_back(item.outcome);
            args.push_back(item.job_id.value_or(item.entry_id));
        }
        checked(co_await redis_.eval(scripts::ack(), std::move(keys), std::move(args)), "ack");
    }
}

boost::asio::awaitable<void> operations::retry_later(const delivery& d, const envelope& next,
                                                     std::chrono::system_clock::time_point due) {
    envelope copy = next;
    // The retry keeps the run's token, so its next delivery is recognised as the same run by
    // claim_id, and two retries of identical envelopes stay distinct members of the ZSET.
    if (!copy.token) copy.token = d.entry_id;
    const auto due_ms = duration_cast<milliseconds>(due.time_since_epoch()).count();
    std::vector<std::string> keys{keys_.stream, keys_.delayed, keys_.stats};
    std::vector<std::string> args{d.entry_id, std::to_string(due_ms), encode(copy)};
    checked(co_await redis_.eval(scripts::retry_later(), std::move(keys), std::move(args)), "retry_later");
}

boost::asio::awaitable<void> operations::dead_letter(const delivery& d, std::string_view job_id,
                                                     std::string_view reason, std::int32_t attempts) {
    std::vector<std::string> keys{keys_.stream, keys_.dead, keys_.stats, keys_.cancel};
    // A job without a producer id goes by its entry id and has no id key.
    if (!job_id.empty() && job_id != d.entry_id) keys.push_back(keys_.id_key(job_id));
    std::vector<std::string> args{d.entry_id, d.job_text, std::string{job_id}, std::string{reason},
                                  std::to_string(attempts), format_rfc3339(system_clock::now()),
                                  std::to_string(finished_id_ttl_.count())};
    checked(co_await redis_.eval(scripts::dead_letter(), std::move(keys), std::move(args)), "dead_letter");
}

boost::asio::awaitable<std::size_t> operations::promote_due(std::size_t limit) {
    if (limit == 0) co_return 0;
    std::vector<std::string> keys{keys_.delayed, keys_.stream};
    std::vector<std::string> args{std::to_string(now_ms()), std::to_string(limit)};
    const redis::reply r = co_await redis_.eval(scripts::promote_due(), std::move(keys), std::move(args));
    checked(r, "promote_due");
    if (!r.is_integer()) unexpected("promote_due", r);
    co_return static_cast<std::size_t>(r.integer());
}

boost::asio::awaitable<std::size_t> operations::prune_consumers(std::chrono::milliseconds max_idle) {
    std::vector<std::string> keys{keys_.stream};
    std::vector<std::string> args{std::to_string(max_idle.count())};
    const redis::reply r = co_await redis_.eval(scripts::prune_consumers(), std::move(keys), std::move(args));
    if (is_missing_group(r)) co_return 0;
    checked(r, "prune_consumers");
    if (!r.is_integer()) unexpected("prune_consumers", r);
    co_return static_cast<std::size_t>(r.integer());
}

boost::asio::awaitable<operations::depth> operations::stats() {
    // Entries in flight are listed (to tell them from waiting ones) up to this many; past it the
    // pending count stands in for them.
    constexpr std::size_t in_flight_listed = 10'000;
    std::vector<std::string> keys{keys_.stream, keys_.delayed, keys_.dead};
    std::vector<std::string> args{std::to_string(in_flight_listed)};
    const redis::reply r = co_await redis_.eval(scripts::queue_depth(), std::move(keys), std::move(args));
    checked(r, "queue depth");
    if (!r.is_array() || r.size() != 5) unexpected("queue depth", r);
    for (std::size_t i = 0; i < 5; ++i)
        if (!r[i].is_integer()) unexpected("queue depth", r);
    depth out;
    out.queue = keys_.queue;
    out.waiting = r[0].integer();
    out.in_flight = r[1].integer();
    out.delayed = r[2].integer();
    out.dead = r[3].integer();
    out.oldest_waiting_ms = r[4].integer();
    co_return out;
}

boost::asio::awaitable<std::vector<operations::dead_entry>> operations::dead_list(std::size_t limit) {
    std::vector<dead_entry> out;
    if (limit == 0) co_return out;
    redis::command range{"XRANGE", keys_.dead, "-", "+", "COUNT", std::to_string(limit)};
    const redis::reply r = co_await redis_.exec(std::move(range));
    checked(r, "XRANGE dead");
    for (const auto& entry : r.elements()) {
        if (!entry.is_array() || entry.size() != 2) unexpected("XRANGE dead", r);
        dead_entry d;
        d.entry_id = entry[0].str();
        d.job_id = string_field(entry[1], "id");
        d.reason = string_field(entry[1], "reason");
        d.failed_at = string_field(entry[1], "failed_at");
        d.job_text = string_field(entry[1], "job");
        const std::string attempts = string_field(entry[1], "attempts");
        std::from_chars(attempts.data(), attempts.data() + attempts.size(), d.attempts);
        out.push_back(std::move(d));
    }
    co_return out;
}

boost::asio::awaitable<std::size_t> operations::dead_retry(std::optional<std::string> job_id) {
    std::size_t retried = 0;
    std::string start = "-";
    for (;;) {
        redis::command range{"XRANGE", keys_.dead, start, "+", "COUNT", "100"};
        const redis::reply r = co_await redis_.exec(std::move(range));
        checked(r, "XRANGE dead");
        if (r.size() == 0) break;
        for (const auto& entry : r.elements()) {
            if (!entry.is_array() || entry.size() != 2) unexpected("XRANGE dead", r);
            const std::string& dead_id = entry[0].str();
            start = "(" + dead_id;
            if (job_id && string_field(entry[1], "id") != *job_id) continue;
            std::string text = string_field(entry[1], "job");
            std::vector<std::string> keys{keys_.stream, keys_.dead, keys_.cancel};
            auto decoded = decode(text, keys_.queue);
            if (auto* e = std::get_if<envelope>(&decoded)) {
                // A fresh run: attempts start over, the old run's token no longer applies, and the
                // next generation may reopen the job's dead row (no entry of the old run can).
                e->attempt = 1;
                e->token.reset();
                e->run_at.reset();
                if (e->generation < 1000000) ++e->generation;
                if (e->id) keys.push_back(keys_.id_key(*e->id));
                text = encode(*e);
            }
            // A malformed envelope goes back as it was: it is dead-lettered again with its
            // reason, which is what an operator retrying it after fixing a worker wants.
            std::vector<std::string> args{dead_id, std::move(text), string_field(entry[1], "id")};
            const redis::reply added = co_await redis_.eval(scripts::dead_requeue(), std::move(keys), std::move(args));
            checked(added, "dead_retry");
            if (added.is_string()) ++retried;
        }
    }
    co_return retried;
}

boost::asio::awaitable<void> operations::request_cancel(std::string_view job_id) {
    std::vector<redis::command> cmds{
        {"HSET", keys_.cancel, std::string{job_id}, std::to_string(now_ms())},
        {"EXPIRE", keys_.cancel, std::to_string(id_ttl_.count())},
    };
    const auto replies = co_await redis_.exec_pipeline(std::move(cmds));
    for (const auto& r : replies) checked(r, "request_cancel");
}

boost::asio::awaitable<operations::cancels> operations::cancels_asked(std::vector<std::string> job_ids) {
    std::vector<std::string> keys{keys_.cancel};
    const redis::reply r = co_await redis_.eval(scripts::cancels_asked(), std::move(keys), std::move(job_ids));
    checked(r, "cancels_asked");
    if (!r.is_array() || r.size() == 0 || !r[0].is_integer()) unexpected("cancels_asked", r);
    cancels out;
    out.pending = static_cast<std::size_t>(r[0].integer());
    for (std::size_t i = 1; i < r.size(); ++i) out.asked.push_back(r[i].str());
    co_return out;
}

boost::asio::awaitable<void> operations::forget_cancel(std::string_view job_id) {
    redis::command del{"HDEL", keys_.cancel, std::string{job_id}};
    checked(co_await redis_.exec(std::move(del)), "forget_cancel");
}

boost::asio::awaitable<std::size_t> operations::dead_purge() {
    std::vector<std::string> keys{keys_.dead};
    const redis::reply r = co_await redis_.eval(scripts::dead_purge(), std::move(keys), {});
    checked(r, "dead_purge");
    co_return static_cast<std::size_t>(r.integer());
}

boost::asio::awaitable<operations::held> operations::held_ids(std::size_t cap) {
    constexpr std::size_t page = 1'000;
    held out;
    std::size_t seen = 0;
    for (const char* which : {"delayed", "stream"}) {
        std::string cursor = std::string_view{which} == "stream" ? "-" : "0";
        while (true) {
            if (seen >= cap) {
                out.complete = false;
                co_return out;
            }
            std::vector<std::string> keys{keys_.stream, keys_.delayed};
            std::vector<std::string> args{which, cursor, std::to_string(page)};
            const redis::reply r = co_await redis_.eval(scripts::held_ids(), std::move(keys), std::move(args));
            checked(r, "held_ids");
            if (!r.is_array() || r.size() < 1 || !r[0].is_string()) unexpected("held_ids", r);
            for (std::size_t i = 1; i < r.size(); ++i) out.ids.insert(r[i].str());
            seen += std::max<std::size_t>(r.size() - 1, 1);
            cursor = r[0].str();
            if (cursor.empty() || cursor == "0") break;
        }
    }
    co_return out;
}

boost::asio::awaitable<std::optional<std::string>> operations::requeue(envelope e) {
    if (!e.id) throw std::invalid_argument("requeue: the envelope needs its job id");
    e.token = fresh_token();
    std::vector<std::string> keys{keys_.stream, keys_.id_key(*e.id)};
    std::vector<std::string> args{encode(e), *e.token, std::to_string(id_ttl_.count())};
    const redis::reply r = co_await redis_.eval(scripts::requeue(), std::move(keys), std::move(args));
    checked(r, "requeue");
    if (r.is_integer()) co_return std::nullopt;
    if (!r.is_string()) unexpected("requeue", r);
    co_return r.str();
}

boost::asio::awaitable<server_identity> identify_server(redis::connection& commands) {
    std::vector<redis::command> cmds{{"INFO", "server"}, {"TIME"}};
    auto replies = co_await commands.exec_pipeline(std::move(cmds));
    const auto& info = checked(replies.at(0), "INFO server");
    const auto& time = checked(replies.at(1), "TIME");
    if (!info.is_string()) unexpected("INFO server", info);
    if (!time.is_array() || time.size() != 2 || !time[0].is_string() || !time[1].is_string()) unexpected("TIME", time);
    server_identity out;
    const auto& text = info.str();
    const auto at = text.find("run_id:");
    if (at == std::string::npos) unexpected("INFO server (no run_id)", info);
    const auto end = text.find_first_of("\r\n", at);
    out.run_id = text.substr(at + 7, end == std::string::npos ? std::string::npos : end - at - 7);
    std::int64_t s = 0, us = 0;
    std::from_chars(time[0].str().data(), time[0].str().data() + time[0].str().size(), s);
    std::from_chars(time[1].str().data(), time[1].str().data() + time[1].str().size(), us);
    out.now_ms = s * 1000 + us / 1000;
    co_return out;
}

boost::asio::awaitable<std::vector<std::string>> known_queues(redis::connection& commands) {
    redis::command members{"SMEMBERS", std::string{registry_key}};
    const redis::reply r = co_await commands.exec(std::move(members));
    checked(r, "SMEMBERS registry");
    std::vector<std::string> out;
    for (const auto& q : r.elements()) out.push_back(q.str());
    std::sort(out.begin(), out.end());
    co_return out;
}

}  // namespace wharf::queue
