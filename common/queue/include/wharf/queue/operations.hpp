// Every Redis operation on a queue's data structures, in one place. Multi-step changes are Lua
// scripts, so a worker killed between two steps can never lose or duplicate a job.
#pragma once

#include "wharf/queue/envelope.hpp"
#include "wharf/queue/keys.hpp"
#include "wharf/redis/connection.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace wharf::queue {

// One delivery of one stream entry.
struct delivery {
    std::string entry_id;        // "1700000000000-3"
    std::int64_t entry_ms = 0, entry_seq = 0;
    std::int32_t delivery_count = 1;  // 1 on a first read; >1 after take-overs
    std::string job_text;        // the raw "job" field (may be malformed)
};

class operations {
public:
    operations(redis::connection& commands, std::string queue);

    const queue::keys& keys() const noexcept { return keys_; }

    // How long an id key (duplicate detection) lives after its last change while its job is in
    // flight (default 7 days), and once the job finished or went dead (default 1 minute; the
    // worker's finished_id_ttl). After that, PostgreSQL's row is what tells a duplicate
    // (claim_result::run_new): Redis holds the finished ids of the last minute, not of the last week.
    void set_id_ttl(std::chrono::seconds ttl) noexcept { id_ttl_ = ttl; }
    void set_finished_id_ttl(std::chrono::seconds ttl) noexcept { finished_id_ttl_ = ttl; }

    // XGROUP CREATE ... MKSTREAM if missing; SADD to the registry.
    boost::asio::awaitable<void> ensure_group();

    // XADD (run_at in the future: ZADD to delayed instead). Returns the stream entry id, or the
    // empty string when delayed.
    boost::asio::awaitable<std::string> enqueue(const envelope& e);

    // XREADGROUP GROUP workers <consumer> COUNT n BLOCK block STREAMS stream >  on `blocking`,
    // a connection used for nothing else.
    static boost::asio::awaitable<std::vector<delivery>> read_new(redis::connection& blocking, const queue::keys& k,
                                                                  const std::string& consumer, std::size_t count,
                                                                  std::chrono::milliseconds block);

    // Take-over: XAUTOCLAIM of entries idle longer than lease, with their delivery counts.
    boost::asio::awaitable<std::vector<delivery>> reclaim(const std::string& consumer, std::chrono::milliseconds lease,
                                                          std::size_t count);

    // The entries `consumer` holds, up to `count`: at shutdown, the ones a cancelled read had
    // delivered without the reply reaching us, to hand back instead of leaving them to a take-over.
    boost::asio::awaitable<std::vector<delivery>> own_pending(const std::string& consumer, std::size_t count);

    // Lease renewal: resets the idle time of the given entries that `consumer` still owns.
    // Returns the entry ids it no longer owns (taken over): their jobs must be stopped.
    boost::asio::awaitable<std::vector<std::string>> renew(const std::string& consumer,
                                                           const std::vector<std::string>& entry_ids);

    // Duplicate detection for envelopes with a producer id; see operations.cpp for the states.
    // run_new: Redis has no record of the id (new, or finished longer ago than the finished-id
    // TTL); the caller must ask PostgreSQL whether the job already ended before running it.
    enum class claim_result { run, run_new, duplicate_done, wait, cancelled };
    boost::asio::awaitable<claim_result> claim_id(const delivery& d, const envelope& e,
                                                  std::chrono::milliseconds wait_delay);

    // XACK + XDEL (batched: many entries in one call) and mark ids done.
    struct ack_item {
        std::string entry_id;
        std::optional<std::string> job_id;  // producer id, to mark done for duplicate detection
        std::string outcome;                // stats counter to bump: succeeded | failed | duplicates
    };
    boost::asio::awaitable<void> ack(const std::vector<ack_item>& items);

    // Atomically: ZADD the re-encoded envelope to delayed at due, XACK + XDEL the entry.
    boost::asio::awaitable<void> retry_later(const delivery& d, const envelope& next,
                                             std::chrono::system_clock::time_point due);
    // Atomically: XADD to the dead stream with the reason, XACK + XDEL the entry, mark the id dead.
    boost::asio::awaitable<void> dead_letter(const delivery& d, std::string_view job_id, std::string_view reason,
                                             std::int32_t attempts);
    // Cancellation. request_cancel asks every worker to stop the job: a running one is stopped
    // (its handler cancelled) by the worker that runs it, one not started yet is recorded
    // cancelled instead of starting (claim_id). The request is done with when the job ends
    // (ack and dead_letter remove it); it expires with the hash after id_ttl.
    boost::asio::awaitable<void> request_cancel(std::string_view job_id);
    struct cancels {
        std::size_t pending = 0;          // cancels asked for in this queue
        std::vector<std::string> asked;  // the given jobs among them
    };
    boost::asio::awaitable<cancels> cancels_asked(std::vector<std::string> job_ids);
    boost::asio::awaitable<void> forget_cancel(std::string_view job_id);

    // Moves due members of delayed back to the stream (Lua, bounded per call). Returns how many.
    boost::asio::awaitable<std::size_t> promote_due(std::size_t limit);
    // Deletes consumers that own nothing and were idle longer than max_idle.
    boost::asio::awaitable<std::size_t> prune_consumers(std::chrono::milliseconds max_idle);

    // For wharfctl and the metrics: counted from the stream itself, not from XINFO's lag, which
    // Redis 7.0 reports wrong once entries were deleted. waiting: entries after the group's
    // last-delivered id; in_flight: delivered, not acknowledged; oldest_waiting_ms: the unix ms of
    // the first waiting entry (when it was enqueued or became due), 0 when none waits.
    struct depth {
        std::string queue;
        std::int64_t waiting = 0, in_flight = 0, delayed = 0, dead = 0;
        std::int64_t oldest_waiting_ms = 0;
    };
    boost::asio::awaitable<depth> stats();
    struct dead_entry {
        std::string entry_id, job_id, reason, failed_at, job_text;
        std::int32_t attempts = 0;
    };
    boost::asio::awaitable<std::vector<dead_entry>> dead_list(std::size_t limit);
    // Re-enqueues dead entries (all, or the one with this job id) with attempt 1; returns count.
    boost::asio::awaitable<std::size_t> dead_retry(std::optional<std::string> job_id);
    boost::asio::awaitable<std::size_t> dead_purge();

    // For reconciliation (wharf_maintenance): the ids of the jobs this queue holds, in its delayed
    // set and then its stream (that order: a job promoted meanwhile is still seen), at most `cap`
    // items looked at; `complete` false when the cap cut the scan short.
    struct held {
        std::unordered_set<std::string> ids;
        bool complete = true;
    };
    boost::asio::awaitable<held> held_ids(std::size_t cap);
    // Puts a job Redis lost back in the stream under its id (e.id required) with a fresh token:
    // the id key is taken for the new run. Returns the entry id, or nothing when the id key says
    // the job finished or went dead (nothing added).
    boost::asio::awaitable<std::optional<std::string>> requeue(envelope e);

private:
    redis::connection& redis_;
    queue::keys keys_;
    std::chrono::seconds id_ttl_{7 * 24 * 3600};
    std::chrono::seconds finished_id_ttl_{60};
};

// The server's identity and clock: INFO's run_id (a new one after every restart, and on a
// promoted replica) and TIME in unix ms (the clock stream entry ids are made of).
struct server_identity {
    std::string run_id;
    std::int64_t now_ms = 0;
};
boost::asio::awaitable<server_identity> identify_server(redis::connection& commands);

// All queues in the registry.
boost::asio::awaitable<std::vector<std::string>> known_queues(redis::connection& commands);

}  // namespace wharf::queue
