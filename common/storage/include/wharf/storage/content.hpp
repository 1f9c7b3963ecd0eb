// Reading an object as its readers know it: provider::get_to_file writes the stored bytes; an
// object stored with a content encoding (the `compress` job's gzip) is decoded here, so every
// reader inside wharf gets the original bytes, as a presigned URL's HTTP client does.
#pragma once

#include "wharf/storage/provider.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

namespace wharf::storage {

// A decoded object larger than this is refused (a gzip bomb must not fill the disk).
inline constexpr std::uint64_t default_max_decoded_bytes = std::uint64_t{16} << 30;

// get_to_file of the whole object, then, when it was stored with Content-Encoding gzip, its
// decoded bytes in place of the stored ones at `destination` (written beside it and renamed).
// The result's size and sha256 are those of the bytes at `destination`; content_encoding says
// what was stored. An encoding other than gzip or identity is refused (errc::permanent), a
// corrupt or oversized stream too (errc::integrity); `destination` is then removed.
boost::asio::awaitable<object_info> get_content(provider& p, std::string key, std::filesystem::path destination,
                                                std::uint64_t max_decoded = default_max_decoded_bytes);

// Whether an object stored with `content_encoding` reads differently from its stored bytes.
bool is_encoded(const std::optional<std::string>& content_encoding) noexcept;

}  // namespace wharf::storage
