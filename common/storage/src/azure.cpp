// The Azure Blob backend (see azure.hpp).
#include "wharf/storage/azure.hpp"

#include "blocking.hpp"
#include "file_io.hpp"
#include "wharf/core/log.hpp"
#include "wharf/http/client.hpp"
#include "wharf/storage/azure_auth.hpp"
#include "wharf/storage/azure_batch.hpp"
#include "wharf/storage/azure_replies.hpp"
#include "wharf/storage/s3/xml.hpp"
#include "wharf/storage/sha256.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>
#include <span>

namespace wharf::storage::azure {
namespace asio = boost::asio;
namespace xml = wharf::storage::s3::xml;

std::string block_id(std::uint32_t number) {
    char raw[32];
    std::snprintf(raw, sizeof raw, "wharf-block-%06u", number);
    return base64_encode(raw);
}

namespace {

using query_list = std::vector<std::pair<std::string, std::string>>;

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

errc status_errc(unsigned status) {
    if (status == 404) return errc::not_found;
    if (status == 401 || status == 403) return errc::access_denied;
    if (status >= 500 || status == 408 || status == 429) return errc::transient;
    return errc::permanent;
}

// Status -> storage error, with Azure's error code and message for the reader.
[[noreturn]] void throw_for(const http::response& r, const std::string& what) {
    std::string code(r.header("x-ms-error-code").value_or(""));
    if (code.empty()) code = xml::text(r.body, "Code").value_or("");
    const std::string message = xml::text(r.body, "Message").value_or("");
    std::string text = what + ": HTTP " + std::to_string(r.status);
    if (!code.empty()) text += " " + code;
    if (!message.empty()) text += " (" + message.substr(0, message.find('\n')) + ")";
    throw error(status_errc(r.status), text);
}

// A unique token for multipart boundaries.
std::string random_token() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    char hex[33];
    std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(rng()), static_cast<unsigned long long>(rng()));
    return hex;
}

object_info info_from(const std::string& key, const http::response& r) {
    object_info o;
    o.key = key;
    std::optional<std::string_view> size_header;
    std::optional<std::uint64_t> size;
    if (auto range = r.header("content-range")) {  // "bytes 0-99/1234": the object's size is the total
        size_header = range;
        size = content_range_total(*range);
    } else if (auto len = r.header("content-length")) {
        size_header = len;
        size = parse_size(*len);
    }
    if (size_header && !size)
        throw error(errc::permanent, "azure '" + key + "': malformed size header '" +
                                         std::string(size_header->substr(0, 64)) + "'");
    o.size = size.value_or(0);
    o.etag = strip_quotes(r.header("etag").value_or(""));
    if (auto sha = r.header("x-ms-meta-sha256"); sha && is_sha256_hex(*sha)) o.sha256 = std::string(*sha);
    if (auto lm = r.header("last-modified")) o.last_modified = parse_http_date(*lm);
    if (auto type = r.header("content-type"); type && !type->empty()) o.content_type = std::string(*type);
    if (auto enc = r.header("content-encoding"); enc && !enc->empty()) o.content_encoding = std::string(*enc);
    if (auto t = r.header("x-ms-access-tier"); t && !t->empty()) o.storage_class = std::string(*t);
    return o;
}

}  // namespace

std::string_view access_tier_for(storage::tier t) noexcept {
    switch (t) {
    case storage::tier::hot: return "Hot";
    case storage::tier::warm: return "Cool";
    case storage::tier::cold: return "Cold";
    }
    return "Hot";
}

