// One interface, four backends (local filesystem, S3-compatible incl. GCS interop, Azure Blob).
// The storage library does not depend on the queue.
#pragma once

#include "wharf/storage/error.hpp"
#include "wharf/storage/tier.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wharf::storage {

class part_sink;  // multipart.hpp

struct object_info {
    std::string key;
    std::uint64_t size = 0;
    std::string etag;
    std::optional<std::string> sha256;  // hex, when the object carries it (metadata)
    std::chrono::system_clock::time_point last_modified;
    std::optional<std::string> content_type;  // as stored, where the provider keeps one (S3, Azure)
    // As stored (S3 Content-Encoding, Azure x-ms-blob-content-encoding), e.g. "gzip" for an object
    // the `compress` job recompressed; get_to_file writes the stored bytes, content.hpp decodes.
    std::optional<std::string> content_encoding;
    // head() only: the provider's class of the object (S3 x-amz-storage-class, STANDARD when the
    // server names none; Azure x-ms-access-tier; local "cold_root" or "root"); nullopt when unknown.
    std::optional<std::string> storage_class;
};

// Bytes done / total, called from the upload as parts finish.
using progress_fn = std::function<void(std::uint64_t done, std::uint64_t total)>;

struct put_options {
    std::string content_type = "application/octet-stream";
    // Stored with the object and sent to every reader, presigned URLs included ("gzip": an HTTP
    // client that asks for it decodes). Empty: none. The local provider keeps none and refuses one.
    std::string content_encoding;
    std::optional<std::string> sha256;  // hex, when the caller already has it (computed once, carried)
    std::map<std::string, std::string> metadata;
    std::uint64_t part_size = 0;        // 0: chosen from the object size (see multipart.hpp)
    std::size_t parts_in_flight = 8;
    progress_fn progress;
    // Multipart uploads only (nothing is called for a single PUT). on_upload_created gets the
    // upload's id -- what abort_incomplete(key, id) takes: the S3 UploadId, "uncommitted" for
    // Azure's blocks -- right after the provider created the upload and before any part is sent;
    // the parts wait for it. A caller records the upload durably there, so one that a crash
    // (kill -9) left open can be aborted later. If it throws, the upload is aborted and its
    // error rethrown. on_upload_aborted is called after an abort of a failed upload succeeded
    // (not when the abort failed too: the upload may then still be open). After a successful
    // put the upload is complete; no callback says so. Both run on the caller's executor.
    std::function<boost::asio::awaitable<void>(std::string upload_id)> on_upload_created;
    std::function<boost::asio::awaitable<void>(std::string upload_id)> on_upload_aborted;
};

struct put_result {
    std::string key;
    std::uint64_t size = 0;
    std::string etag;
    std::string sha256;  // hex, of the whole object, computed while streaming
    std::uint32_t parts = 1;
};

struct byte_range {
    std::uint64_t first = 0;
    std::optional<std::uint64_t> last;  // inclusive; none = to the end
};

struct list_page {
    std::vector<object_info> objects;
    std::optional<std::string> next;  // continuation token
};

struct incomplete_upload {
    std::string key, upload_id;
    std::chrono::system_clock::time_point initiated;
};

enum class http_method { get, put };

// Whether `file_name` is the temp file get_to_file writes beside `destination_leaf` until it is
// complete (".wharf-tmp-<12 hex digits>-<leaf>"): a process killed mid-download leaves it, and the
// next attempt at the same destination removes it. Pure.
bool is_download_temp_of(std::string_view file_name, std::string_view destination_leaf) noexcept;

class provider {
public:
    virtual ~provider() = default;
    virtual const std::string& name() const noexcept = 0;       // configured name, e.g. "s3-main"
    virtual std::string_view kind() const noexcept = 0;         // "local" | "s3" | "azure"
    virtual const std::string& bucket() const noexcept = 0;     // bucket, container or root folder

    // Single PUT below the multipart threshold, parallel multipart above it.
    virtual boost::asio::awaitable<put_result> put_file(std::string key, std::filesystem::path source,
                                                        put_options options) = 0;
    virtual boost::asio::awaitable<put_result> put_bytes(std::string key, std::string data, put_options options) = 0;
    // Streams the object (or a range) into a file, atomically (temp + rename: see
    // is_download_temp_of); verifies the SHA-256 when the object carries one and the whole object
    // was read. A whole read returns the SHA-256 of the bytes written in object_info::sha256.
    virtual boost::asio::awaitable<object_info> get_to_file(std::string key, std::filesystem::path destination,
                                                            std::optional<byte_range> range = {}) = 0;
    virtual boost::asio::awaitable<std::optional<object_info>> head(std::string key) = 0;
    virtual boost::asio::awaitable<void> remove(std::string key) = 0;  // absent is not an error
    // Returns the keys that could not be deleted.
    virtual boost::asio::awaitable<std::vector<std::string>> remove_many(std::vector<std::string> keys) = 0;
    virtual boost::asio::awaitable<list_page> list(std::string prefix, std::optional<std::string> continuation,
                                                   std::size_t max_keys = 1000) = 0;
    virtual boost::asio::awaitable<void> copy(std::string source_key, std::string destination_key) = 0;
    // Pure: no I/O. Expiry is clamped to [1 s, 7 days].
    virtual std::string presign(http_method method, const std::string& key, std::chrono::seconds expires) const = 0;
    virtual boost::asio::awaitable<std::vector<incomplete_upload>> list_incomplete(std::string prefix) = 0;
    virtual boost::asio::awaitable<void> abort_incomplete(std::string key, std::string upload_id) = 0;

    // The part sink through which a stream of unknown length goes to `key` (upload_stream in
    // stream_upload.hpp): S3 multipart, Azure blocks, the local provider's temp file. Null (the
    // default) when the provider takes no streams.
    virtual std::unique_ptr<part_sink> stream_sink(std::string key);

    // Tiers (lifecycle rules). The provider's class for objects of tier `t` (an S3 storage class,
    // an Azure access tier, "root" or "cold_root" for the local provider), as head() reports it in
    // object_info::storage_class; nullopt when this provider does not place objects by tier (the
    // default; a local provider without a cold_root).
    virtual std::optional<std::string> tier_class(storage::tier t) const;
    // Puts the stored object in tier `t`'s class, keeping its bytes, metadata (the stored SHA-256
    // included) and content type. Idempotent: an object already there is left alone, so a caller
    // killed after this call may call it again. Throws storage::error: not_found when the object
    // is absent, permanent when the provider has no class for `t` (tier_class is nullopt).
    virtual boost::asio::awaitable<void> set_tier(std::string key, storage::tier t);
};

// Keys: 1-1024 bytes of UTF-8, no "..", "." or empty path segments, no leading "/", no NUL or
// control characters, no backslash. Returns a readable reason when the key is refused.
std::optional<std::string> invalid_key_reason(std::string_view key);

}  // namespace wharf::storage
