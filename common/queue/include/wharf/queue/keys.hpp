// The Redis key layout of a queue. Every key of one queue carries the hash tag {<queue>}, so a
// queue lives in one Redis Cluster slot and its Lua scripts may touch all of its keys.
#pragma once

#include <string>
#include <string_view>

namespace wharf::queue {

inline constexpr std::string_view consumer_group = "workers";

struct keys {
    explicit keys(std::string_view queue);
    std::string queue;
    std::string stream;   // wharf:{q}:stream   entries: field "job" = envelope JSON
    std::string delayed;  // wharf:{q}:delayed  ZSET, score = due time (unix ms), member = envelope JSON
    std::string dead;     // wharf:{q}:dead     stream: job, id, reason, attempts, failed_at
    std::string stats;    // wharf:{q}:stats    HASH of counters: succeeded, failed, retried, dead, duplicates
    std::string cancel;   // wharf:{q}:cancel   HASH job id -> when a cancel was asked for (unix ms)
    std::string id_key(std::string_view job_id) const;  // wharf:{q}:id:<id>  duplicate detection
};

// A SET of every queue name that a worker or producer has used (for `wharfctl queues`).
inline constexpr std::string_view registry_key = "wharf:queues";

// Queue names: 1-64 chars of [a-z0-9_-] (they appear in keys and hash tags, so no braces).
bool valid_queue_name(std::string_view name) noexcept;

}  // namespace wharf::queue