class azure_provider final : public storage::provider {
public:
    azure_provider(asio::any_io_executor ex, config c) : config_(std::move(c)) {
        if (config_.account.empty() || config_.container.empty())
            throw error(errc::permanent, "azure: account and container are required");
        auto key = base64_decode(config_.key);
        if (!key || key->empty()) throw error(errc::permanent, "azure: the account key is not valid base64");
        key_ = std::move(*key);
        std::string url = config_.endpoint.empty() ? "https://" + config_.account + ".blob.core.windows.net" : config_.endpoint;
        try {
            endpoint_ = http::parse_endpoint(url);
        } catch (const std::exception& e) {
            throw error(errc::permanent, "azure: bad endpoint '" + url + "': " + e.what());
        }
        const auto scheme_end = url.find("://");
        const auto path_start = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
        base_path_ = path_start == std::string::npos ? "" : url.substr(path_start);
        while (!base_path_.empty() && base_path_.back() == '/') base_path_.pop_back();
        origin_ = endpoint_.origin();
        container_path_ = base_path_ + "/" + uri_encode(config_.container, false);
        http::client_options o;
        o.verify_peer = config_.verify_tls;
        o.ca_file = config_.ca_file;
        http_ = std::make_shared<http::client>(ex, o);
    }

    const std::string& name() const noexcept override { return config_.name; }
    std::string_view kind() const noexcept override { return "azure"; }
    const std::string& bucket() const noexcept override { return config_.container; }

    std::string blob_path(const std::string& key) const { return container_path_ + "/" + uri_encode(key, true); }

    static void check_key(const std::string& key) {
        if (auto reason = invalid_key_reason(key)) throw error(errc::invalid_key, "invalid key: " + *reason);
    }

    struct call {
        http::verb method = http::verb::get;
        std::string path;
        query_list query;
        http::header_list headers;
        std::span<const char> body;
        const detail::source_file* body_file = nullptr;  // instead of `body`, read off the I/O thread
        detail::download_file* body_to = nullptr;         // a 2xx body goes here; emptied before each attempt
        std::uint64_t body_limit = 8ull << 20;
    };

    // One signed exchange, one attempt. Transport failures become storage errors.
    asio::awaitable<http::response> send_once(const call& c) {
        http::request req;
        req.method = c.method;
        req.to = endpoint_;
        req.target = c.path;
        for (std::size_t i = 0; i < c.query.size(); ++i)
            req.target += (i ? "&" : "?") + uri_encode(c.query[i].first, false) + "=" + uri_encode(c.query[i].second, false);
        req.headers = c.headers;
        req.headers.emplace_back("x-ms-date", http_date(std::chrono::system_clock::now()));
        req.headers.emplace_back("x-ms-version", std::string(api_version));
        const std::uint64_t length = c.body_file ? c.body_file->size() : c.body.size();
        shared_key_request sk{std::string(http::to_string(c.method)), c.path, c.query, req.headers};
        // The client sets Content-Length itself; it is signed all the same.
        sk.headers.emplace_back("content-length", std::to_string(length));
        req.headers.emplace_back("Authorization", shared_key_authorization(config_.account, key_, sk));
        req.body = c.body;
        if (c.body_file) req.streamed_body = c.body_file->body();
        http::request_options opts;
        opts.timeout = config_.timeout;
        opts.body_limit = c.body_limit;
        if (c.body_to) {
            co_await c.body_to->restart();
            opts.body_sink = c.body_to->sink();
        }
        opts.expect_no_body = c.method == http::verb::head;
        try {
            co_return co_await http_->send(std::move(req), std::move(opts));
        } catch (const http::error& e) {
            throw error(e.transient() ? errc::transient : errc::permanent, "azure " + std::string(http::to_string(c.method)) + " " +
                                                                                c.path + ": " + e.what());
        }
    }

    // send_once with bounded retries on transient failures and retryable statuses; returns any
    // other response (the caller decides what 404 means).
    asio::awaitable<http::response> send(const call& c, const std::string& what) {
        for (std::uint32_t attempt = 1;; ++attempt) {
            std::string reason;
            try {
                http::response r = co_await send_once(c);
                if (!(r.status >= 500 || r.status == 408 || r.status == 429) || !config_.retry.may_retry(attempt)) co_return r;
                reason = "HTTP " + std::to_string(r.status);
            } catch (const error& e) {
                if (!e.retryable() || !config_.retry.may_retry(attempt)) throw;
                reason = e.what();
            }
            const auto delay = config_.retry.delay(attempt, jitter_rng());
            spdlog::warn("storage: azure {} failed (attempt {}): {}; retrying in {} ms", what, attempt, reason, delay.count());
            co_await sleep_for(delay);
        }
    }

