// See wharf/lifecycle/compress.hpp.
#include "wharf/lifecycle/compress.hpp"

#include "wharf/pg/pool.hpp"
#include "wharf/storage/catalog.hpp"
#include "wharf/storage/error.hpp"
#include "wharf/storage/gzip.hpp"
#include "wharf/storage/registry.hpp"
#include "wharf/storage/sha256.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

namespace wharf::lifecycle {
namespace {

namespace asio = boost::asio;
using storage::errc;

constexpr std::int64_t page_rows = 500;
constexpr std::size_t max_listed_failures = 100;

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

constexpr std::array text_extensions = {"json", "jsonl", "ndjson", "m3u8", "m3u", "mpd", "vtt", "srt", "ass",
                                        "ssa",  "ttml",  "dfxp",   "sbv",  "sub", "lrc", "smi", "txt", "log",
                                        "csv",  "tsv",   "xml",    "html", "htm", "md",  "yaml", "yml"};
constexpr std::array media_extensions = {
    "mp4", "m4v", "m4a", "m4s", "mov",  "mkv", "webm", "ts",   "mts", "avi", "flv", "wmv", "mpg", "mpeg",
    "mp3", "aac", "ogg", "oga", "opus", "flac", "wav", "jpg", "jpeg", "png", "gif", "webp", "avif", "heic",
    "zip", "gz",  "tgz", "zst", "xz",   "bz2", "7z",   "rar",  "br",  "pdf", "dump"};

struct candidate {
    std::int64_t id = 0;
    std::string provider, bucket, key, sha256;
    std::uint64_t size = 0;
};

// One page of candidates after `after` (blocking: inside db.run).
// {"a","b"}: a text[] literal of provider names.
std::string text_array(const std::vector<std::string>& names) {
    std::string out = "{";
    for (const auto& n : names) {
        if (out.size() > 1) out += ',';
        out += '"';
        for (char ch : n) {
            if (ch == '"' || ch == '\\') out += '\\';
            out += ch;
        }
        out += '"';
    }
    return out + "}";
}

std::vector<candidate> read_page(pqxx::connection& c, const compress_options& o, const std::string& local_providers,
                                 std::int64_t after) {
    pqxx::read_transaction tx(c, "compress_page");
    const char* only = o.provider ? o.provider->c_str() : nullptr;
    const auto rows = tx.exec_params(
        "SELECT o.id, o.provider, o.bucket, o.key, o.size, o.sha256 FROM objects o "
        "WHERE o.deleted_at IS NULL AND o.content_encoding IS NULL AND o.compress_checked_at IS NULL "
        "AND o.id > $1 AND ($2::text IS NULL OR o.provider = $2) AND o.size BETWEEN $3 AND $4 "
        "AND NOT (o.provider = ANY($7::text[])) AND o.job_id IS NOT NULL AND ("
        "  EXISTS (SELECT 1 FROM jobs j WHERE j.id = o.job_id AND (o.job_queue IS NULL OR j.queue = o.job_queue) "
        "          AND j.finished_at < now() - make_interval(secs => $5)) "
        "  OR (NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = o.job_id) "
        "      AND o.created_at < now() - make_interval(secs => $5))) "
        "ORDER BY o.id LIMIT $6",
        after, only, static_cast<std::int64_t>(o.min_size), static_cast<std::int64_t>(o.max_size),
        static_cast<std::int64_t>(o.older_than.count()), page_rows, local_providers);
    std::vector<candidate> out;
    for (const auto& row : rows) {
        candidate k;
        k.id = row[0].as<std::int64_t>();
        k.provider = row[1].as<std::string>();
        k.bucket = row[2].as<std::string>();
        k.key = row[3].as<std::string>();
        k.size = row[4].as<std::uint64_t>();
        k.sha256 = row[5].as<std::string>();
        out.push_back(std::move(k));
    }
    return out;
}

// Later runs skip an object not worth compressing until it is replaced (record_object clears it).
void remember_checked(pqxx::connection& c, std::int64_t id, const std::string& sha256) {
    pqxx::work tx(c, "compress_checked");
    tx.exec_params("UPDATE objects SET compress_checked_at = now() WHERE id = $1 AND sha256 = $2 "
                   "AND content_encoding IS NULL AND deleted_at IS NULL",
                   id, sha256);
    tx.commit();
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw storage::error(errc::permanent, "cannot read " + path.string());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Scratch files of one object, removed when done.
struct scratch_files {
    std::filesystem::path original, readback;
    scratch_files(const std::filesystem::path& dir, std::int64_t id) {
        std::filesystem::create_directories(dir);
        const std::string stem = fmt::format("compress-{}-{}", id, ::getpid());
        original = dir / (stem + ".orig");
        readback = dir / (stem + ".back");
    }
    ~scratch_files() {
        std::error_code ignored;
        std::filesystem::remove(original, ignored);
        std::filesystem::remove(readback, ignored);
    }
};

struct run_state {
    pg::pool& db;
    const storage::registry& providers;
    compress_options options;
    compress_report report;
    std::function<void(const compress_report&)> progress;

    void fail(const candidate& o, std::string why) {
        ++report.failed;
        spdlog::warn("compress: {}:{}: {}", o.provider, o.key, why);
        if (report.failures.size() < max_listed_failures) report.failures.push_back({o.provider, o.key, std::move(why)});
    }
    void tell() {
        if (progress) progress(report);
    }
};

enum class switched { yes, changed };

// The row follows the stored gzip bytes (size, etag, encoding, stored SHA-256); usage drops.
asio::awaitable<switched> switch_row(run_state& st, const candidate& o, std::uint64_t stored_size,
                                     std::string stored_sha256, std::string etag) {
    auto fn = [id = o.id, sha = o.sha256, size = o.size, stored_size, stored_sha256, etag](pqxx::connection& c) {
        return storage::record_compression(c, id, sha, size, "gzip", stored_size, stored_sha256, etag);
    };
    auto recording = st.db.run(std::move(fn));
    const auto outcome = co_await std::move(recording);
    if (outcome == storage::compression_outcome::changed) {
        ++st.report.skipped_changed;
        co_return switched::changed;
    }
    ++st.report.compressed;
    st.report.bytes_before += o.size;
    st.report.bytes_after += stored_size;
    co_return switched::yes;
}

// Stored bytes that are gzip already (a run killed before its row switched): decoded and hashed;
// the row switches if they are its content.
asio::awaitable<void> finish_encoded(run_state& st, const candidate& o, const storage::object_info& got,
                                     const std::filesystem::path& file) {
    std::string stored = read_file(file);
    std::string decoded;
    try {
        decoded = storage::gunzip(stored, o.size);
    } catch (const storage::error& e) {
        st.fail(o, std::string("stored gzip-encoded but not decodable: ") + e.what());
        co_return;
    }
    if (decoded.size() != o.size || storage::sha256_hex(decoded) != o.sha256) {
        st.fail(o, "stored gzip-encoded, but its content is not the catalog's (replaced meanwhile?)");
        co_return;
    }
    auto switching = switch_row(st, o, stored.size(), storage::sha256_hex(stored), got.etag);
    const auto sw = co_await std::move(switching);
    if (sw == switched::yes) ++st.report.finished;
}

asio::awaitable<void> remember(run_state& st, const candidate& o) {
    auto fn = [id = o.id, sha = o.sha256](pqxx::connection& c) { remember_checked(c, id, sha); };
    auto running = st.db.run(std::move(fn));
    co_await std::move(running);
}

asio::awaitable<void> compress_one(run_state& st, const candidate& o) {
    auto* p = st.providers.find(o.provider);
    if (!p || p->bucket() != o.bucket) {
        ++st.report.skipped_provider;
        co_return;
    }
    if (kind_of_key(o.key) == content_kind::media) {
        ++st.report.skipped_type;
        if (!st.options.dry_run) {
            auto remembering = remember(st, o);
            co_await std::move(remembering);
        }
        co_return;
    }
    if (st.options.dry_run) {
        if (kind_of_key(o.key) == content_kind::text) {
            ++st.report.compressed;
            st.report.bytes_before += o.size;
        } else {
            ++st.report.skipped_type;  // decided by the content type, which a dry run does not read
        }
        co_return;
    }
    scratch_files files(st.options.scratch_dir, o.id);
    auto getting = p->get_to_file(o.key, files.original);
    const storage::object_info got = co_await std::move(getting);
    if (got.content_encoding == "gzip") {
        auto finishing = finish_encoded(st, o, got, files.original);
        co_await std::move(finishing);
        co_return;
    }
    if (got.content_encoding && !got.content_encoding->empty() && *got.content_encoding != "identity") {
        st.fail(o, "stored with content encoding '" + got.content_encoding->substr(0, 32) + "'; left as it is");
        co_return;
    }
    if (got.size != o.size || !got.sha256 || *got.sha256 != o.sha256) {
        st.fail(o, fmt::format("the stored bytes differ from the catalog's ({} bytes, SHA-256 {}; recorded {} bytes, {})",
                               got.size, got.sha256.value_or("?"), o.size, o.sha256));
        co_return;
    }
    if (!compressible(o.key, got.content_type)) {
        ++st.report.skipped_type;
        auto remembering = remember(st, o);
        co_await std::move(remembering);
        co_return;
    }
    const std::string original = read_file(files.original);
    const std::string encoded = storage::gzip_compress(original, st.options.level);
    if (static_cast<double>(encoded.size()) > st.options.max_ratio * static_cast<double>(original.size())) {
        ++st.report.skipped_ratio;
        auto remembering = remember(st, o);
        co_await std::move(remembering);
        co_return;
    }
    // Verified before the original is replaced: the gzip bytes decode to the catalog's content.
    const std::string decoded = storage::gunzip(encoded, original.size());
    if (decoded != original || storage::sha256_hex(decoded) != o.sha256) {
        st.fail(o, "the gzip bytes do not decode to the original; left as it is");
        co_return;
    }
    const std::string encoded_sha = storage::sha256_hex(encoded);
    const std::uint64_t encoded_size = encoded.size();
    storage::put_options put_opts;
    put_opts.content_type = got.content_type.value_or("application/octet-stream");
    put_opts.content_encoding = "gzip";
    put_opts.sha256 = encoded_sha;
    auto putting = p->put_bytes(o.key, encoded, std::move(put_opts));
    const storage::put_result put = co_await std::move(putting);

    // Read back from the provider, decoded and hashed, before the row points at it.
    std::string readback_error;
    std::string etag = put.etag;
    try {
        auto reading = p->get_to_file(o.key, files.readback);
        const storage::object_info back = co_await std::move(reading);
        const std::string stored = read_file(files.readback);
        if (back.content_encoding != "gzip") readback_error = "the provider did not keep Content-Encoding gzip";
        else if (storage::sha256_hex(stored) != encoded_sha) readback_error = "the stored gzip bytes differ from those sent";
        else if (storage::sha256_hex(storage::gunzip(stored, o.size)) != o.sha256)
            readback_error = "the stored gzip bytes do not decode to the original";
        if (!back.etag.empty()) etag = back.etag;
    } catch (const storage::error& e) {
        readback_error = std::string("reading it back failed: ") + e.what();
    }
    if (!readback_error.empty()) {
        // The original bytes go back (they are on local disk) before the failure is reported.
        storage::put_options restore;
        restore.content_type = got.content_type.value_or("application/octet-stream");
        restore.sha256 = o.sha256;
        auto restoring = p->put_file(o.key, files.original, std::move(restore));
        co_await std::move(restoring);
        st.fail(o, readback_error + "; the original was put back");
        co_return;
    }
    auto switching = switch_row(st, o, encoded_size, encoded_sha, etag);
    co_await std::move(switching);
}

}  // namespace

content_kind kind_of_key(std::string_view key) noexcept {
    const auto slash = key.rfind('/');
    const auto leaf = slash == std::string_view::npos ? key : key.substr(slash + 1);
    const auto dot = leaf.rfind('.');
    if (dot == std::string_view::npos || dot + 1 >= leaf.size() || leaf.size() - dot > 8) return content_kind::unknown;
    const std::string ext = lower(leaf.substr(dot + 1));
    for (const char* e : media_extensions)
        if (ext == e) return content_kind::media;
    for (const char* e : text_extensions)
        if (ext == e) return content_kind::text;
    return content_kind::unknown;
}

content_kind kind_of_content_type(std::string_view content_type) noexcept {
    std::string t = lower(content_type.substr(0, content_type.find(';')));
    while (!t.empty() && t.back() == ' ') t.pop_back();
    if (t.starts_with("video/") || t.starts_with("audio/") || t.starts_with("image/") || t == "application/zip" ||
        t == "application/gzip" || t == "application/x-gzip" || t == "application/zstd" || t == "application/pdf" ||
        t == "application/x-7z-compressed" || t == "application/x-bzip2" || t == "application/x-xz" ||
        t == "application/mp4")
        return content_kind::media;
    if (t.starts_with("text/") || t == "application/json" || t == "application/xml" || t.ends_with("+json") ||
        t.ends_with("+xml") || t == "application/vnd.apple.mpegurl" || t == "application/x-mpegurl" ||
        t == "application/x-subrip" || t == "application/x-ndjson" || t == "application/yaml" ||
        t == "application/x-yaml" || t == "application/javascript")
        return content_kind::text;
    return content_kind::unknown;
}

bool compressible(std::string_view key, const std::optional<std::string>& content_type) noexcept {
    const auto by_key = kind_of_key(key);
    const auto by_type = content_type ? kind_of_content_type(*content_type) : content_kind::unknown;
    if (by_key == content_kind::media || by_type == content_kind::media) return false;
    return by_key == content_kind::text || by_type == content_kind::text;
}

void check_compress_options(const storage::registry& providers, const compress_options& o) {
    if (o.limit < 1) throw std::invalid_argument("limit must be at least 1");
    if (o.level < 1 || o.level > 9) throw std::invalid_argument("the gzip level must be 1..9");
    if (!(o.max_ratio > 0 && o.max_ratio < 1)) throw std::invalid_argument("the ratio must be between 0 and 1");
    if (o.max_size < o.min_size) throw std::invalid_argument("the largest size is below the smallest");
    if (o.max_size > (1ull << 30)) throw std::invalid_argument("objects are compressed in memory: at most 1 GiB");
    if (o.older_than.count() < 0) throw std::invalid_argument("the age must not be negative");
    if (o.provider && !providers.find(*o.provider))
        throw std::invalid_argument(fmt::format("unknown storage provider '{}'", *o.provider));
}

asio::awaitable<compress_report> compress_old_jobs(pg::pool& db, const storage::registry& providers,
                                                   compress_options options,
                                                   std::function<void(const compress_report&)> progress) {
    check_compress_options(providers, options);
    run_state st{db, providers, options, compress_report{}, std::move(progress)};
    st.report.dry_run = options.dry_run;
    // The local provider keeps no encoding: its objects are not candidates.
    std::vector<std::string> local;
    for (const auto& c : providers.configs())
        if (c.kind == "local") local.push_back(c.name);
    const std::string local_providers = text_array(local);
    std::int64_t after = 0;
    for (;;) {
        auto fn = [&options, &local_providers, after](pqxx::connection& c) {
            return read_page(c, options, local_providers, after);
        };
        auto reading = db.run(std::move(fn));
        const std::vector<candidate> page = co_await std::move(reading);
        for (const auto& o : page) {
            if (st.report.examined >= options.limit) {
                st.report.limit_reached = true;
                break;
            }
            ++st.report.examined;
            after = o.id;
            try {
                auto one = compress_one(st, o);
                co_await std::move(one);
            } catch (const storage::error& e) {
                if (e.code() == errc::not_found)
                    ++st.report.skipped_changed;  // deleted at its provider meanwhile
                else
                    st.fail(o, e.what());
            }
            st.tell();
        }
        if (st.report.limit_reached || page.size() < static_cast<std::size_t>(page_rows)) break;
    }
    co_return st.report;
}

nlohmann::json to_json(const compress_report& r) {
    nlohmann::json failures = nlohmann::json::array();
    for (const auto& f : r.failures) failures.push_back({{"provider", f.provider}, {"key", f.key}, {"error", f.error}});
    return {{"dry_run", r.dry_run},
            {"examined", r.examined},
            {"compressed", r.compressed},
            {"finished", r.finished},
            {"bytes_before", r.bytes_before},
            {"bytes_after", r.bytes_after},
            {"skipped_type", r.skipped_type},
            {"skipped_ratio", r.skipped_ratio},
            {"skipped_provider", r.skipped_provider},
            {"skipped_changed", r.skipped_changed},
            {"failed", r.failed},
            {"complete", r.complete()},
            {"limit_reached", r.limit_reached},
            {"failures", std::move(failures)}};
}

compress_options parse_compress_payload(const nlohmann::json& p, compress_options o) {
    if (!p.is_object()) throw std::invalid_argument("payload must be an object");
    for (const auto& [name, value] : p.items()) {
        (void)value;
        if (name != "provider" && name != "older_than_days" && name != "limit" && name != "dry_run")
            throw std::invalid_argument(
                fmt::format("payload: unknown field \"{}\" (provider, older_than_days, limit, dry_run)", name));
    }
    if (p.contains("provider")) {
        if (!p["provider"].is_string() || p["provider"].get<std::string>().empty())
            throw std::invalid_argument("payload.provider must be a provider's name");
        o.provider = p["provider"].get<std::string>();
    }
    if (p.contains("older_than_days")) {
        if (!p["older_than_days"].is_number_integer() || p["older_than_days"].get<std::int64_t>() < 0 ||
            p["older_than_days"].get<std::int64_t>() > 36500)
            throw std::invalid_argument("payload.older_than_days must be an integer 0..36500");
        o.older_than = std::chrono::hours(24 * p["older_than_days"].get<std::int64_t>());
    }
    if (p.contains("limit")) {
        if (!p["limit"].is_number_integer() || p["limit"].get<std::int64_t>() < 1)
            throw std::invalid_argument("payload.limit must be a positive integer");
        o.limit = p["limit"].get<std::uint64_t>();
    }
    if (p.contains("dry_run")) {
        if (!p["dry_run"].is_boolean()) throw std::invalid_argument("payload.dry_run must be true or false");
        o.dry_run = p["dry_run"].get<bool>();
    }
    return o;
}

}  // namespace wharf::lifecycle
