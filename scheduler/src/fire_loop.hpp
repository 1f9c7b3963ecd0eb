// The scheduler's one loop: every tick, plan each schedule at the database's clock, record its
// fires (store.hpp: one replica wins each slot), XADD them, and complete the fires other replicas
// recorded but did not live to enqueue.
#pragma once

#include "wharf/pg/pool.hpp"
#include "wharf/redis/connection.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>

namespace wharf::scheduler {

struct loop_options {
    std::chrono::milliseconds tick{1000};
    // A pending fire older than this is another replica's that died before its XADD.
    std::chrono::seconds stale_after{5};
};

// Runs until cancelled. Errors of one tick (a server restarting) are logged and retried on the
// next tick after a backoff; nothing is lost meanwhile: the cursor moves only with the fires.
boost::asio::awaitable<void> run_fire_loop(pg::pool& db, redis::connection& redis, loop_options options);

}  // namespace wharf::scheduler