    http::header_list content_headers(const put_options& o, const std::string& sha, bool for_block_list) const {
        http::header_list h;
        h.emplace_back(for_block_list ? "x-ms-blob-content-type" : "Content-Type", o.content_type);
        // Put Blob takes it too; a Content-Encoding request header would describe the request's body.
        if (!o.content_encoding.empty()) h.emplace_back("x-ms-blob-content-encoding", o.content_encoding);
        h.emplace_back("x-ms-meta-sha256", sha);
        for (const auto& [k, v] : o.metadata) {
            if (k == "sha256") continue;
            h.emplace_back("x-ms-meta-" + k, v);
        }
        return h;
    }

    asio::awaitable<put_result> put_blob(const std::string& key, std::span<const char> body,
                                         const detail::source_file* file, const put_options& o,
                                         const std::string& sha, const std::string& md5) {
        call c;
        c.method = http::verb::put;
        c.path = blob_path(key);
        c.headers = content_headers(o, sha, false);
        c.headers.emplace_back("x-ms-blob-type", "BlockBlob");
        c.headers.emplace_back("Content-MD5", md5);
        c.body = body;
        c.body_file = file;
        const auto r = co_await send(c, "Put Blob '" + key + "'");
        if (!r.ok()) throw_for(r, "azure Put Blob '" + key + "'");
        const std::uint64_t size = file ? file->size() : body.size();
        if (o.progress) o.progress(size, size);
        co_return put_result{key, size, strip_quotes(r.header("etag").value_or("")), sha, 1};
    }

    asio::awaitable<put_result> put_bytes(std::string key, std::string data, put_options o) override {
        check_key(key);
        if (o.sha256 && !is_sha256_hex(*o.sha256)) throw error(errc::permanent, "put_options.sha256 is not 64 lowercase hex characters");
        auto [sha, md5] = co_await detail::offload([&] {
            const std::span<const char> bytes(data.data(), data.size());
            return std::pair{o.sha256 ? *o.sha256 : sha256_hex(bytes), md5_base64(bytes)};
        });
        co_return co_await put_blob(key, std::span<const char>(data.data(), data.size()), nullptr, o, sha, md5);
    }

    std::unique_ptr<part_sink> stream_sink(std::string key) override;
    asio::awaitable<put_result> put_file(std::string key, std::filesystem::path source, put_options o) override;

    asio::awaitable<object_info> get_to_file(std::string key, std::filesystem::path dest,
                                             std::optional<byte_range> range) override {
        check_key(key);
        // Streamed into a temp file beside the destination, written and hashed off the I/O thread.
        detail::download_file file = co_await detail::download_file::create(dest);
        call c;
        c.path = blob_path(key);
        c.body_to = &file;
        if (range) {
            std::string value = "bytes=" + std::to_string(range->first) + "-";
            if (range->last) value += std::to_string(*range->last);
            c.headers.emplace_back("x-ms-range", value);
        }
        std::exception_ptr failure;
        object_info info;
        try {
            const auto r = co_await send(c, "Get Blob '" + key + "'");
            if (!r.ok()) throw_for(r, "azure Get Blob '" + key + "'");
            info = info_from(key, r);
            if (r.status == 200) {  // the whole blob: checked against its digest when it carries one, and carried
                const auto actual = file.sha256_hex();
                if (info.sha256 && actual != *info.sha256)
                    throw error(errc::integrity, "object '" + key + "' is corrupt: SHA-256 " + actual + ", stored " + *info.sha256);
                info.sha256 = actual;
            }
            co_await file.commit();
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            co_await file.discard();
            std::rethrow_exception(failure);
        }
        co_return info;
    }

    asio::awaitable<std::optional<object_info>> head(std::string key) override {
        check_key(key);
        call c;
        c.method = http::verb::head;
        c.path = blob_path(key);
        const auto r = co_await send(c, "Get Blob Properties '" + key + "'");
        if (r.status == 404) co_return std::nullopt;
        if (!r.ok()) throw_for(r, "azure Get Blob Properties '" + key + "'");
        co_return info_from(key, r);
    }

