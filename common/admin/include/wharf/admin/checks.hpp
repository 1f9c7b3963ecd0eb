// The readiness checks most processes share: Redis answers PING, PostgreSQL answers SELECT 1.
#pragma once

#include "wharf/admin/endpoints.hpp"

namespace wharf::redis {
class connection;
}
namespace wharf::pg {
class pool;
}

namespace wharf::admin {

// The connection and pool must outlive the endpoints and be usable from the endpoints' executor
// (the connection is only called through it: give the checks a connection of their own).
check redis_check(redis::connection& redis);
check postgres_check(pg::pool& db);

}  // namespace wharf::admin
