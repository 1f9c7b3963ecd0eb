#include "uploads.hpp"

#include "replies.hpp"

#include "jobs/storing.hpp"
#include "wharf/core/duration.hpp"
#include "wharf/core/json.hpp"
#include "wharf/core/redact.hpp"
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
    const auto expiry = url_expiry(req, s.options.default_url_expiry);
    if (!expiry) co_return json_error(400, "bad_input", url_expiry_rule, "expires");
    if (!valid_upload_id(id)) co_return json_error(404, "not_found", "no such upload");
    auto loading = upload_objects(s, who, id);
    const auto objects = co_await std::move(loading);
    if (objects.empty()) co_return json_error(404, "not_found", "no such upload");
    co_return ok(object_json(s, id, objects.front(), *expiry));
}

awaitable<server_response> upload_make_permanent(service& s, const principal& who, const server_request& req,
                                                 std::string id) {
    const auto expiry = url_expiry(req, s.options.default_url_expiry);
    if (!expiry) co_return json_error(400, "bad_input", url_expiry_rule, "expires");
    if (!valid_upload_id(id)) co_return json_error(404, "not_found", "no such upload");
    auto loading = upload_objects(s, who, id);
    const auto objects = co_await std::move(loading);
    if (objects.empty()) co_return json_error(404, "not_found", "no such upload");
    const auto& from = objects.front();
    if (from.record.prefix_class != storage::prefix_class::temp) co_return ok(object_json(s, id, from, *expiry));
    const std::string to_key = "videos/" + from.record.key.substr(std::string_view("temp/").size());
    const auto ex = co_await boost::asio::this_coro::executor;
    const auto ctx = upload_context(id, who, ex);
    std::optional<server_response> failed;
    try {
        auto moving = worker::move_stored(s.storage, ctx, from, to_key, *expiry);
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
    co_return ok(object_json(s, id, moved.front(), *expiry));
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
        auto removing = worker::remove_stored_prefix(s.storage, ctx, prefix + id + "/");
        const auto r = co_await std::move(removing);
        removed.objects += r.objects;
        removed.bytes += r.bytes;
    }
    for (const auto& o : objects) s.storage.presigns().forget(o.record.provider, o.record.key);
    co_return ok(json{{"id", id}, {"deleted_objects", removed.objects}, {"freed_bytes", removed.bytes}});
}

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
        auto removing = worker::remove_stored_prefix(s.storage, ctx, "temp/" + id + "/");
        const auto r = co_await std::move(removing);
        removed.objects += r.objects;
        removed.bytes += r.bytes;
    }
    co_return ok(json{{"removed_uploads", ids.size()},
                      {"deleted_objects", removed.objects},
                      {"freed_bytes", removed.bytes},
                      {"more", ids.size() == static_cast<std::size_t>(batch)}});
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