    asio::awaitable<void> remove(std::string key) override {
        check_key(key);
        call c;
        c.method = http::verb::delete_;
        c.path = blob_path(key);
        c.headers.emplace_back("x-ms-delete-snapshots", "include");
        const auto r = co_await send(c, "Delete Blob '" + key + "'");
        if (r.status == 404) co_return;  // absent is not an error
        if (!r.ok()) throw_for(r, "azure Delete Blob '" + key + "'");
    }

    // Blob Batch: up to 256 Delete Blob subrequests per request, each signed on its own; a
    // missing blob counts as deleted. Invalid keys are reported without being sent.
    asio::awaitable<std::vector<std::string>> remove_many(std::vector<std::string> keys) override {
        std::vector<std::string> failed, valid;
        for (auto& key : keys) {
            if (auto reason = invalid_key_reason(key)) {
                spdlog::warn("storage: azure delete of '{}' refused: invalid key: {}", key, *reason);
                failed.push_back(std::move(key));
            } else {
                valid.push_back(std::move(key));
            }
        }
        for (std::size_t first = 0; first < valid.size(); first += max_batch_subrequests) {
            const std::span<const std::string> batch(valid.data() + first, std::min(max_batch_subrequests, valid.size() - first));
            const auto not_deleted = co_await delete_batch(batch);
            failed.insert(failed.end(), not_deleted.begin(), not_deleted.end());
        }
        co_return failed;
    }

