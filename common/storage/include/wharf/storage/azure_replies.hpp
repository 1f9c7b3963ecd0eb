// Azure Blob reply parsing, sans I/O: List Blobs pages and the size, date and ETag values of
// Get/Head Blob replies. Every malformed value becomes a storage::error(permanent) naming it,
// never a bare std::invalid_argument from deep inside a provider call.
#pragma once

#include "wharf/storage/provider.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::storage::azure {

struct list_blobs_page {
    std::vector<object_info> blobs;
    std::optional<std::string> next_marker;  // none (or empty in the reply): the last page
};

// The <EnumerationResults> of List Blobs. Throws storage::error(permanent) on a blob without a
// name or with a Content-Length that is not a byte count.
list_blobs_page parse_list_blobs(std::string_view body);

// A decimal byte count (Content-Length, <Content-Length>): digits only, no sign, no overflow.
std::optional<std::uint64_t> parse_size(std::string_view text) noexcept;
// The object's total size from a Content-Range header: "bytes 0-99/1234" -> 1234.
std::optional<std::uint64_t> content_range_total(std::string_view header) noexcept;
// RFC 1123 "Sun, 06 Nov 1994 08:49:37 GMT"; the epoch when unreadable (the time is informative).
std::chrono::system_clock::time_point parse_http_date(std::string_view text);
// `"0x8D..."` -> `0x8D...`.
std::string strip_quotes(std::string_view etag);

}  // namespace wharf::storage::azure
