#include "uploads.hpp"

#include "replies.hpp"

#include "jobs/storing.hpp"
#include "wharf/asio/offload.hpp"
#include "wharf/core/duration.hpp"
#include "wharf/core/json.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/core/scratch.hpp"
#include "wharf/http/multipart_form.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/queue/envelope.hpp"
#include "wharf/storage/catalog.hpp"
#include "wharf/storage/sha256.hpp"

#include <boost/asio/this_coro.hpp>
#include <openssl/rand.h>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <variant>

namespace wharf::api {

namespace {

using json = nlohmann::json;
using boost::asio::awaitable;
using http::json_error;
using http::server_request;
using http::server_response;

// What a form may hold besides its file: short text fields.
constexpr std::size_t max_field_bytes = 1024;
// The form's framing around the file: boundaries, part heads, the text fields.
constexpr std::uint64_t max_form_overhead = 64 << 10;
constexpr std::size_t read_size = 256 << 10;
// The queue name under which the catalog and the multipart journal record an API upload.
constexpr const char* upload_queue = "api";

std::string new_upload_id() {
    std::array<unsigned char, 10> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) throw std::runtime_error("RAND_bytes failed");
    static constexpr char digits[] = "0123456789abcdef";
    std::string id = "up_";
    for (unsigned char b : bytes) {
        id += digits[b >> 4];
        id += digits[b & 15];
    }
    return id;
}

worker::job_context upload_context(const std::string& id, const principal& who, boost::asio::any_io_executor ex) {
    worker::job_context ctx;
    ctx.id = id;
    ctx.queue = upload_queue;
    ctx.api_key = who.tenant;
    ctx.executor = std::move(ex);
    ctx.report_progress = [](json) {};
    return ctx;
}

// A storing failure as an answer: what no retry fixes is the client's (quota: 413), the rest is
// ours to retry later (503).
server_response storing_failure(const std::exception& e, bool permanent) {
    const std::string what = redact(e.what());
    if (permanent && what.find("quota exceeded") != std::string::npos)
        return json_error(413, "quota_exceeded", what, "file");
    if (permanent) return json_error(422, "not_stored", what, "file");
    auto r = json_error(503, "storage_unavailable", "the file could not be stored now; try again");
    r.headers.emplace_back("Retry-After", "5");
    return r;
}

// A spool file opened for writing, removed with the scratch path.
class spool_file {
public:
    explicit spool_file(const std::filesystem::path& path) {
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "opening the upload's spool file");
    }
    ~spool_file() { close(); }
    spool_file(const spool_file&) = delete;
    spool_file& operator=(const spool_file&) = delete;
    void write(std::string_view bytes) {
        while (!bytes.empty()) {
            const auto n = ::write(fd_, bytes.data(), bytes.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw std::system_error(errno, std::generic_category(), "writing the upload's spool file");
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

// The tenant's live objects of one upload (temp/<id>/ and videos/<id>/).
awaitable<std::vector<storage::stored_object>> upload_objects(service& s, const principal& who, std::string id) {
    auto loading = s.db.run([id, tenant = who.tenant](pqxx::connection& c) {
        auto rows = storage::find_objects_by_prefix(c, "temp/" + id + "/", 16);
        auto more = storage::find_objects_by_prefix(c, "videos/" + id + "/", 16);
        rows.insert(rows.end(), more.begin(), more.end());
        std::erase_if(rows, [&](const storage::stored_object& o) { return o.record.api_key != tenant; });
        return rows;
    });
    co_return co_await std::move(loading);
}

json object_json(service& s, const std::string& id, const storage::stored_object& o, std::chrono::seconds expires) {
    json out{{"id", id},
             {"key", o.record.key},
             {"provider", o.record.provider},
             {"size", o.record.size},
             {"sha256", o.record.sha256},
             {"is_temp", o.record.prefix_class == storage::prefix_class::temp},
             {"created_at", o.created_at},
             {"url", nullptr},
             {"expires_in", expires.count()}};
    if (auto* p = s.storage.providers().find(o.record.provider)) {
        out["url"] = s.storage.presigns().get(*p, storage::http_method::get, o.record.key, expires);
        out["expires_at"] = queue::format_rfc3339(std::chrono::system_clock::now() + expires);
    }
    return out;
}

// What every route of one upload checks first: ?expires (its presigned URL's lifetime) and the id.
std::variant<std::chrono::seconds, server_response> upload_route_input(const service& s, const server_request& req,
                                                                      const std::string& id) {
    const auto expiry = url_expiry(req, s.options.default_url_expiry);
    if (!expiry) return json_error(400, "bad_input", url_expiry_rule, "expires");
    if (!valid_upload_id(id)) return json_error(404, "not_found", "no such upload");
    return *expiry;
}

}  // namespace

bool is_upload(const server_request& req) { return req.method == "POST" && req.path == "/api/v1/uploads"; }

std::uint64_t max_upload_body(const settings& options) { return options.max_upload + max_form_overhead; }

std::string sanitize_file_name(std::string_view name) {
    const auto slash = name.find_last_of("/\\");
    if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
    std::string out;
    for (char c : name) {
        if (out.size() >= 200) break;
        const bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
        out += plain ? c : '_';
    }
    while (!out.empty() && out.front() == '.') out.erase(0, 1);  // no hidden files, no "." or ".."
    if (out.empty()) out = "file";
    return out;
}

std::optional<bool> form_bool(std::string_view text) {
    std::string t(text);
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
    if (t == "false" || t == "0" || t == "no" || t == "off") return false;
    return std::nullopt;
}

bool valid_media_type(std::string_view type) {
    // type "/" subtype, RFC 6838's restricted names, no parameters.
    const auto slash = type.find('/');
    if (type.size() > 127 || slash == std::string_view::npos || slash == 0 || slash + 1 == type.size()) return false;
    const auto name_char = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$&-^_.+").find(c) != std::string_view::npos;
    };
    return std::all_of(type.begin(), type.begin() + static_cast<std::ptrdiff_t>(slash), name_char) &&
           std::all_of(type.begin() + static_cast<std::ptrdiff_t>(slash) + 1, type.end(), name_char);
}

bool valid_upload_id(std::string_view id) {
    return id.size() == 23 && id.starts_with("up_") &&
           std::all_of(id.begin() + 3, id.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f'); });
}

awaitable<server_response> upload_create(service& s, const principal& who, server_request& req) {
    if (!req.body_stream) co_return json_error(500, "internal", "the upload's body was not streamed");
    std::string why;
    const auto boundary = http::form_boundary(req.header("Content-Type").value_or(""), &why);
    if (!boundary) co_return json_error(415, "bad_input", why + " (a form with a \"file\" field)", "Content-Type");
    const auto expiry = url_expiry(req, s.options.default_url_expiry);
    if (!expiry) co_return json_error(400, "bad_input", url_expiry_rule, "expires");

    const std::string id = new_upload_id();
    const auto ex = co_await boost::asio::this_coro::executor;
    const auto ctx = upload_context(id, who, ex);

    // The quota before a byte is read: the Content-Length bounds the file from above.
    auto headroom_loading = worker::load_quota_headroom(s.storage, "videos/" + id + "/file", std::nullopt, who.tenant);
    const auto headroom = co_await std::move(headroom_loading);
    const auto length = req.body_stream->content_length();
    if (headroom && length && *length > max_form_overhead) {
        if (auto refusal = headroom->refusal(*length - max_form_overhead))
            co_return json_error(413, "quota_exceeded", *refusal, "file");
    }

    worker::scratch_path spool_path{s.storage.options(), "upload", ctx, ".part"};
    spool_file spool{spool_path.path()};
    storage::sha256 hasher;
    std::uint64_t size = 0;
    http::multipart_parser form{*boundary};
    std::string field, field_value, file_name, content_type = "application/octet-stream";
    std::optional<std::string> is_temp_text;
    bool in_file = false, have_file = false, done = false;
    auto buffer = std::make_unique<char[]>(read_size);
    while (!done) {
        using kind = http::multipart_parser::event_kind;
        switch (form.next()) {
        case kind::part_begin: {
            const auto& head = form.head();
            if (head.name == "file" && head.filename) {
                if (have_file) co_return json_error(400, "bad_input", "one file an upload", "file");
                // A browser sends an empty filename (and no bytes) when no file was chosen.
                if (head.filename->empty()) co_return json_error(400, "bad_input", "no file was chosen", "file");
                // The type is stored with the object and served with its presigned URL: a plain media type only.
                if (!valid_media_type(head.content_type))
                    co_return json_error(400, "bad_input", "the file's Content-Type must be a media type such as video/mp4",
                                         "file");
                in_file = have_file = true;
                file_name = sanitize_file_name(*head.filename);
                if (head.content_type != "text/plain") content_type = head.content_type;
            } else if (head.name == "is_temp") {
                field = head.name;
                field_value.clear();
            } else if (head.name == "file") {
                co_return json_error(400, "bad_input", "the file part needs a filename", "file");
            } else {
                co_return json_error(400, "bad_input", "unknown form field (file, is_temp)", head.name);
            }
            break;
        }
        case kind::data:
            if (in_file) {
                size += form.data().size();
                if (size > s.options.max_upload)
                    co_return json_error(413, "body_too_large",
                                         "the file exceeds " + std::to_string(s.options.max_upload) + " bytes", "file");
                if (headroom) {
                    if (auto refusal = headroom->refusal(size)) co_return json_error(413, "quota_exceeded", *refusal, "file");
                }
                hasher.update(form.data());
                spool.write(form.data());
            } else {
                field_value += form.data();
                if (field_value.size() > max_field_bytes)
                    co_return json_error(400, "bad_input", "a form field is at most 1024 bytes", field);
            }
            break;
        case kind::part_end:
            if (!in_file && field == "is_temp") is_temp_text = field_value;
            in_file = false;
            field.clear();
            break;
        case kind::done: done = true; break;
        case kind::error: co_return json_error(400, "bad_input", "not a valid form: " + form.error(), "body");
        case kind::need_more: {
            auto reading = req.body_stream->read_some(std::span<char>(buffer.get(), read_size));
            const auto chunk = co_await std::move(reading);
            if (chunk.ec) {
                // The client went away, stalled, or sent more than the limit: nothing is stored.
                spdlog::info("request {}: upload {} abandoned after {} bytes: {}", req.request_id, id, size,
                             chunk.ec.message());
                co_return json_error(400, "incomplete_body", "the upload's body ended early: " + chunk.ec.message(), "body");
            }
            if (chunk.size == 0) form.end_of_input();
            else form.feed(std::string_view(buffer.get(), chunk.size));
            break;
        }
        }
    }
    spool.close();
    if (!have_file) co_return json_error(400, "bad_input", "a file part (name=\"file\", with a filename) is required", "file");
    bool is_temp = false;
    if (is_temp_text) {
        const auto b = form_bool(*is_temp_text);
        if (!b) co_return json_error(400, "bad_input", "true or false", "is_temp");
        is_temp = *b;
    }

    worker::store_request store;
    store.file = spool_path.path();
    store.size = size;
    store.sha256 = hasher.finish_hex();
    store.key = (is_temp ? "temp/" : "videos/") + id + "/" + file_name;
    store.api_key = who.tenant;
    store.content_type = content_type;
    store.presign_expires = *expiry;
    std::optional<worker::stored_file> stored;
    std::optional<server_response> failed;
    try {
        auto storing = worker::store_file(s.storage, ctx, std::move(store));
        stored = co_await std::move(storing);
    } catch (const worker::permanent_error& e) {
        failed = storing_failure(e, true);
    } catch (const std::exception& e) {
        spdlog::warn("request {}: upload {} not stored: {}", req.request_id, id, redact(e.what()));
        failed = storing_failure(e, false);
    }
    if (failed) co_return std::move(*failed);
    spdlog::info("request {}: upload {} stored as {}:{} ({} bytes)", req.request_id, id, stored->record.provider,
                 stored->record.key, size);
    json out{{"id", id},
             {"key", stored->record.key},
             {"provider", stored->record.provider},
             {"size", size},
             {"sha256", stored->record.sha256},
             {"content_type", content_type},
             {"is_temp", is_temp},
             {"duplicate", stored->duplicate},
             {"url", stored->presigned_url},
             {"expires_in", stored->expires_in.count()},
             {"expires_at", queue::format_rfc3339(std::chrono::system_clock::now() + stored->expires_in)}};
    auto r = ok(out, 201);
    r.headers.emplace_back("Location", "/api/v1/uploads/" + id);
    co_return r;
}

awaitable<server_response> upload_get(service& s, const principal& who, const server_request& req, std::string id) {
    auto checked = upload_route_input(s, req, id);
    if (auto* refused = std::get_if<server_response>(&checked)) co_return std::move(*refused);
    const auto expiry = std::get<std::chrono::seconds>(checked);
    auto loading = upload_objects(s, who, id);
    const auto objects = co_await std::move(loading);
    if (objects.empty()) co_return json_error(404, "not_found", "no such upload");
    co_return ok(object_json(s, id, objects.front(), expiry));
}

awaitable<server_response> upload_make_permanent(service& s, const principal& who, const server_request& req,
                                                 std::string id) {
    auto checked = upload_route_input(s, req, id);
    if (auto* refused = std::get_if<server_response>(&checked)) co_return std::move(*refused);
    const auto expiry = std::get<std::chrono::seconds>(checked);
    auto loading = upload_objects(s, who, id);
    const auto objects = co_await std::move(loading);
    if (objects.empty()) co_return json_error(404, "not_found", "no such upload");
    const auto& from = objects.front();
    if (from.record.prefix_class != storage::prefix_class::temp) co_return ok(object_json(s, id, from, expiry));
    const std::string to_key = "videos/" + from.record.key.substr(std::string_view("temp/").size());
    const auto ex = co_await boost::asio::this_coro::executor;
    const auto ctx = upload_context(id, who, ex);
    std::optional<server_response> failed;
    try {
        auto moving = worker::move_stored(s.storage, ctx, from, to_key, expiry);
        co_await std::move(moving);
    } catch (const worker::permanent_error& e) {
        failed = storing_failure(e, true);
    } catch (const std::exception& e) {
        spdlog::warn("upload {} not moved to {}: {}", id, to_key, redact(e.what()));
        failed = storing_failure(e, false);
    }
    if (failed) co_return std::move(*failed);
    s.storage.presigns().forget(from.record.provider, from.record.key);
    auto reloading = upload_objects(s, who, id);
    const auto moved = co_await std::move(reloading);
    if (moved.empty()) co_return json_error(404, "not_found", "no such upload");
    co_return ok(object_json(s, id, moved.front(), expiry));
}

awaitable<server_response> upload_delete(service& s, const principal& who, std::string id) {
    if (!valid_upload_id(id)) co_return json_error(404, "not_found", "no such upload");
    auto loading = upload_objects(s, who, id);
    const auto objects = co_await std::move(loading);
    if (objects.empty()) co_return json_error(404, "not_found", "no such upload");
    const auto ex = co_await boost::asio::this_coro::executor;
    const auto ctx = upload_context(id, who, ex);
    worker::removed_objects removed;
    for (const char* prefix : {"temp/", "videos/"}) {
        auto removing = worker::remove_stored_prefix(s.storage, ctx, prefix + id + "/", who.tenant);
        const auto r = co_await std::move(removing);
        removed.objects += r.objects;
        removed.bytes += r.bytes;
    }
    for (const auto& o : objects) s.storage.presigns().forget(o.record.provider, o.record.key);
    co_return ok(json{{"id", id}, {"deleted_objects", removed.objects}, {"freed_bytes", removed.bytes}});
}

namespace {

// The largest object one presigned PUT may carry: S3's single PUT limit (Azure's Put Blob takes
// 5000 MiB).
constexpr std::uint64_t max_single_put = 5ull << 30;

struct pending_upload {
    std::string id, provider, bucket, key, content_type;
    std::uint64_t size = 0;
};

awaitable<std::optional<pending_upload>> load_pending(service& s, const principal& who, std::string id) {
    auto loading = s.db.run([id, tenant = who.tenant](pqxx::connection& c) -> std::optional<pending_upload> {
        pqxx::read_transaction tx{c};
        const auto rows = tx.exec_params(
            "SELECT provider, bucket, key, size, content_type FROM api_pending_uploads WHERE id = $1 AND api_key = $2",
            id, tenant);
        if (rows.empty()) return std::nullopt;
        return pending_upload{id, rows[0][0].as<std::string>(), rows[0][1].as<std::string>(),
                              rows[0][2].as<std::string>(), rows[0][4].as<std::string>(),
                              rows[0][3].as<std::uint64_t>()};
    });
    co_return co_await std::move(loading);
}

awaitable<void> forget_pending(service& s, std::string id) {
    auto deleting = s.db.run([id](pqxx::connection& c) {
        pqxx::work tx{c};
        tx.exec_params("DELETE FROM api_pending_uploads WHERE id = $1", id);
        tx.commit();
    });
    co_await std::move(deleting);
}

}  // namespace

awaitable<server_response> uploads_cleanup(service& s, const principal& who, const server_request& req) {
    std::chrono::milliseconds older_than = std::chrono::hours(24);
    if (auto given = req.query_param("older_than")) {
        const auto d = parse_duration(*given);
        if (!d || d->count() < 0) co_return json_error(400, "bad_input", "a duration such as \"24h\"", "older_than");
        older_than = *d;
    }
    // The tenant's temp uploads older than that, a bounded batch a call (call again for more).
    static constexpr int batch = 500;
    auto listing = s.db.run([tenant = who.tenant, seconds = older_than.count() / 1000.0](pqxx::connection& c) {
        pqxx::read_transaction tx{c};
        const auto rows = tx.exec_params(
            "SELECT DISTINCT split_part(key, '/', 2) FROM objects WHERE deleted_at IS NULL AND api_key = $1 "
            "AND prefix_class = 'temp' AND job_queue = $2 AND key LIKE 'temp/up\\_%' "
            "AND created_at < now() - make_interval(secs => $3) LIMIT $4",
            tenant, upload_queue, seconds, batch);
        std::vector<std::string> ids;
        for (const auto& r : rows) ids.push_back(r[0].as<std::string>());
        return ids;
    });
    const auto ids = co_await std::move(listing);
    worker::removed_objects removed;
    const auto ex = co_await boost::asio::this_coro::executor;
    for (const auto& id : ids) {
        if (!valid_upload_id(id)) continue;
        const auto ctx = upload_context(id, who, ex);
        auto removing = worker::remove_stored_prefix(s.storage, ctx, "temp/" + id + "/", who.tenant);
        const auto r = co_await std::move(removing);
        removed.objects += r.objects;
        removed.bytes += r.bytes;
    }
    // Presigned PUTs never completed whose URL has expired: their object (if the client PUT one)
    // was never counted; it goes, and so does the row.
    auto expired_loading = s.db.run([tenant = who.tenant](pqxx::connection& c) {
        pqxx::read_transaction tx{c};
        const auto rows = tx.exec_params(
            "SELECT id, provider, key FROM api_pending_uploads WHERE api_key = $1 AND expires_at < now() LIMIT $2",
            tenant, batch);
        std::vector<std::array<std::string, 3>> out;
        for (const auto& r : rows) out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>()});
        return out;
    });
    const auto expired = co_await std::move(expired_loading);
    std::size_t abandoned = 0;
    for (const auto& [pending_id, provider_name, key] : expired) {
        if (auto* p = s.storage.providers().find(provider_name)) {
            try {
                auto removing = p->remove(key);
                co_await std::move(removing);
            } catch (const storage::error& e) {
                spdlog::warn("upload {}: removing {}:{} of an expired presigned upload failed: {}; kept for the next "
                             "cleanup", pending_id, provider_name, key, redact(e.what()));
                continue;
            }
        }
        auto forgetting = forget_pending(s, pending_id);
        co_await std::move(forgetting);
        ++abandoned;
    }
    co_return ok(json{{"removed_uploads", ids.size()},
                      {"deleted_objects", removed.objects},
                      {"freed_bytes", removed.bytes},
                      {"expired_presigned_uploads", abandoned},
                      {"more", ids.size() == static_cast<std::size_t>(batch) || expired.size() == static_cast<std::size_t>(batch)}});
}


awaitable<server_response> upload_presign(service& s, const principal& who, const server_request& req) {
    json doc;
    if (req.body.empty()) co_return json_error(400, "bad_input", "a JSON object is required", "body");
    auto parsed = parse_json(req.body, json_limits{.max_bytes = 1 << 16, .max_depth = 4});
    if (!parsed || !parsed.value.is_object()) co_return json_error(400, "bad_input", "must be a JSON object", "body");
    doc = std::move(parsed.value);
    if (!doc.contains("filename") || !doc["filename"].is_string() || doc["filename"].get<std::string>().empty())
        co_return json_error(400, "bad_input", "the file's name is required", "filename");
    const std::uint64_t limit = std::min(s.options.max_upload, max_single_put);
    if (!doc.contains("size") || !doc["size"].is_number_unsigned() || doc["size"].get<std::uint64_t>() > limit)
        co_return json_error(400, "bad_input", "the file's exact size in bytes, at most " + std::to_string(limit), "size");
    const auto size = doc["size"].get<std::uint64_t>();
    bool is_temp = false;
    if (doc.contains("is_temp")) {
        if (!doc["is_temp"].is_boolean()) co_return json_error(400, "bad_input", "true or false", "is_temp");
        is_temp = doc["is_temp"].get<bool>();
    }
    std::string content_type = "application/octet-stream";
    if (doc.contains("content_type")) {
        if (!doc["content_type"].is_string() || !valid_media_type(doc["content_type"].get<std::string>()))
            co_return json_error(400, "bad_input", "a media type such as video/mp4", "content_type");
        content_type = doc["content_type"].get<std::string>();
    }
    std::chrono::seconds expires{900};
    if (doc.contains("expires")) {
        if (!doc["expires"].is_number_unsigned() || doc["expires"].get<std::uint64_t>() < 60 ||
            doc["expires"].get<std::uint64_t>() > 604800)
            co_return json_error(400, "bad_input", url_expiry_rule, "expires");
        expires = std::chrono::seconds(doc["expires"].get<std::int64_t>());
    }
    const std::string id = new_upload_id();
    const std::string key = (is_temp ? "temp/" : "videos/") + id + "/" + sanitize_file_name(doc["filename"].get<std::string>());

    auto headroom_loading = worker::load_quota_headroom(s.storage, key, std::nullopt, who.tenant);
    if (const auto headroom = co_await std::move(headroom_loading)) {
        if (auto refusal = headroom->refusal(size)) co_return json_error(413, "quota_exceeded", *refusal, "size");
    }
    storage::provider* target = nullptr;
    std::optional<server_response> failed;
    try {
        // Only a provider that can presign a PUT (not the local one).
        auto placing = worker::place_object(s.storage, size, std::nullopt, nullptr,
                                            [](const storage::provider& p) { return p.kind() != "local"; });
        target = co_await std::move(placing);
    } catch (const worker::permanent_error& e) {
        failed = json_error(507, "no_room", redact(e.what()), "size");
    }
    if (failed) co_return std::move(*failed);
    const auto url = target->presign(storage::http_method::put, key, expires);
    const auto expires_at = std::chrono::system_clock::now() + expires;
    auto recording = s.db.run([id, tenant = who.tenant, provider = target->name(), bucket = target->bucket(), key, size,
                               content_type, seconds = expires.count()](pqxx::connection& c) {
        pqxx::work tx{c};
        tx.exec_params("INSERT INTO api_pending_uploads (id, api_key, provider, bucket, key, size, content_type, expires_at) "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))",
                       id, tenant, provider, bucket, key, static_cast<std::int64_t>(size), content_type, seconds);
        tx.commit();
    });
    co_await std::move(recording);
    json headers = json::object();
    if (target->kind() == "azure") headers["x-ms-blob-type"] = "BlockBlob";
    headers["Content-Type"] = content_type;
    co_return ok(json{{"id", id},
                      {"key", key},
                      {"provider", target->name()},
                      {"method", "PUT"},
                      {"url", url},
                      {"headers", std::move(headers)},
                      {"size", size},
                      {"expires_in", expires.count()},
                      {"expires_at", queue::format_rfc3339(expires_at)},
                      {"complete_url", "/api/v1/uploads/" + id + "/complete"}},
              201);
}

