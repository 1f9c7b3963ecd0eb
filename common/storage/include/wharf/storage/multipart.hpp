// The parallel chunked upload engine, shared by every backend that uploads in parts (S3 multipart,
// Azure Put Block / Put Block List). A backend supplies a part_sink; the engine plans parts, reads
// them from the file with pread (a retried part is re-read, not held), keeps N in flight under a
// process-wide memory budget, retries parts with the one backoff policy, hashes the whole object
// with SHA-256 while streaming, checks the byte count, and aborts on failure after in-flight parts
// drain -- never after a successful complete.
#pragma once

#include "wharf/storage/provider.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace wharf::storage {

struct part_plan {
    std::uint64_t part_size = 0;
    std::uint32_t part_count = 0;
};
// At least 5 MiB (unless the object is smaller), at most 10,000 parts; `preferred` (0 = 16 MiB)
// is raised as needed. Pure.
part_plan plan_parts(std::uint64_t object_size, std::uint64_t preferred = 0);

struct uploaded_part {
    std::uint32_t number = 0;  // 1-based
    std::uint64_t size = 0;
    std::string etag;          // S3 ETag, or the Azure block id
};

// What a backend implements for the engine. Each call is one network operation with its own
// deadline; it throws storage::error (transient ones are retried by the engine).
class part_sink {
public:
    virtual ~part_sink() = default;
    virtual boost::asio::awaitable<void> begin(const std::string& key, const put_options& options) = 0;
    // `md5_base64` is the Content-MD5 of `bytes` (computed by the engine).
    virtual boost::asio::awaitable<uploaded_part> upload_part(std::uint32_t number, std::span<const char> bytes,
                                                              const std::string& md5_base64) = 0;
    // sha256_hex of the whole object, to store with it (metadata). Returns the object's ETag.
    virtual boost::asio::awaitable<std::string> complete(const std::vector<uploaded_part>& parts,
                                                         const std::string& sha256_hex) = 0;
    virtual boost::asio::awaitable<void> abort() = 0;
};

struct engine_limits {
    std::uint64_t memory_budget = 256ull << 20;  // process-wide bytes of part buffers
    std::uint32_t part_attempts = 5;
};

boost::asio::awaitable<put_result> upload_file_in_parts(part_sink& sink, std::string key,
                                                        std::filesystem::path source, put_options options,
                                                        engine_limits limits = {});

}  // namespace wharf::storage
