// Storing a job's output: the one path by which every job type (upload, download, transcode, a
// pipeline's publish step) puts a local file under a key -- the same bytes already there are not
// stored again, the tenant's quota is checked before a byte moves and again when the object is
// recorded, a provider is placed by free capacity, a multipart upload is journaled so a kill -9
// leaves nothing open, the object is recorded in the catalog with the usage counters in one
// transaction, a "provider full" alert goes out, and a presigned GET URL comes back.
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
// Orphaned multipart uploads: a multipart upload is recorded in multipart_uploads (with the job)
// after the provider created it and before its first part, and forgotten after it completed or
// was aborted. Every run of a job that stores first calls abort_uploads_left_open(), which aborts
// the uploads recorded for its (queue, id) -- an earlier attempt's, left open when its worker was
// killed -- so parts are not kept (and paid for) at the provider.
#pragma once

#include "wharf/core/config.hpp"
#include "wharf/storage/alerts.hpp"
#include "wharf/storage/catalog.hpp"
#include "wharf/storage/multipart_journal.hpp"
#include "wharf/storage/presign_cache.hpp"
#include "wharf/storage/registry.hpp"
#include "wharf/worker/job.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::worker {

// Why a key breaks the documented layout (temp/, videos/, processed/, transcripts/ need
// <prefix>/<id>/<name>), or the storage key rules; nullopt when it is fine.
std::optional<std::string> key_layout_violation(std::string_view key);
// temp/ keys are class temp, every other key permanent.
storage::prefix_class prefix_class_of(std::string_view key);

// Why a local file may not be read as a job's source, or nullopt when it may: it must be a
// regular file that, with every symlink resolved, lies inside one of `roots` (directories).
// Without roots no local file may be read: a producer must not be able to have /etc/shadow or the
// worker's own config stored and presigned for it. When allowed, `resolved` (if given) gets the
// resolved path, which is the one to open.
std::optional<std::string> local_source_refusal(const std::filesystem::path& source,
                                                const std::vector<std::filesystem::path>& roots,
                                                std::filesystem::path* resolved = nullptr);

struct storage_job_options {
    std::filesystem::path scratch_dir = "./.data/tmp";  // per-job scratch files and folders
    std::vector<std::filesystem::path> source_roots;    // where local sources may be; empty: nowhere
    std::chrono::milliseconds alert_sweep_interval{60'000};
};

// What the job types that store need, shared by every such job of the process.
class storage_services {
public:
    storage_services(std::unique_ptr<storage::registry> providers, pg::pool& db, storage::smtp_settings smtp,
                     storage_job_options options = {});
    ~storage_services();

    storage::registry& providers() noexcept { return *providers_; }
    storage::catalog& catalog() noexcept { return catalog_; }
    storage::multipart_journal& journal() noexcept { return journal_; }
    storage::alert_dispatcher& alerts() noexcept { return *alerts_; }
    storage::presign_cache& presigns() noexcept { return presigns_; }
    pg::pool& db() noexcept { return db_; }
    const storage_job_options& options() const noexcept { return options_; }

