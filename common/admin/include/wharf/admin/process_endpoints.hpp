// The admin endpoints as every wharf process runs them: their own Redis connection and
// PostgreSQL pool (so a probe never queues behind the process's work, and tests reachability the
// way the work would), the two readiness checks on them, and a refresh of the gauges read at
// scrape time. One way for wharf-worker and wharf-scheduler alike.
#pragma once

#include "wharf/admin/endpoints.hpp"
#include "wharf/redis/endpoint.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>

namespace wharf::redis {
class connection;
}
namespace wharf::pg {
class pool;
}

namespace wharf::admin {

struct process_endpoints_options {
    listen_address listen;
    std::string process_name;  // "wharf-worker"
    redis::endpoint redis;
    std::string database_url;
};

// Gauges read before each /metrics render, with the endpoints' own clients.
using refresh_fn = std::function<boost::asio::awaitable<void>(redis::connection&, pg::pool&)>;

class process_endpoints {
public:
    // Binds (throws boost::system::system_error when the address is taken or not this host's).
    process_endpoints(boost::asio::any_io_executor executor, process_endpoints_options options,
                      std::function<void()> drain, refresh_fn refresh = {});
    ~process_endpoints();
    process_endpoints(const process_endpoints&) = delete;
    process_endpoints& operator=(const process_endpoints&) = delete;

    std::uint16_t port() const noexcept;
    void set_draining();
    // Stops serving and the pool's threads; any thread. The clients go with the object.
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace wharf::admin
