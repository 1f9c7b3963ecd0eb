// The `upload` job type: puts a local file or a stored object under a key on a provider chosen by
// the placement policy, records it in the catalog (usage, quotas, "provider full" alerts), and
// returns where it went with a presigned GET URL.
//
// Payload:
//   {"source": "/path/to/file" | {"provider": "s3-main", "key": "videos/v1/raw.mp4"},
//    "key": "processed/v1/720p.mp4",        destination key (required)
//    "provider": "s3-main",                 optional: place there or fail
//    "api_key": "tenant-1",                 optional: the envelope's api_key wins; both must agree
//    "class": "temp" | "permanent",         optional: follows the key's prefix (see below)
//    "content_type": "video/mp4",           optional
//    "presign_expires": 3600}               optional: seconds, 1 s .. 7 days (default 1 h)
// Result:
//   {"provider", "bucket", "key", "size", "sha256", "etag", "presigned_url", "expires_in",
//    "duplicate": true when the same bytes were already stored under the key (nothing uploaded)}
//
// Key layout (the documented prefixes; other keys are free-form but still sanitised):
//   temp/<owner>/<name...>         scratch between pipeline steps, owner = job or pipeline id;
//                                  class temp (and only these keys are temp): may be purged
//   videos/<video-id>/<name...>    originals as received
//   processed/<video-id>/<name...> derived renditions: transcodes, thumbnails, audio
//   transcripts/<video-id>/<name...> transcripts and captions (vtt, srt, json)
// Under those prefixes a key needs at least the three segments shown.
//
// Exactness under retries: the object is recorded after the upload, in one transaction with the
// usage counters; recording the same bytes again is a no-op. A job killed between upload and
// record is retried; the retry finds the already-uploaded object (same size and SHA-256, by HEAD)
// and records it once instead of placing it again.
//
// Orphaned multipart uploads: a multipart upload is recorded in multipart_uploads (with the job
// id) after the provider created it and before its first part, and forgotten after it completed
// or was aborted. Every run of an upload job first aborts the uploads recorded for its id -- an
// earlier attempt's, left open when its worker was killed -- so parts are not kept (and paid for)
// at the provider. Uploads whose job is final or gone are `wharfctl storage orphans`' business.
#pragma once

#include "wharf/core/config.hpp"
#include "wharf/storage/alerts.hpp"
#include "wharf/storage/catalog.hpp"
#include "wharf/storage/multipart_journal.hpp"
#include "wharf/storage/presign_cache.hpp"
#include "wharf/storage/registry.hpp"
#include "wharf/worker/registry.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

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

// Why a key breaks the documented layout (temp/, videos/, processed/, transcripts/ need
// <prefix>/<id>/<name>), or the storage key rules; nullopt when it is fine.
std::optional<std::string> key_layout_violation(std::string_view key);

// Why a local `source` may not be uploaded, or nullopt when it may: it must be a regular file
// that, with every symlink resolved, lies inside one of `roots` (directories). Without roots no
// local file may be uploaded: a producer must not be able to have /etc/shadow or the worker's own
// config stored and presigned for it. When allowed, `resolved` (if given) gets the resolved path.
std::optional<std::string> local_source_refusal(const std::filesystem::path& source,
                                                const std::vector<std::filesystem::path>& roots,
                                                std::filesystem::path* resolved = nullptr);

struct upload_options {
    std::filesystem::path scratch_dir = "./.data/tmp";  // downloads of storage-object sources
    std::vector<std::filesystem::path> source_roots;    // where local sources may be; empty: nowhere
    std::chrono::milliseconds alert_sweep_interval{60'000};
};

// What the handler needs, shared by every upload job of the process.
class upload_services {
public:
    upload_services(std::unique_ptr<storage::registry> providers, pg::pool& db, storage::smtp_settings smtp,
                    upload_options options = {});
    ~upload_services();

    storage::registry& providers() noexcept { return *providers_; }
    storage::catalog& catalog() noexcept { return catalog_; }
    storage::multipart_journal& journal() noexcept { return journal_; }
    storage::alert_dispatcher& alerts() noexcept { return *alerts_; }
    storage::presign_cache& presigns() noexcept { return presigns_; }
    const upload_options& options() const noexcept { return options_; }

    // Writes the configured limits to storage_stats (once per process; later calls return at
    // once). The upload handler calls it; main may call it at start-up to fail early.
    boost::asio::awaitable<void> prepare();
    // Retries alerts that failed or whose sender died, every alert_sweep_interval, until
    // cancelled. main co_spawns it next to the runtime.
    boost::asio::awaitable<void> run_alert_sweeper();

    // Runs CPU-bound or blocking file work (hashing) off the I/O threads.
    boost::asio::thread_pool& blocking_pool() noexcept;
    // storage::choose_provider with the process's random generator.
    boost::system::result<std::size_t, storage::refusal> place(std::span<const storage::provider_capacity> capacity,
                                                             std::uint64_t size, std::optional<std::string_view> wanted);

private:
    std::unique_ptr<storage::registry> providers_;
    storage::catalog catalog_;
    storage::multipart_journal journal_;
    std::unique_ptr<storage::alert_dispatcher> alerts_;
    storage::presign_cache presigns_;
    upload_options options_;
    struct state;
    std::unique_ptr<state> state_;
};

// storage_providers, the SMTP settings and upload_scratch_dir: add them to the worker's specs.
std::vector<wharf::option_spec> upload_option_specs();
// Builds the services from configuration (providers from storage_providers; throws config_error).
std::shared_ptr<upload_services> make_upload_services(const wharf::config& cfg, boost::asio::any_io_executor executor,
                                                      pg::pool& db);

// The `upload` job type (max 5 attempts, 1 h timeout, retries from 2 s to 5 min).
job_type upload_job_type(std::shared_ptr<upload_services> services);
// registry.add(upload_job_type(services)).
void register_upload_job(job_registry& registry, std::shared_ptr<upload_services> services);

}  // namespace wharf::worker