awaitable<server_response> upload_complete(service& s, const principal& who, const server_request& req, std::string id) {
    auto checked = upload_route_input(s, req, id);
    if (auto* refused = std::get_if<server_response>(&checked)) co_return std::move(*refused);
    const auto expiry = std::get<std::chrono::seconds>(checked);
    auto loading = load_pending(s, who, id);
    const auto pending = co_await std::move(loading);
    if (!pending) {
        // Completed before (a retried call): the upload as it is.
        auto answering = upload_get(s, who, req, id);
        co_return co_await std::move(answering);
    }
    auto* provider = s.storage.providers().find(pending->provider);
    if (!provider) co_return json_error(404, "not_found", "the upload's provider is no longer configured");
    const auto ex = co_await boost::asio::this_coro::executor;
    const auto ctx = upload_context(id, who, ex);
    std::optional<server_response> failed;
    try {
        auto heading = provider->head(pending->key);
        const auto head = co_await std::move(heading);
        if (!head) co_return json_error(409, "not_uploaded", "nothing was PUT to the upload's URL yet");
        if (head->size != pending->size) {
            auto removing = provider->remove(pending->key);
            co_await std::move(removing);
            auto forgetting = forget_pending(s, id);
            co_await std::move(forgetting);
            co_return json_error(400, "size_mismatch",
                                 "the object has " + std::to_string(head->size) + " bytes, not the " +
                                     std::to_string(pending->size) + " declared; it is removed",
                                 "size");
        }
        // Read back: the SHA-256 recorded is of the bytes the provider holds.
        worker::scratch_path spool{s.storage.options(), "upload", ctx, ".get"};
        auto getting = provider->get_to_file(pending->key, spool.path(), {});
        const auto got = co_await std::move(getting);
        if (got.size != pending->size) throw std::runtime_error("the object changed while it was read");
        auto hashing = offload(s.storage.blocking_pool().get_executor(),
                               [file = spool.path()] { return storage::sha256_file_hex(file); });
        const auto sha = co_await std::move(hashing);
        storage::object_record record;
        record.provider = pending->provider;
        record.bucket = pending->bucket;
        record.key = pending->key;
        record.size = pending->size;
        record.sha256 = sha;
        record.etag = head->etag;
        record.api_key = who.tenant;
        record.job_id = id;
        record.job_queue = upload_queue;
        record.prefix_class = worker::prefix_class_of(pending->key);
        auto recording = worker::record_stored(s.storage, ctx, std::move(record), expiry);
        co_await std::move(recording);
    } catch (const worker::permanent_error& e) {
        failed = storing_failure(e, true);
    } catch (const storage::error& e) {
        spdlog::warn("request {}: upload {} not completed: {}", req.request_id, id, redact(e.what()));
        failed = storing_failure(e, false);
    } catch (const std::runtime_error& e) {
        spdlog::warn("request {}: upload {} not completed: {}", req.request_id, id, redact(e.what()));
        failed = storing_failure(e, false);
    }
    if (failed) {
        if (failed->status == 413) {  // the object was removed again: the upload is over
            auto forgetting = forget_pending(s, id);
            co_await std::move(forgetting);
        }
        co_return std::move(*failed);
    }
    auto forgetting = forget_pending(s, id);
    co_await std::move(forgetting);
    auto finding = upload_objects(s, who, id);
    const auto objects = co_await std::move(finding);
    if (objects.empty()) co_return json_error(404, "not_found", "no such upload");
    co_return ok(object_json(s, id, objects.front(), expiry), 201);
}