    // Writes the configured limits to storage_stats (once per process; later calls return at
    // once). store_file calls it; main may call it at start-up to fail early.
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
    pg::pool& db_;
    storage::catalog catalog_;
    storage::multipart_journal journal_;
    std::unique_ptr<storage::alert_dispatcher> alerts_;
    storage::presign_cache presigns_;
    storage_job_options options_;
    struct state;
    std::unique_ptr<state> state_;
};

// storage_providers, the SMTP settings, scratch_dir and local_source_roots: add them to the
// worker's specs.
std::vector<wharf::option_spec> storage_job_option_specs();
// Builds the services from configuration (providers from storage_providers; throws config_error).
std::shared_ptr<storage_services> make_storage_services(const wharf::config& cfg,
                                                        boost::asio::any_io_executor executor, pg::pool& db);

// Payload fields the storing job types read alike; a bad one is a permanent_error naming it.
std::string payload_string(const nlohmann::json& payload, const char* name);  // non-empty
std::optional<std::string> payload_optional_string(const nlohmann::json& payload, const char* name);
// "source": a local path, or a stored object {"provider", "key"} (the key checked; other fields
// of the object are the job type's).
struct payload_source {
    std::optional<std::filesystem::path> path;
    std::optional<std::string> provider, key;
};
payload_source parse_payload_source(const nlohmann::json& payload);
// The tenant: the envelope's api_key, else payload.api_key; when both are given they must agree.
std::optional<std::string> payload_api_key(const nlohmann::json& payload, const std::optional<std::string>& envelope);
// payload.presign_expires: seconds, 1 s .. 7 days; the default when absent.
std::chrono::seconds payload_presign_expires(const nlohmann::json& payload);

// A storage failure at a job's boundary: transient ones are retried (std::runtime_error), the rest
// fail the job now (permanent_error). `doing` says what failed ("uploading to s3:key").
[[noreturn]] void rethrow_storage(const storage::error& e, std::string_view doing);

// Progress to the job row, at most every 250 ms (plus the last one of each phase). Callable from
// any thread.
class progress_reporter {
public:
    explicit progress_reporter(std::function<void(nlohmann::json)> report) : report_(std::move(report)) {}
    void operator()(std::string_view phase, std::uint64_t done, std::uint64_t total);
    // Any JSON, under the same throttle (final = always sent).
    void report(nlohmann::json progress, bool final = false);

private:
    std::function<void(nlohmann::json)> report_;
    std::mutex mutex_;
    std::chrono::steady_clock::time_point last_{};
};

// A file or folder under the scratch directory, removed when the job ends, however it ends.
class scratch_path {
public:
    scratch_path() = default;
    // <scratch_dir>/<kind>-<queue>-<id, sanitised><suffix>; the scratch directory is created.
    scratch_path(const storage_job_options& options, std::string_view kind, const job_context& ctx,
                 std::string_view suffix = "");
    scratch_path(scratch_path&& other) noexcept : path_(std::exchange(other.path_, {})) {}
    scratch_path& operator=(scratch_path&&) = delete;
    scratch_path(const scratch_path&) = delete;
    ~scratch_path();
    const std::filesystem::path& path() const noexcept { return path_; }
    // Leaves the file for a later attempt of the job on this host (a download's partial file).
    void keep() noexcept { path_.clear(); }

private:
    std::filesystem::path path_;
};

// What a tenant may still store under a key, as store_file reckons it: its usage and quota, and
// the credit of its own object the store would replace.
struct quota_headroom {
    std::uint64_t used_bytes = 0;
    std::optional<std::uint64_t> quota_bytes;
    std::uint64_t credit_bytes = 0;
    // store_file's refusal ("quota exceeded: ...") for storing `size` bytes, or nullopt.
    std::optional<std::string> refusal(std::uint64_t size) const;
};
// nullopt without an api_key or a row for it (nothing to enforce). For a check before a transfer
// whose size is known early; store_file checks again, and recording checks atomically.
boost::asio::awaitable<std::optional<quota_headroom>> load_quota_headroom(storage_services& s, std::string key,
                                                                          std::optional<std::string> provider,
                                                                          std::optional<std::string> api_key);

// Aborts the multipart uploads recorded for this job: an earlier attempt's, left open because its
// worker died mid-upload. One that cannot be aborted now keeps its row (the next attempt, or
// `wharfctl storage orphans`, tries again); the job goes on either way. Call it first.
boost::asio::awaitable<void> abort_uploads_left_open(storage_services& s, const job_context& ctx);

struct store_request {
    std::filesystem::path file;  // the local file to store (already checked, resolved)
    std::uint64_t size = 0;
    std::string sha256;          // hex, computed once by the caller
    std::string key;
    std::optional<std::string> provider;  // place there or fail
    std::optional<std::string> api_key;   // charged to this tenant
    std::string content_type = "application/octet-stream";
    std::chrono::seconds presign_expires = storage::default_presign_expiry;
    // Progress of the upload ("upload" phase); may be empty.
    std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

struct stored_file {
    storage::object_record record;
    std::string presigned_url;
    std::chrono::seconds expires_in{0};
    bool duplicate = false;  // the same bytes were already stored under the key: nothing uploaded
};
// {provider, bucket, key, size, sha256, etag, presigned_url, expires_in, duplicate}
nlohmann::json to_json(const stored_file& f);

// Runs `put` (an upload to `target` under opened.key: a file, a stream) with its multipart upload
// journaled under opened's job_queue, job_id and attempt: an intent before the provider creates
// the upload, the upload's row once it exists (put_options::on_upload_created/aborted are set to
// the journal's), both forgotten once it completed or was aborted. What `put` throws passes
// through.
using journaled_put = std::function<boost::asio::awaitable<storage::put_result>(storage::put_options)>;
boost::asio::awaitable<storage::put_result> journal_upload(storage_services& s, storage::open_upload opened,
                                                           storage::provider& target, storage::put_options options,
                                                           journaled_put put);

// Puts a local file under `key` at `target` with the multipart upload journaled for ctx's job
// (recorded before its first part, forgotten once complete or aborted), so a kill -9 mid-upload
// leaves a row that abort_uploads_left_open or `wharfctl storage orphans` acts on. store_file's
// upload step; storage::error passes through as it is. options.on_upload_created/aborted are the
// journal's.
boost::asio::awaitable<storage::put_result> put_journaled(storage_services& s, const job_context& ctx,
                                                          storage::provider& target, std::string key,
                                                          std::filesystem::path source, storage::put_options options);

// The Content-Type stored objects get from their key's extension (renditions, segments,
// playlists, thumbnails, captions, metadata); application/octet-stream for the rest.
std::string content_type_for_key(std::string_view key);

// Stores `r.file` under `r.key` (see the top of this file). Throws permanent_error for what no
// retry fixes (quota, every provider full, a bad key) and std::runtime_error for transient
// failures. Many may run at once for one job (a transcode's renditions).
boost::asio::awaitable<stored_file> store_file(storage_services& s, const job_context& ctx, store_request r);

// Where `size` new bytes go: the `wanted` provider, or where `replaced` (the object the new one
// replaces, may be null) lives, or a weighted random choice by free capacity among the providers
// `eligible` accepts (all when empty). permanent_error when none has room.
boost::asio::awaitable<storage::provider*> place_object(storage_services& s, std::uint64_t size,
                                                        std::optional<std::string> wanted,
                                                        const storage::stored_object* replaced,
                                                        std::function<bool(const storage::provider&)> eligible);

// Records an object that is already at its provider under record.key (store_file's last step;
// also an object a client PUT itself through a presigned URL, once its size and SHA-256 were read
// back): usage and the quota re-checked in one transaction -- over the quota the object is
// removed again and permanent_error thrown --, the "provider full" alert, a presigned GET URL.
// Recording the same bytes again is a no-op.
boost::asio::awaitable<stored_file> record_stored(storage_services& s, const job_context& ctx,
                                                  storage::object_record record,
                                                  std::chrono::seconds presign_expires);

// Moves a stored object to another key on its provider: a server-side copy (no byte through the
// worker), the catalog row renamed in one transaction (usage unchanged), then the old key removed.
// Safe to run again after a crash at any point: a row already moved reports the new key.
boost::asio::awaitable<stored_file> move_stored(storage_services& s, const job_context& ctx,
                                                const storage::stored_object& from, std::string to_key,
                                                std::chrono::seconds presign_expires);
// Copies a stored object (provider:key, whose size and SHA-256 are known) to another key on the
// same provider and records the copy, charged to the job's tenant (quota applies).
boost::asio::awaitable<stored_file> copy_stored(storage_services& s, const job_context& ctx,
                                                const storage::object_record& from, std::string to_key,
                                                std::optional<std::string> api_key,
                                                std::chrono::seconds presign_expires);
// Removes every stored object under `prefix` (bytes and catalog rows) -- only those charged to
// `only_api_key` when it is given (a tenant's request must not reach another tenant's object that
// happens to share the prefix). Returns how many and their bytes.
struct removed_objects {
    std::uint64_t objects = 0, bytes = 0;
};
boost::asio::awaitable<removed_objects> remove_stored_prefix(storage_services& s, const job_context& ctx,
                                                             std::string prefix,
                                                             std::optional<std::string> only_api_key = std::nullopt);

}  // namespace wharf::worker
