// Compression of old jobs (`wharfctl storage compress` and the `compress` job type): the
// compressible artifacts (metadata, playlists, captions, transcripts, logs) of jobs that finished
// long ago are stored again under their own keys, gzip-encoded, and their catalog rows and usage
// follow.
//
// Per object: its stored bytes are read and checked against the catalog's SHA-256; a type that is
// media or unknown is left alone, and so is one whose trial compression saves too little (both
// remembered, so later runs skip it until it is replaced); the gzip bytes are decoded and hashed
// locally, must give back the original, and only then replace it at the provider (Content-Encoding
// gzip, the content type kept); they are read back from the provider, decoded and hashed again
// before the row switches (catalog record_compression: size, encoding, stored SHA-256; the
// provider's and the tenant's usage drop by the bytes saved, in one transaction). If the read-back
// fails, the original bytes (still on local disk) are put back.
//
// No state of its own: the stored object says what it holds (Content-Encoding), so a run killed
// between the provider's write and the catalog's (kill -9) leaves a row that still reads
// unencoded over gzip bytes; the next run reads them, finds they decode to the row's SHA-256, and
// switches the row without writing again. Nothing is counted twice: the switch changes a row only
// while it is unencoded with the original size.
//
// Readers get the original bytes: wharf's through storage::get_content, a presigned URL's HTTP
// client by Content-Encoding (browsers and libraries decode; curl with --compressed). The local
// provider keeps no encoding (a file:// URL cannot ask to decode), so its objects are not candidates.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::pg {
class pool;
}
namespace wharf::storage {
class registry;
}

namespace wharf::lifecycle {

struct compress_options {
    std::optional<std::string> provider;                       // only this provider's objects
    std::chrono::seconds older_than = std::chrono::hours(24 * 90);  // since the job finished
    std::uint64_t limit = 10'000;                              // objects examined by one run at most
    std::uint64_t min_size = 1024;                             // smaller objects are not worth a request
    std::uint64_t max_size = 64ull << 20;                      // compressed in memory; larger are left
    double max_ratio = 0.9;  // compressed / original above this: not worth it (kept, remembered)
    int level = 9;           // gzip level, 1..9
    bool dry_run = false;    // count the candidates of a compressible type; read and change nothing
    std::filesystem::path scratch_dir = std::filesystem::temp_directory_path();
};

// What an object's key and content type say about compressing it. Pure.
enum class content_kind { text, media, unknown };
content_kind kind_of_key(std::string_view key) noexcept;
content_kind kind_of_content_type(std::string_view content_type) noexcept;
// Media by either: never; text by either: yes; neither: no (unknown bytes are left as they are).
bool compressible(std::string_view key, const std::optional<std::string>& content_type) noexcept;

struct compress_failure {
    std::string provider, key, error;
};

struct compress_report {
    bool dry_run = false;
    std::uint64_t examined = 0;           // candidate rows looked at
    std::uint64_t compressed = 0;         // objects switched to gzip by this run (dry run: would be tried)
    std::uint64_t finished = 0;           // of them, found already encoded by a run that was killed
    std::uint64_t bytes_before = 0, bytes_after = 0;  // of the compressed objects, stored bytes
    std::uint64_t skipped_type = 0;       // media or unknown type: left, remembered
    std::uint64_t skipped_ratio = 0;      // trial compression saved too little: left, remembered
    std::uint64_t skipped_provider = 0;   // on a provider (or bucket) this process lacks
    std::uint64_t skipped_changed = 0;    // deleted or replaced while the run went on
    std::uint64_t failed = 0;             // tried again by the next run
    std::vector<compress_failure> failures;  // the first 100
    bool limit_reached = false;
    bool complete() const noexcept { return failed == 0; }
};

// Throws std::invalid_argument for options out of range or an unknown provider.
void check_compress_options(const storage::registry& providers, const compress_options& o);

// One run over the catalog's candidates (live, unencoded, not remembered as not worth it, between
// min_size and max_size, of a job that finished more than older_than ago -- or, when the job's row
// is gone, stored that long ago), oldest id first. Throws for what stops the whole run
// (PostgreSQL unreachable); an object that fails is in the report.
boost::asio::awaitable<compress_report> compress_old_jobs(pg::pool& db, const storage::registry& providers,
                                                          compress_options options,
                                                          std::function<void(const compress_report&)> progress = {});

// {dry_run, examined, compressed, finished, bytes_before, bytes_after, skipped_type, skipped_ratio,
//  skipped_provider, skipped_changed, failed, complete, limit_reached, failures: [...]}. Pure.
nlohmann::json to_json(const compress_report& r);

// The options from a `compress` job's payload: {"provider", "older_than_days", "limit",
// "dry_run"}; std::invalid_argument naming the field when bad. Starts from `defaults`.
compress_options parse_compress_payload(const nlohmann::json& payload, compress_options defaults);

}  // namespace wharf::lifecycle