    // One Blob Batch request of Delete Blob subrequests; returns the keys it did not delete.
    asio::awaitable<std::vector<std::string>> delete_batch(std::span<const std::string> keys) {
        const std::string date = http_date(std::chrono::system_clock::now());
        std::vector<batch_subrequest> subrequests;
        subrequests.reserve(keys.size());
        for (const auto& key : keys) {
            batch_subrequest sub{"DELETE", blob_path(key), {}};
            sub.headers.emplace_back("x-ms-date", date);
            sub.headers.emplace_back("x-ms-delete-snapshots", "include");
            sub.headers.emplace_back("Content-Length", "0");
            const shared_key_request to_sign{sub.method, sub.path, {}, sub.headers};
            sub.headers.emplace_back("Authorization", shared_key_authorization(config_.account, key_, to_sign));
            subrequests.push_back(std::move(sub));
        }
        const std::string boundary = "batch_" + random_token();
        const std::string body = batch_body(boundary, subrequests);
        call c;
        c.method = http::verb::post;
        c.path = container_path_;
        c.query = {{"restype", "container"}, {"comp", "batch"}};
        c.headers.emplace_back("Content-Type", "multipart/mixed; boundary=" + boundary);
        c.body = std::span<const char>(body.data(), body.size());
        const std::string what = "Blob Batch of " + std::to_string(keys.size()) + " deletes";
        // Retried as a whole on 5xx and transport failures: deleting again is harmless (404 is "deleted").
        const auto r = co_await send(c, what);
        if (!r.ok()) throw_for(r, "azure " + what);
        const auto replies = parse_batch_reply(r.header("content-type").value_or(""), r.body);
        std::vector<bool> answered(keys.size(), false);
        std::vector<std::string> failed;
        std::string first_reason;  // one log line per batch, not one per key
        for (const auto& sub : replies) {
            if (!sub.content_id) {  // an answer for the batch as a whole: it was refused
                throw error(status_errc(sub.status), "azure " + what + " refused: HTTP " + std::to_string(sub.status) + " " +
                                                         sub.error_code + " (" + sub.message + ")");
            }
            const std::size_t id = *sub.content_id;
            if (id >= keys.size() || answered[id])
                throw error(errc::permanent, "azure " + what + ": the reply answers subrequest " + std::to_string(id) +
                                                 " unexpectedly");
            answered[id] = true;
            if ((sub.status >= 200 && sub.status < 300) || sub.status == 404) continue;  // deleted, or already gone
            if (failed.empty())
                first_reason = "'" + keys[id] + "': HTTP " + std::to_string(sub.status) + " " + sub.error_code + " (" + sub.message + ")";
            failed.push_back(keys[id]);
        }
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (answered[i]) continue;
            if (failed.empty()) first_reason = "'" + keys[i] + "': no answer in the batch reply";
            failed.push_back(keys[i]);
        }
        if (!failed.empty())
            spdlog::warn("storage: azure {}: {} not deleted, the first {}", what, failed.size(), first_reason);
        co_return failed;
    }

    asio::awaitable<std::vector<object_info>> list_raw(const std::string& prefix, std::optional<std::string>& marker,
                                                       std::size_t max_keys, bool uncommitted) {
        call c;
        c.path = container_path_;
        c.query = {{"restype", "container"}, {"comp", "list"}, {"include", uncommitted ? "metadata,uncommittedblobs" : "metadata"},
                   {"maxresults", std::to_string(std::clamp<std::size_t>(max_keys, 1, 5000))}};
        if (!prefix.empty()) c.query.emplace_back("prefix", prefix);
        if (marker) c.query.emplace_back("marker", *marker);
        c.body_limit = 64ull << 20;
        const auto r = co_await send(c, "List Blobs");
        if (!r.ok()) throw_for(r, "azure List Blobs");
        auto page = parse_list_blobs(r.body);
        marker = std::move(page.next_marker);
        co_return std::move(page.blobs);
    }

    asio::awaitable<list_page> list(std::string prefix, std::optional<std::string> continuation, std::size_t max_keys) override {
        list_page page;
        page.objects = co_await list_raw(prefix, continuation, max_keys, false);
        page.next = std::move(continuation);
        co_return page;
    }

    asio::awaitable<void> copy(std::string source_key, std::string destination_key) override {
        check_key(source_key);
        check_key(destination_key);
        call c;
        c.method = http::verb::put;
        c.path = blob_path(destination_key);
        // Within one account the SharedKey of this request authorizes reading the source.
        c.headers.emplace_back("x-ms-copy-source", origin_ + blob_path(source_key));
        auto r = co_await send(c, "Copy Blob '" + source_key + "'");
        if (!r.ok()) throw_for(r, "azure Copy Blob '" + source_key + "' to '" + destination_key + "'");
        // Large copies run asynchronously on the service: poll until they end (bounded).
        std::string status(r.header("x-ms-copy-status").value_or("success"));
        for (int i = 0; status == "pending" && i < 600; ++i) {
            co_await sleep_for(std::chrono::milliseconds(500));
            call h;
            h.method = http::verb::head;
            h.path = blob_path(destination_key);
            r = co_await send(h, "Get Blob Properties '" + destination_key + "'");
            if (!r.ok()) throw_for(r, "azure Copy Blob '" + source_key + "' (polling)");
            status = std::string(r.header("x-ms-copy-status").value_or("success"));
        }
        if (status != "success")
            throw error(errc::permanent, "azure Copy Blob '" + source_key + "' to '" + destination_key + "' ended: " + status);
    }

    std::string presign(http_method method, const std::string& key, std::chrono::seconds expires) const override {
        check_key(key);
        expires = std::clamp<std::chrono::seconds>(expires, std::chrono::seconds(1), std::chrono::hours(24 * 7));
        const auto now = std::chrono::system_clock::now();
        blob_sas sas;
        sas.account = config_.account;
        sas.container = config_.container;
        sas.blob = key;
        sas.permissions = method == http_method::get ? "r" : "cw";
        sas.start = now - std::chrono::minutes(5);
        sas.expiry = now + expires;
        sas.protocol = endpoint_.tls ? "https" : "https,http";
        return origin_ + blob_path(key) + "?" + sas_query(sas, key_);
    }

    asio::awaitable<std::vector<incomplete_upload>> list_incomplete(std::string prefix) override {
        // Blobs listed with uncommitted blobs but not without them have only uncommitted blocks.
        std::vector<object_info> all, committed;
        for (std::optional<std::string> marker;;) {
            auto page = co_await list_raw(prefix, marker, 5000, true);
            all.insert(all.end(), page.begin(), page.end());
            if (!marker) break;
        }
        for (std::optional<std::string> marker;;) {
            auto page = co_await list_raw(prefix, marker, 5000, false);
            committed.insert(committed.end(), page.begin(), page.end());
            if (!marker) break;
        }
        std::vector<incomplete_upload> out;
        for (const auto& o : all)
            if (std::none_of(committed.begin(), committed.end(), [&](const auto& c) { return c.key == o.key; }))
                out.push_back(incomplete_upload{o.key, std::string(uncommitted_upload_id), o.last_modified});
        co_return out;
    }

    asio::awaitable<void> abort_incomplete(std::string key, std::string) override { co_await discard_uncommitted(key); }

    std::optional<std::string> tier_class(storage::tier t) const override { return std::string(access_tier_for(t)); }

    // Set Blob Tier (PUT ?comp=tier, x-ms-access-tier): the blob's bytes, metadata and
    // content type stay; setting the tier it already has is a no-op at the service, so a rerun is
    // too. A HEAD first all the same: a missing blob is not_found, and one already there is not
    // touched (no request billed as a tier change).
    asio::awaitable<void> set_tier(std::string key, storage::tier t) override {
        check_key(key);
        const std::string target(access_tier_for(t));
        auto heading = head(key);
        const auto info = co_await std::move(heading);
        if (!info) throw error(errc::not_found, "azure Set Blob Tier '" + key + "': no such blob");
        if (info->storage_class == target) co_return;
        call c;
        c.method = http::verb::put;
        c.path = blob_path(key);
        c.query.emplace_back("comp", "tier");
        c.headers.emplace_back("x-ms-access-tier", target);
        const auto r = co_await send(c, "Set Blob Tier '" + key + "'");
        if (r.status == 404) throw error(errc::not_found, "azure Set Blob Tier '" + key + "': no such blob");
        if (!r.ok()) throw_for(r, "azure Set Blob Tier '" + key + "' to " + target);
    }

    // See azure.hpp: commit an empty list only if no committed blob exists, then delete it.
    asio::awaitable<void> discard_uncommitted(const std::string& key) {
        check_key(key);
        call commit;
        commit.method = http::verb::put;
        commit.path = blob_path(key);
        commit.query = {{"comp", "blocklist"}};
        commit.headers.emplace_back("If-None-Match", "*");
        commit.headers.emplace_back("Content-Type", "application/xml");
        static const std::string empty_list = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList></BlockList>";
        commit.body = std::span<const char>(empty_list.data(), empty_list.size());
        const auto r = co_await send(commit, "discarding uncommitted blocks of '" + key + "'");
        if (r.status == 409 || r.status == 412) {
            spdlog::info("storage: azure blob '{}' exists; its uncommitted blocks are left to Azure's garbage collection", key);
            co_return;
        }
        if (!r.ok()) throw_for(r, "azure discarding uncommitted blocks of '" + key + "'");
        call del;
        del.method = http::verb::delete_;
        del.path = blob_path(key);
        del.headers.emplace_back("If-Match", std::string(r.header("etag").value_or("*")));
        const auto d = co_await send(del, "Delete Blob '" + key + "'");
        if (!d.ok() && d.status != 404 && d.status != 412) throw_for(d, "azure Delete Blob '" + key + "'");
    }

    asio::awaitable<void> create_container() {
        call c;
        c.method = http::verb::put;
        c.path = container_path_;
        c.query = {{"restype", "container"}};
        const auto r = co_await send(c, "Create Container");
        if (r.status == 409) co_return;  // ContainerAlreadyExists
        if (!r.ok()) throw_for(r, "azure Create Container '" + config_.container + "'");
    }

    const config& cfg() const noexcept { return config_; }