std::size_t sweep_spool_files(const std::filesystem::path& scratch_dir, std::chrono::seconds idle) {
    namespace fs = std::filesystem;
    const std::string prefix = scratch_name("upload", upload_queue, "up_");
    std::size_t removed = 0;
    std::error_code ec;
    const auto now = fs::file_time_type::clock::now();
    for (const auto& entry : fs::directory_iterator(scratch_dir, ec)) {
        const auto name = entry.path().filename().string();
        if (!name.starts_with(prefix) || !entry.is_regular_file(ec)) continue;
        const auto written = entry.last_write_time(ec);
        if (ec || now - written < idle) continue;
        if (fs::remove(entry.path(), ec)) ++removed;
    }
    return removed;
}

server_response presign_cache_stats(service& s) {
    const auto st = s.storage.presigns().stats();
    const auto asked = st.hits + st.misses;
    return ok(json{{"entries", st.entries},
                   {"max_entries", st.max_entries},
                   {"hits", st.hits},
                   {"misses", st.misses},
                   {"hit_rate", asked ? static_cast<double>(st.hits) / static_cast<double>(asked) : 0.0},
                   {"scope", "this wharf-api process"}});
}

server_response presign_cache_clear(service& s) { return ok(json{{"cleared", s.storage.presigns().clear()}}); }

}  // namespace wharf::api
