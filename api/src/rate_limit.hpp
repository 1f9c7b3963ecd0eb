// A request budget per key per second, shared by every wharf-api process through Redis (one
// INCR in a one-second window key). When Redis cannot be asked, requests are let through: the
// limit protects the fleet from a runaway client, not the data, and the API should not fail for it.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>

namespace wharf::redis {
class connection;
}

namespace wharf::api {

struct rate_decision {
    bool allowed = true;
    std::int64_t retry_after_s = 0;
};

boost::asio::awaitable<rate_decision> take(redis::connection& redis, const std::string& prefix,
                                           std::int32_t per_second);

}  // namespace wharf::api