private:
    config config_;
    std::string key_;
    http::endpoint endpoint_;
    std::string origin_, base_path_, container_path_;
    std::shared_ptr<http::client> http_;
};

namespace {

class block_sink final : public part_sink {
public:
    block_sink(azure_provider& p, std::string key) : p_(p), key_(std::move(key)) {}

    asio::awaitable<void> begin(const std::string&, const put_options& options) override {
        options_ = options;
        co_return;  // Azure has no "create upload": blocks attach to the blob name
    }

    asio::awaitable<uploaded_part> upload_part(std::uint32_t number, const part_body& body, const std::string& md5) override {
        const std::span<const char> bytes = body.bytes;  // memory mode: accepts_file_parts() is false
        azure_provider::call c;
        c.method = http::verb::put;
        c.path = p_.blob_path(key_);
        const std::string id = block_id(number);
        c.query = {{"comp", "block"}, {"blockid", id}};
        c.headers.emplace_back("Content-MD5", md5);
        c.body = bytes;
        // One attempt: the engine retries parts (re-reading them from the file).
        const auto r = co_await p_.send_once(c);
        if (!r.ok()) throw_for(r, "azure Put Block " + std::to_string(number) + " of '" + key_ + "'");
        co_return uploaded_part{.number = number, .size = bytes.size(), .etag = id, .checksum = md5};
    }

