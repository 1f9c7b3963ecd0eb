// The Redis server incarnations wharf has seen (table redis_incarnations), for the rule that
// keeps a job that ended from running again when Redis rolls back: a restart from an older AOF or
// RDB, or a failover to a replica that missed writes, brings back stream entries whose jobs have
// ended since. Every such rollback is a new server incarnation (INFO's run_id changes).
#pragma once

#include "wharf/pg/pool.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>

namespace wharf::pg {

// Records the incarnation `run_id` (first seen at `redis_now_ms`, the Redis server's TIME) if it
// is new, and returns since when its data is known to be continuous: 0 when it is the only
// incarnation wharf ever saw (no rollback to guard against), else the time wharf first saw it.
// Stream entries older than that may be stale: workers read the job's row before running one.
boost::asio::awaitable<std::int64_t> redis_data_since(pool& db, std::string run_id, std::int64_t redis_now_ms);

}  // namespace wharf::pg
