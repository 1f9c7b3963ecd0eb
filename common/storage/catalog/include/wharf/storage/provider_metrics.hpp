// Storage in the process's metrics: every provider call timed and its bytes counted
// (wharf_storage_request_duration_seconds and wharf_storage_bytes_total by provider and
// operation, wharf_storage_requests_total by outcome), and the catalog's usage as gauges
// (wharf_storage_used_bytes, wharf_storage_limit_bytes, wharf_storage_objects, wharf_storage_full).
#pragma once

#include "wharf/storage/provider.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>

namespace wharf::pg {
class pool;
}

namespace wharf::storage {

// The same provider, its calls measured. The registry wraps every provider it builds.
std::unique_ptr<provider> with_metrics(std::unique_ptr<provider> inner);
// The provider inside with_metrics' wrapper (`p` itself when it is not one), for the calls only a
// backend's own type offers (s3::put_bucket_lifecycle, azure::create_container).
provider& unwrapped(provider& p) noexcept;

// Sets the usage gauges from storage_stats (the accounting, not a listing of the buckets).
boost::asio::awaitable<void> refresh_storage_gauges(pg::pool& db);

}  // namespace wharf::storage
