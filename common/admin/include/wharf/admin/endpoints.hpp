// The admin endpoints every wharf process serves (Boost.Beast, 127.0.0.1:9090 by default):
//   GET  /livez          200 while the event loop answers
//   GET  /readyz         200 when every check passes and the process is not draining, else 503;
//                        ?verbose lists each check
//   GET  /metrics        the process's metrics, Prometheus text format
//   POST /admin/drain    what SIGTERM does (for a preStop hook): 202, then /readyz says 503
// Checks run on every /readyz, each bounded by check_timeout, so a dependency that goes away
// turns the answer within one probe.
#pragma once

#include "wharf/admin/listen_address.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace wharf::admin {

// A dependency the process needs to do its work. probe() throws (any exception; its message is
// shown by ?verbose) when the dependency is not usable.
struct check {
    std::string name;
    std::function<boost::asio::awaitable<void>()> probe;
};

struct endpoints_options {
    listen_address listen;
    std::chrono::milliseconds check_timeout{2'000};
    std::string process_name;  // "wharf-worker", in /readyz?verbose and the logs
};

class endpoints {
public:
    // Binds at once (throws std::system_error when the address is in use) and serves.
    // `drain` is called (on the endpoints' strand) by POST /admin/drain; `refresh` (optional) runs
    // before each /metrics render to update gauges read from outside (queue depths).
    endpoints(boost::asio::any_io_executor executor, endpoints_options options, std::vector<check> checks,
              std::function<void()> drain, std::function<boost::asio::awaitable<void>()> refresh = {});
    ~endpoints();
    endpoints(const endpoints&) = delete;
    endpoints& operator=(const endpoints&) = delete;

    std::uint16_t port() const noexcept;
    // From now on /readyz answers 503 "draining" (SIGTERM, /admin/drain). Any thread.
    void set_draining();
    // Stops serving; any thread.
    void stop();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace wharf::admin
