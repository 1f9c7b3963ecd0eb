// The S3-compatible backend: AWS S3, MinIO, Cloudflare R2 and GCS (XML API with HMAC keys) as
// profiles of one client, over the one HTTP client, signed with SigV4.
#pragma once

#include "wharf/storage/multipart.hpp"
#include "wharf/storage/provider.hpp"
#include "wharf/storage/s3/sigv4.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::http {
class client;
}

namespace wharf::storage::s3 {

// Per-provider quirks:
//   aws     virtual-hosted by default, endpoint https://s3.<region>.amazonaws.com
//   minio   path-style; endpoint required
//   r2      region "auto", path-style; parts of equal size (the engine plans them so) and no
//           x-amz-checksum-* headers (parts carry Content-MD5); endpoint required
//   gcs     endpoint https://storage.googleapis.com, region "auto", path-style; metadata as
//           x-goog-meta-*, ETags; downloads are checked against x-goog-hash's crc32c; parts
//           carry Content-MD5
//   generic path-style; endpoint required
// Parts of aws, minio and generic carry x-amz-checksum-crc32 (the AWS SDKs' default, which
// S3-compatible stores accept) unless part_checksum says otherwise.
enum class profile { aws, minio, r2, gcs, generic };
std::optional<profile> parse_profile(std::string_view name) noexcept;
std::string_view to_string(profile p) noexcept;

struct config {
    std::string name = "s3";
    s3::profile profile = profile::generic;
    std::string endpoint;                // "http://127.0.0.1:9000"; empty: the profile's default
    std::string region;                  // empty: the profile's default ("us-east-1" / "auto")
    std::string bucket;
    std::optional<bool> path_style;      // empty: the profile's default
    sigv4::credentials credentials;      // never logged
    std::uint64_t multipart_threshold = 64ull << 20;  // put_file above this goes multipart
    std::uint64_t part_size = 0;  // preferred part size when put_options has none; 0: the engine's choice
    engine_limits engine;
    std::chrono::milliseconds timeout{30'000};        // per network step (see http::request_options)
    backoff_policy retry{std::chrono::milliseconds(200), std::chrono::seconds(10), 5};  // non-part calls
    bool verify_tls = true;
    std::optional<std::filesystem::path> ca_file;
    // Sign single-PUT payloads with their SHA-256 (which wharf computes anyway), so S3 checks it.
    bool sign_payload = true;
    // copy() above this size is a multipart copy (UploadPartCopy): S3 refuses CopyObject above 5 GiB.
    std::uint64_t copy_part_threshold = 5ull << 30;
    std::uint64_t copy_part_size = 512ull << 20;  // raised as needed to stay within 10,000 parts
    std::size_t copy_parts_in_flight = 4;
    // The checksum on every multipart part; empty: the profile's (crc32, or md5 for r2 and gcs).
    // crc32/crc32c are refused for r2 and gcs.
    std::optional<checksum_kind> part_checksum;
};

// The part checksum a config resolves to. Throws storage::error(permanent) for a combination the
// provider does not take (x-amz-checksum-* on r2 or gcs).
checksum_kind resolve_part_checksum(const config& c);

// Where requests for a bucket go: the resolved profile defaults. Pure; for tests and presign.
struct addressing {
    std::string origin;         // "https://bucket.s3.us-east-1.amazonaws.com"
    std::string bucket_path;    // "" (virtual-hosted) or "/bucket" (path-style)
    std::string region;
    bool path_style = true;
    // The encoded path of an object: bucket_path + "/" + uri_encode(key, keep '/').
    std::string object_path(std::string_view key) const;
};
// Virtual-hosted when the profile says so (aws) and it can work; path-style otherwise (see
// the provider settings table in the README). Throws storage::error(permanent) for path_style:
// false where the bucket cannot be a host name.
addressing resolve_addressing(const config& c);
// The pieces of that choice: an endpoint host that is an IP address or localhost, and a bucket
// name that is valid as DNS labels.
bool is_ip_literal_or_localhost(std::string_view host);
bool is_dns_compatible_bucket(std::string_view bucket);

// Tiers as storage classes. aws, minio, generic: hot STANDARD, warm STANDARD_IA, cold GLACIER_IR
// (Glacier Instant Retrieval: millisecond reads like the other two, so every read path keeps
// working; GLACIER and DEEP_ARCHIVE would need a restore first). r2 has one colder class:
// STANDARD_IA for warm and cold. gcs: STANDARD, NEARLINE, COLDLINE. Pure.
std::string_view storage_class_for(profile p, storage::tier t) noexcept;
// The header that carries the class: x-goog-storage-class for gcs, x-amz-storage-class otherwise.
std::string_view storage_class_header(profile p) noexcept;

// Builds the provider; the HTTP client (and its connection pool) is created on `executor`.
std::unique_ptr<storage::provider> make_provider(boost::asio::any_io_executor executor, config c);

// PutBucketLifecycleConfiguration of the provider's bucket with `xml` (sent with its Content-MD5,
// which S3 requires on this request). `p` must come from make_provider (not wrapped);
// std::invalid_argument otherwise. Throws storage::error when the server refuses it.
boost::asio::awaitable<void> put_bucket_lifecycle(storage::provider& p, std::string xml);
// GetBucketLifecycleConfiguration: the configuration as the server holds it (a reply above 1 MiB
// is refused), or nullopt when the bucket has none.
boost::asio::awaitable<std::optional<std::string>> get_bucket_lifecycle(storage::provider& p);

// The provider's multipart part_sink for `key`, to drive the engine directly (tests, tools).
// `p` must come from make_provider and outlive the sink; throws std::invalid_argument otherwise.
std::unique_ptr<part_sink> make_part_sink(storage::provider& p, std::string key);

}  // namespace wharf::storage::s3
