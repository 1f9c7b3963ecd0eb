// The queues' depths as gauges, read from Redis at scrape time (queue::operations::stats(), which
// counts from the stream itself): wharf_queue_backlog (waiting, not yet delivered),
// wharf_queue_in_flight (delivered, not acknowledged), wharf_queue_delayed, wharf_queue_dead and
// wharf_queue_oldest_waiting_seconds. Every process that runs a queue reports it, so a query
// across a fleet takes max() by queue, not sum().
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

namespace wharf::redis {
class connection;
}

namespace wharf::admin {

// Throws when Redis cannot be read (the scrape then shows the last values).
boost::asio::awaitable<void> refresh_queue_gauges(redis::connection& redis, const std::vector<std::string>& queues);

}  // namespace wharf::admin
