// The `download` job type: fetches a URL (http/https, through the egress policy and the limits of
// wharf/fetch/client.hpp), hashing it while it arrives, continues a partial file left by an
// earlier attempt on this host (Range + If-Range), and stores it through the one storing path
// (storing.hpp: dedup, quota, placement, catalog and usage, presigned URL).
//
// Payload:
//   {"url": "https://media.example/clip.mp4",  required; http or https. Its userinfo and query
//                                              are never logged nor kept in a row
//    "key": "videos/v1/clip.mp4",            destination key (layout in storing.hpp), e.g.
//                                              temp/<pipeline>/... when a pipeline passes it;
//    "video_id": "v1",                       without "key": videos/<video_id>/<file name from the
//                                              URL, sanitised>. One of the two is required
//    "sha256": "<64 hex>",                   optional: checked before success (mismatch: permanent)
//    "size": 1234,                           optional: checked as soon as the server tells the
//                                              length, and before success (mismatch: permanent)
//    "max_bytes": 1048576,                   optional: lowers the worker's download_max_bytes
//    "content_types": ["video/*"],           optional: narrows the worker's download_content_types
//    "provider": "s3-main",                  optional: place there or fail
//    "api_key": "tenant-1",                  optional: the envelope's api_key wins; both must agree
//    "presign_expires": 3600}                optional: seconds, 1 s .. 7 days (default 1 h)
// Result:
//   {"provider", "bucket", "key", "size", "sha256", "etag", "presigned_url", "expires_in",
//    "duplicate", "url": redacted, "final_url": redacted (after redirects), "content_type",
//    "bytes_resumed": bytes kept from an earlier attempt, "http_version"}
// Progress: {"phase": "download", "done", "total", "bytes_per_second", "resumed"}, then the upload
// phase of store_file.
//
// Errors: a refused address, a 4xx (but 408/429), a body over the cap, a disallowed content type,
// a size or SHA-256 mismatch and a quota refusal are permanent; 5xx, timeouts, stalls and resets
// are retried. A partial file is kept for the next attempt after a retryable failure (unless it
// was the last attempt) and removed otherwise.
#pragma once

#include "storing.hpp"
#include "wharf/core/config.hpp"
#include "wharf/fetch/client.hpp"
#include "wharf/worker/registry.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wharf::worker {

// The worker's download settings (download_option_specs()).
struct download_settings {
    std::vector<fetch::allow_rule> allow;          // download_allow
    std::uint64_t max_bytes = std::uint64_t{10} << 30;  // download_max_bytes
    std::vector<std::string> content_types;        // download_content_types (normalised)
    std::chrono::seconds stall_window{60};         // download_stall_window (under 1 KiB/s)
    std::optional<std::filesystem::path> ca_file;  // download_ca_file
};
// download_allow, download_max_bytes, download_content_types, download_stall_window,
// download_ca_file: add them to the worker's specs.
std::vector<wharf::option_spec> download_option_specs();
// Throws config_error naming the setting.
download_settings download_settings_from(const wharf::config& cfg);

// A parsed, validated download payload; parse_download_request throws permanent_error with a
// readable reason (that never quotes the URL) for a bad one.
struct download_request {
    fetch::checked_url url;
    std::string key;
    std::optional<std::string> sha256;  // lower case
    std::optional<std::uint64_t> size;
    std::uint64_t max_bytes = 0;               // the smaller of the payload's and the worker's
    std::vector<std::string> content_types;    // the payload's, else the worker's
    std::optional<std::string> provider;
    std::optional<std::string> api_key;
    std::chrono::seconds presign_expires = storage::default_presign_expiry;
};
download_request parse_download_request(const nlohmann::json& payload, const std::optional<std::string>& envelope_api_key,
                                        const download_settings& settings);

struct download_services {
    download_services(std::shared_ptr<storage_services> storage, download_settings settings);
    std::shared_ptr<storage_services> storage;
    download_settings settings;
    fetch::client client;
};

// The `download` job type (max 5 attempts, 1 h timeout, retries from 2 s to 5 min).
job_type download_job_type(std::shared_ptr<download_services> services);
// registry.add(download_job_type(...)) with the settings read from `cfg` (throws config_error).
void register_download_job(job_registry& registry, std::shared_ptr<storage_services> storage, const wharf::config& cfg);

}  // namespace wharf::worker
