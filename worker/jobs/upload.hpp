// The `upload` job type: puts a local file or a stored object under a key, through the one
// storing path (storing.hpp: dedup, quota, placement, journaled multipart upload, catalog and
// usage, alerts), and returns where it went with a presigned GET URL.
//
// Payload:
//   {"source": "/path/to/file" | {"provider": "s3-main", "key": "videos/v1/raw.mp4"},
//    "key": "processed/v1/720p.mp4",        destination key (required; layout in storing.hpp)
//    "provider": "s3-main",                 optional: place there or fail
//    "api_key": "tenant-1",                 optional: the envelope's api_key wins; both must agree
//    "class": "temp" | "permanent",         optional: must agree with the key's prefix
//    "content_type": "video/mp4",           optional
//    "presign_expires": 3600}               optional: seconds, 1 s .. 7 days (default 1 h)
// Result:
//   {"provider", "bucket", "key", "size", "sha256", "etag", "presigned_url", "expires_in",
//    "duplicate": true when the same bytes were already stored under the key (nothing uploaded)}
//
// A local source must lie under the worker's local_source_roots (see local_source_refusal).
#pragma once

#include "storing.hpp"
#include "wharf/worker/registry.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace wharf::worker {

// A parsed, validated upload payload. parse_upload_request throws permanent_error with a
// readable reason for a bad one.
struct upload_request {
    std::optional<std::filesystem::path> source_path;
    std::optional<std::string> source_provider, source_key;
    std::string key;
    std::optional<std::string> provider;
    std::optional<std::string> api_key;
    storage::prefix_class prefix_class = storage::prefix_class::permanent;
    std::string content_type = "application/octet-stream";
    std::chrono::seconds presign_expires = storage::default_presign_expiry;
};
upload_request parse_upload_request(const nlohmann::json& payload, const std::optional<std::string>& envelope_api_key);

// The `upload` job type (max 5 attempts, 1 h timeout, retries from 2 s to 5 min).
job_type upload_job_type(std::shared_ptr<storage_services> services);
// registry.add(upload_job_type(services)).
void register_upload_job(job_registry& registry, std::shared_ptr<storage_services> services);

}  // namespace wharf::worker
