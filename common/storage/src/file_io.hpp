// Local files that the HTTP backends (S3, Azure) send and receive, handled without blocking an
// I/O thread: every open, stat, read, write, fsync, rename and unlink runs on the blocking pool
// (blocking.hpp), one chunk of at most 1 MiB at a time, so the I/O threads only move bytes
// between a socket and a buffer and a transfer's memory stays bounded whatever the file's size.
// Internal to the library (src/). The multipart engine reads its parts on its own (multipart.cpp).
#pragma once

#include "wharf/http/client.hpp"
#include "wharf/storage/checksum.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace wharf::storage::detail {

// A temp file beside its destination is named ".wharf-tmp-<12 random hex digits>-<leaf>": hidden,
// recognisable, unique. The local provider reads the leaf back out of it (incomplete uploads).
inline constexpr std::string_view temp_prefix = ".wharf-tmp-";
inline constexpr std::size_t temp_overhead = temp_prefix.size() + 12 + 1;  // prefix, 12 hex, '-'
std::string temp_file_name(std::string_view leaf);

// A local file opened for reading: the body of a single PUT.
class source_file {
public:
    // Opens and stats `path` on the blocking pool. Throws storage::error: not_found when it does
    // not exist, permanent when it cannot be read or is not a regular file.
    static boost::asio::awaitable<source_file> open(std::filesystem::path path);

    source_file() = default;
    source_file(source_file&&) noexcept;
    source_file& operator=(source_file&&) noexcept;
    ~source_file();  // the descriptor is closed on the blocking pool

    std::uint64_t size() const noexcept;  // as stat'ed by open()
    const std::filesystem::path& path() const noexcept;

    struct digests {
        std::string sha256_hex;  // the carried value when one was given
        std::string md5_base64;  // empty unless asked for
        std::string crc_base64;  // empty unless asked for (`crc`: crc32 or crc32c)
    };
    // SHA-256 (unless `carried_sha256` is given), MD5 (when `md5`) and a CRC (when `crc` is crc32
    // or crc32c) of the first size() bytes, in one streamed read on the blocking pool. A file
    // that shrank is errc::integrity.
    boost::asio::awaitable<digests> digest(std::optional<std::string> carried_sha256, bool md5,
                                           checksum_kind crc = checksum_kind::none) const;

    // The first size() bytes as an HTTP request body, read chunk by chunk on the blocking pool.
    // The body refers to this object, which must outlive the request.
    http::body_source body() const;

private:
    struct state;
    std::unique_ptr<state> s_;
};

// Where a download lands: a temp file beside the destination (so the final rename is atomic),
// written and hashed chunk by chunk on the blocking pool, then fsync'ed and renamed into place.
// The destination appears whole or not at all, and a failed download leaves no temp file.
class download_file {
public:
    // Creates the temp file on the blocking pool. Throws storage::error(permanent) when the
    // destination's folder cannot take it.
    static boost::asio::awaitable<download_file> create(std::filesystem::path destination);

    download_file() = default;
    download_file(download_file&&) noexcept;
    download_file& operator=(download_file&&) noexcept;
    // An uncommitted temp file is removed, on the blocking pool, in the background; call
    // discard() to have it gone before going on.
    ~download_file();

    // For http::request_options::body_sink: appends each chunk and feeds it to the SHA-256, on
    // the blocking pool. Refers to this object, which must outlive the request.
    std::function<boost::asio::awaitable<void>(std::span<const char>)> sink();
    // Empties the file and the digest: each attempt of a retried GET starts over.
    boost::asio::awaitable<void> restart();

    std::uint64_t size() const noexcept;  // bytes written since the last restart
    std::uint32_t crc32c() const noexcept;  // CRC32C of those bytes
    // SHA-256 of the bytes written since the last restart; once per attempt.
    std::string sha256_hex();

    // fsync, rename over the destination, fsync the folder.
    boost::asio::awaitable<void> commit();
    // Removes the temp file now (a failed download). Does nothing once committed or discarded.
    boost::asio::awaitable<void> discard();

private:
    struct state;
    std::unique_ptr<state> s_;
};

}  // namespace wharf::storage::detail