    asio::awaitable<std::string> complete(const std::vector<uploaded_part>& parts, const std::string& sha) override {
        std::string body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
        for (const auto& p : parts) body += "<Latest>" + p.etag + "</Latest>";
        body += "</BlockList>";
        azure_provider::call c;
        c.method = http::verb::put;
        c.path = p_.blob_path(key_);
        c.query = {{"comp", "blocklist"}};
        c.headers = p_.content_headers(options_, sha, true);
        c.headers.emplace_back("Content-Type", "application/xml");
        c.headers.emplace_back("Content-MD5", md5_base64(std::span<const char>(body.data(), body.size())));
        c.body = std::span<const char>(body.data(), body.size());
        const auto r = co_await p_.send_once(c);  // the engine retries complete too
        if (!r.ok()) throw_for(r, "azure Put Block List of '" + key_ + "'");
        co_return strip_quotes(r.header("etag").value_or(""));
    }

    asio::awaitable<void> abort() override { co_await p_.discard_uncommitted(key_); }
    std::string upload_id() const override { return std::string(uncommitted_upload_id); }
    std::uint64_t min_part_size() const override { return 1ull << 20; }

private:
    azure_provider& p_;
    std::string key_;
    put_options options_;
};

azure_provider& as_azure(storage::provider& p) {
    auto* a = dynamic_cast<azure_provider*>(&p);
    if (!a) throw std::invalid_argument("not an azure provider");
    return *a;
}

}  // namespace

std::unique_ptr<part_sink> azure_provider::stream_sink(std::string key) {
    check_key(key);
    return std::make_unique<block_sink>(*this, std::move(key));
}

asio::awaitable<put_result> azure_provider::put_file(std::string key, std::filesystem::path source, put_options o) {
    check_key(key);
    if (o.sha256 && !is_sha256_hex(*o.sha256)) throw error(errc::permanent, "put_options.sha256 is not 64 lowercase hex characters");
    // Opened and stat'ed on the blocking pool; the engine opens the file itself for blocks.
    detail::source_file file = co_await detail::source_file::open(source);
    if (file.size() > config_.single_put_max) {
        block_sink sink(*this, key);
        co_return co_await upload_file_in_parts(sink, key, source, o, config_.engine);
    }
    // Small: SHA-256 and MD5 in one streamed read, then one Put Blob that sends the file in
    // chunks, both off the I/O thread (the bytes are never all in memory).
    const detail::source_file::digests digests = co_await file.digest(o.sha256, true);
    co_return co_await put_blob(key, {}, &file, o, digests.sha256_hex, digests.md5_base64);
}

std::unique_ptr<storage::provider> make_provider(asio::any_io_executor executor, config c) {
    return std::make_unique<azure_provider>(std::move(executor), std::move(c));
}

asio::awaitable<void> create_container(storage::provider& p) { co_await as_azure(p).create_container(); }

std::unique_ptr<part_sink> make_part_sink(storage::provider& p, std::string key) {
    return std::make_unique<block_sink>(as_azure(p), std::move(key));
}

}  // namespace wharf::storage::azure
