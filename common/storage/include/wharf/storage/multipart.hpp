// The parallel chunked upload engine, shared by every backend that uploads in parts (S3 multipart,
// Azure Put Block / Put Block List). A backend supplies a part_sink; the engine plans parts, reads
// them from the file with pread (a retried part is re-read, not held), keeps N in flight under a
// process-wide memory budget, retries parts with the one backoff policy, hashes the whole object
// with SHA-256 while streaming, checks the byte count, and aborts on failure after in-flight parts
// drain -- never after a successful complete.
#pragma once

#include "wharf/core/backoff.hpp"
#include "wharf/storage/checksum.hpp"
#include "wharf/storage/memory_budget.hpp"
#include "wharf/storage/provider.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace wharf::storage {

inline constexpr std::uint64_t min_part_size = 5ull << 20;        // S3: every part but the last
inline constexpr std::uint64_t max_part_size = 5ull << 30;        // S3: 5 GiB
inline constexpr std::uint64_t default_part_size = 16ull << 20;
inline constexpr std::uint32_t max_parts = 10'000;
inline constexpr std::uint64_t max_object_size = 5ull << 40;      // S3: 5 TiB

struct part_plan {
    std::uint64_t part_size = 0;  // every part but the last; equals the object size when it is one part
    std::uint32_t part_count = 0;
    friend bool operator==(const part_plan&, const part_plan&) = default;
};
// At least `minimum` (S3: 5 MiB) unless the object is smaller (then one part of the whole object,
// an empty object being one empty part), at most 5 GiB, at most 10,000 parts; `preferred`
// (0 = 16 MiB) is raised (in whole MiB) as needed. Pure. Throws storage::error(permanent) above
// 5 TiB.
part_plan plan_parts(std::uint64_t object_size, std::uint64_t preferred = 0, std::uint64_t minimum = min_part_size);

struct uploaded_part {
    std::uint32_t number = 0;  // 1-based
    std::uint64_t size = 0;
    std::string etag;          // S3 ETag, or the Azure block id
    std::string checksum;      // the part checksum sent with it (base64; empty for none)
    // Set by the sink: the server is known to have checked the part's bytes (it echoed the
    // x-amz-checksum-* it validated, or took a Content-MD5). complete() relies on it when the
    // server gives no whole-object checksum to compare.
    bool server_verified = false;
};

// One part's bytes: in memory, or -- for a sink that accepts_file_parts() -- a region of the open
// source file, which a plain-TCP transport sends with sendfile() without copying it through user
// space. The engine has just read (and hashed) that region, so it is in the page cache.
struct part_body {
    std::span<const char> bytes;  // memory mode
    int fd = -1;                  // file mode: the source, borrowed for the call
    std::uint64_t offset = 0;     // file mode: where the part starts in it
    std::uint64_t size = 0;       // both modes
    bool in_file() const noexcept { return fd >= 0; }
};

// What a backend implements for the engine. Each call is one network operation with its own
// deadline; it throws storage::error (transient ones are retried by the engine). Calls for
// different parts may run concurrently (up to parts_in_flight of them).
class part_sink {
public:
    virtual ~part_sink() = default;
    virtual boost::asio::awaitable<void> begin(const std::string& key, const put_options& options) = 0;
    // `checksum` is the checksum() of the part's bytes, base64 (computed by the engine; empty for
    // checksum_kind::none). A server's refusal of the bytes (S3 BadDigest and the like) is
    // errc::integrity: the engine re-reads the part and, when it still reads the same, sends it
    // again within its retry bound (the bytes were damaged on the way).
    virtual boost::asio::awaitable<uploaded_part> upload_part(std::uint32_t number, const part_body& body,
                                                              const std::string& checksum) = 0;
    // sha256_hex of the whole object, to store with it (metadata). Returns the object's ETag.
    // The engine retries it on transient errors, so it must be idempotent.
    virtual boost::asio::awaitable<std::string> complete(const std::vector<uploaded_part>& parts,
                                                         const std::string& sha256_hex) = 0;
    virtual boost::asio::awaitable<void> abort() = 0;
    // The per-part checksum the backend sends (Content-MD5, x-amz-checksum-crc32...).
    virtual checksum_kind checksum() const { return checksum_kind::md5; }
    // Whether upload_part() takes part_body in file mode (the transport can send from a file).
    virtual bool accepts_file_parts() const { return false; }
    // After begin: the id that provider::abort_incomplete takes for this upload (S3 UploadId,
    // Azure "uncommitted"). Empty: nothing to name (test sinks); put_options' upload callbacks
    // are then not called.
    virtual std::string upload_id() const { return {}; }
    // The smallest part the backend accepts (but the last). Azure blocks may be any size.
    virtual std::uint64_t min_part_size() const { return storage::min_part_size; }
    // Whether parts must be sent one at a time, in order (the local provider appends them).
    virtual bool sequential_parts() const { return false; }
};

struct engine_limits {
    memory_budget* budget = nullptr;  // part buffers come from here; null = memory_budget::process()
    // Attempts per part (and for complete), with full-jitter delays between them.
    backoff_policy retry{std::chrono::milliseconds(200), std::chrono::seconds(10), 5};
};

// Uploads `source` through `sink`. The SHA-256 comes from options.sha256 when the caller has it
// (computed once, carried), else it is computed while the parts are read: then each part is read
// once, in order, in cache-sized chunks that feed both the object's SHA-256 and the part's
// checksum. Without it, parts are read and checksummed in parallel. Progress is reported
// through options.progress as parts finish. Throws storage::error: integrity when the file
// changed while it was read (or the server kept refusing a part's bytes), the error of the first
// failed part otherwise (the upload has then been aborted).
boost::asio::awaitable<put_result> upload_file_in_parts(part_sink& sink, std::string key,
                                                        std::filesystem::path source, put_options options,
                                                        engine_limits limits = {});

// Fills `into` with the stream's next bytes and returns how many it wrote (fewer than asked is
// fine); 0 when the stream has ended. Throws when the stream failed.
using stream_reader = std::function<boost::asio::awaitable<std::size_t>(std::span<char> into)>;

// Uploads a stream of unknown length (a pg_dump pipe) through `sink`, with no temp file: parts of
// options.part_size (0: 16 MiB; at least the sink's minimum) are filled from `read` in order,
// hashed (the object's SHA-256 and the part checksum) and sent with up to
// options.parts_in_flight in flight. A part's buffer is held until the part is stored -- a
// stream cannot be re-read -- so a failed part is resent from memory, within the retry bound:
// memory is (parts_in_flight + 1) x part_size. A stream longer than 10,000 parts fails
// (permanent, "raise the part size"); an empty stream is one empty part. On any failure
// (`read` threw included) in-flight parts drain, the upload is aborted and the error rethrown.
// Progress reports bytes done with total 0 (unknown). options.sha256 is ignored (computed).
boost::asio::awaitable<put_result> upload_stream_in_parts(part_sink& sink, std::string key, stream_reader read,
                                                          put_options options, engine_limits limits = {});

}  // namespace wharf::storage
