// Database backups with tested restores: the `backup` and `restore-drill` job types (queues
// `backup` and `restore-drill`) and `wharfctl backup list | run | restore | verify | drill | prune`
// run this code.
//
// backup: a row in `backups` (migrations/0014) says 'running'; a REPEATABLE READ transaction
// exports its snapshot; `pg_dump --format=custom --compress=0 --snapshot=...` writes to a pipe;
// the bytes are compressed with zstd as they arrive and streamed into a multipart upload at the
// backup provider (storage::upload_stream: no temp file, the upload journaled so a kill leaves none
// open for long). Meanwhile the same snapshot's census (every table's rows and checksum) is taken
// for the manifest. The row says 'succeeded' -- with size, SHA-256, server version, schema version,
// timing -- only when pg_dump exited 0, the dump began as a pg_dump archive and was not implausibly
// small, and the upload completed; any failure (pg_dump's exit, a write, a part) aborts the upload,
// marks the row failed and skips retention. Retention (retention.hpp) then runs.
//
// restore: the stored object is downloaded to the scratch directory and its size and SHA-256 are
// checked against the row before the target is touched; a target that has tables is refused
// unless `replace` (then pg_restore --clean); the stream is decompressed into `pg_restore
// --single-transaction --exit-on-error`, so a failed restore leaves the target as it was.
//
// restore-drill: the latest succeeded backup (or a given one) is restored into a scratch database
// on the same server, its census and schema version compared with the manifest, the backup marked
// verified (with the restore time) or its drill_error recorded, and the scratch database dropped.
// One drill at a time (an advisory lock); a drill killed mid-way leaves a scratch database that
// the next one drops.
#pragma once

#include "storing.hpp"
#include "wharf/backup/aead_stream.hpp"
#include "wharf/backup/retention.hpp"
#include "wharf/core/config.hpp"
#include "wharf/worker/registry.hpp"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wharf::worker {

struct backup_settings {
    std::string database_url;             // the database to back up (the job-state database)
    std::string provider;                 // a configured storage provider
    std::string prefix = "backups/";      // objects go to <prefix>db/<UTC time>-<id>.dump.zst
    int zstd_level = 3;
    int zstd_workers = 2;                 // libzstd's own compression threads
    std::uint64_t part_size = 16ull << 20;
    std::size_t parts_in_flight = 4;
    std::uint64_t min_dump_bytes = 1024;  // a dump smaller than this is not a backup of this database
    backup::retention_policy retention;
    std::filesystem::path scratch_dir = "./.data/tmp";  // restores download the backup here
    std::chrono::seconds pg_timeout{6 * 3600};          // pg_dump / pg_restore may take at most this
    // From the environment (WHARF_BACKUP_KEY, never a flag): new backups are sealed with it
    // (AES-256-GCM in chunks, aead_stream.hpp) and encrypted ones opened with it.
    std::optional<backup::aead_key> encryption_key;
};

// backup_provider, backup_prefix, backup_keep_days, backup_keep_verified, backup_zstd_level:
// add them to a program's specs. The settings from a loaded config (database_url and
// scratch_dir included). Throws config_error.
std::vector<option_spec> backup_option_specs();
backup_settings backup_settings_from(const config& cfg, const storage::registry& providers);

struct backup_record {
    std::int64_t id = 0;
    std::string status;  // running | succeeded | failed | deleted
    std::string provider, bucket, key, format;
    std::optional<std::uint64_t> size, dump_bytes;
    std::optional<std::string> sha256, server_version, owner, error, drill_error;
    std::optional<std::int32_t> schema_version;
    std::optional<double> seconds, restore_seconds;
    std::chrono::system_clock::time_point started_at;
    std::optional<std::chrono::system_clock::time_point> finished_at, verified_at, drilled_at, deleted_at;
    std::string manifest;  // the census as JSON text ("" when none)
    // The archive of the processed jobs' metadata.json files beside the dump (none: no key).
    std::optional<std::string> metadata_key, metadata_sha256, metadata_error;
    std::optional<std::uint64_t> metadata_size, metadata_files;
    bool verified() const noexcept { return verified_at.has_value(); }
};
nlohmann::json to_json(const backup_record& b);

// Bytes pg_dump wrote so far, bytes stored so far.
using backup_progress = std::function<void(std::uint64_t dumped, std::uint64_t stored)>;

struct retention_report {
    bool dry_run = false;
    std::vector<backup::retention_decision> deleted;  // or, dry: would delete
    std::string error;  // after a backup: why retention could not run (the backup stands)
};
nlohmann::json to_json(const retention_report& r);

struct backup_outcome {
    backup_record backup;
    retention_report retention;
};

// Throws std::runtime_error (the row then says failed, with the reason) when the backup failed.
boost::asio::awaitable<backup_outcome> run_backup(storage_services& s, const backup_settings& settings,
                                                  backup_progress progress = {});

boost::asio::awaitable<std::vector<backup_record>> list_backups(storage_services& s, bool with_deleted);
// permanent_error when there is no backup with that id.
boost::asio::awaitable<backup_record> find_backup(storage_services& s, std::int64_t id);

// Bytes of the stored object read so far, of its size.
using transfer_progress = std::function<void(std::uint64_t done, std::uint64_t total)>;

struct verify_report {
    backup_record backup;
    bool ok = false;
    std::string problem;           // why not
    std::uint64_t dump_bytes = 0;  // decompressed
};
nlohmann::json to_json(const verify_report& r);
// Downloads the backup, checks size and SHA-256 against the row, decompresses it whole (zstd's
// frame checksums) and checks it is a pg_dump archive of the recorded length.
boost::asio::awaitable<verify_report> verify_backup(storage_services& s, const backup_settings& settings,
                                                    std::int64_t id, transfer_progress progress = {});

struct restore_report {
    std::int64_t id = 0;
    std::uint64_t dump_bytes = 0;
    double seconds = 0;  // download, check and pg_restore
};
// Throws permanent_error: a damaged backup (before the target is touched), a target with tables
// without `replace`, pg_restore failing (with its last stderr lines).
boost::asio::awaitable<restore_report> restore_backup(storage_services& s, const backup_settings& settings,
                                                      std::int64_t id, std::string target_url, bool replace,
                                                      transfer_progress progress = {});

struct drill_report {
    backup_record backup;
    bool passed = false;
    std::vector<std::string> problems;
    double restore_seconds = 0;
    std::string scratch_database;
};
nlohmann::json to_json(const drill_report& r);
// The latest succeeded backup when `id` is empty; permanent_error when there is none.
boost::asio::awaitable<drill_report> restore_drill(storage_services& s, const backup_settings& settings,
                                                   std::optional<std::int64_t> id = {});

// Deletes (or, dry, lists) what retention.hpp says goes: the object, then the row marked deleted.
boost::asio::awaitable<retention_report> apply_retention(storage_services& s, const backup_settings& settings,
                                                         bool dry_run);

// Payloads: backup {} (result: the backup's row and what retention deleted); restore-drill
// {"backup_id": 12} (optional; default the latest succeeded backup; a drill that finds a
// difference fails the job permanently with the differences).
void register_backup_job(job_registry& registry, std::shared_ptr<storage_services> services, backup_settings settings);
void register_restore_drill_job(job_registry& registry, std::shared_ptr<storage_services> services,
                                backup_settings settings);

}  // namespace wharf::worker
