// What wharf-api's handlers share: its clients, its settings and the authenticator. Everything
// here is used from one strand (the server's, nested in the clients').
#pragma once

#include "auth.hpp"

#include "wharf/http/server.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace wharf::redis {
class connection;
}
namespace wharf::pg {
class pool;
}
namespace wharf::storage {
class registry;
}

namespace wharf::api {

struct settings {
    // The queues a tenant may enqueue to with POST /api/v1/jobs (pipelines have their own route).
    std::vector<std::string> queues{"download"};
    std::chrono::seconds default_url_expiry{3600};
};

struct service {
    pg::pool& db;
    redis::connection& redis;
    storage::registry& providers;
    settings options;
    authenticator auth;
};

// One request, start to end: routing, authentication, the rate limit, the route's handler.
boost::asio::awaitable<http::server_response> handle(service& s, http::server_request& req);

}  // namespace wharf::api
