// What wharf-api's handlers share: its clients, its settings and the authenticator. Everything
// here is used from one strand (the server's, nested in the clients').
#pragma once

#include "auth.hpp"

#include "wharf/http/server.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace wharf::redis {
class connection;
}
namespace wharf::pg {
class pool;
}
namespace wharf::worker {
class storage_services;
}

namespace wharf::api {

struct settings {
    // The queues a tenant may enqueue to with POST /api/v1/jobs (pipelines have their own route).
    std::vector<std::string> queues{"download"};
    std::chrono::seconds default_url_expiry{3600};
    // The largest file one upload request may carry (its body is streamed, never held).
    std::uint64_t max_upload = 5ull << 30;
};

struct service {
    pg::pool& db;
    redis::connection& redis;
    // Placement, quotas, the catalog and the presign cache: the workers' own storing path.
    worker::storage_services& storage;
    settings options;
    authenticator auth;
};

// One request, start to end: routing, authentication, the rate limit, the route's handler.
boost::asio::awaitable<http::server_response> handle(service& s, http::server_request& req);

}  // namespace wharf::api
