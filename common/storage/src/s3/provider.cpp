// The S3 provider and its multipart part_sink: builds, signs and sends requests; the pure parts
// (signing, reply parsing, classification) live in sigv4.cpp and replies.cpp.
#include "wharf/storage/s3/provider.hpp"

#include "blocking.hpp"
#include "file_io.hpp"
#include "wharf/core/backoff.hpp"
#include "wharf/http/client.hpp"
#include "wharf/storage/s3/replies.hpp"
#include "wharf/storage/s3/xml.hpp"
#include "wharf/storage/sha256.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <vector>

#include <unistd.h>

namespace wharf::storage::s3 {

namespace net = boost::asio;
using net::awaitable;

std::optional<profile> parse_profile(std::string_view name) noexcept {
    if (name == "aws" || name == "s3") return profile::aws;
    if (name == "minio") return profile::minio;
    if (name == "r2") return profile::r2;
    if (name == "gcs") return profile::gcs;
    if (name == "generic") return profile::generic;
    return std::nullopt;
}

std::string_view to_string(profile p) noexcept {
    switch (p) {
    case profile::aws: return "aws";
    case profile::minio: return "minio";
    case profile::r2: return "r2";
    case profile::gcs: return "gcs";
    case profile::generic: return "generic";
    }
    return "generic";
}

std::string_view storage_class_for(profile p, storage::tier t) noexcept {
    switch (t) {
    case storage::tier::hot: return "STANDARD";
    case storage::tier::warm: return p == profile::gcs ? "NEARLINE" : "STANDARD_IA";
    case storage::tier::cold:
        if (p == profile::gcs) return "COLDLINE";
        if (p == profile::r2) return "STANDARD_IA";
        return "GLACIER_IR";
    }
    return "STANDARD";
}

std::string_view storage_class_header(profile p) noexcept {
    return p == profile::gcs ? "x-goog-storage-class" : "x-amz-storage-class";
}

std::string addressing::object_path(std::string_view key) const {
    return bucket_path + "/" + sigv4::uri_encode(key, true);
}

bool is_ip_literal_or_localhost(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return true;  // IPv6
    boost::system::error_code ec;
    boost::asio::ip::make_address(std::string(host), ec);
    if (!ec) return true;
    std::string lower(host);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (lower.ends_with(".")) lower.pop_back();
    return lower == "localhost" || lower.ends_with(".localhost");
}

bool is_dns_compatible_bucket(std::string_view bucket) {
    // S3's rules for bucket names that can be a host label sequence: 3-63 characters of lowercase
    // letters, digits, '.' and '-', starting and ending with a letter or digit, no empty label,
    // no '-' next to a '.', and not formatted as an IPv4 address.
    if (bucket.size() < 3 || bucket.size() > 63) return false;
    const auto alnum = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
    if (!alnum(bucket.front()) || !alnum(bucket.back())) return false;
    for (std::size_t i = 0; i < bucket.size(); ++i) {
        const char ch = bucket[i];
        if (!alnum(ch) && ch != '.' && ch != '-') return false;
        if (ch == '.' && i + 1 < bucket.size() && (bucket[i + 1] == '.' || bucket[i + 1] == '-')) return false;
        if (ch == '-' && i + 1 < bucket.size() && bucket[i + 1] == '.') return false;
    }
    boost::system::error_code ec;
    boost::asio::ip::make_address_v4(std::string(bucket), ec);
    return static_cast<bool>(ec);
}

addressing resolve_addressing(const config& c) {
    if (c.bucket.empty()) throw error(errc::permanent, "s3 provider '" + c.name + "': no bucket configured");
    addressing a;
    a.region = c.region;
    if (a.region.empty()) a.region = (c.profile == profile::r2 || c.profile == profile::gcs) ? "auto" : "us-east-1";
    std::string endpoint = c.endpoint;
    if (endpoint.empty()) {
        if (c.profile == profile::aws) endpoint = "https://s3." + a.region + ".amazonaws.com";
        else if (c.profile == profile::gcs) endpoint = "https://storage.googleapis.com";
        else throw error(errc::permanent, "s3 provider '" + c.name + "': profile " + std::string(to_string(c.profile)) +
                                              " needs an endpoint URL");
    }
    http::endpoint ep;
    try {
        ep = http::parse_endpoint(endpoint);
    } catch (const std::invalid_argument& e) {
        throw error(errc::permanent, "s3 provider '" + c.name + "': bad endpoint: " + e.what());
    }
    // As the AWS SDKs do: virtual-hosted addressing (the bucket in the host name) only where it
    // can work, i.e. a DNS-compatible bucket under an endpoint that is a DNS name, not an IP
    // literal or localhost (a local MinIO or emulator); and a bucket with dots cannot be a TLS
    // host name under a wildcard certificate.
    const bool virtual_hosting_possible = !is_ip_literal_or_localhost(ep.host) && is_dns_compatible_bucket(c.bucket) &&
                                          !(ep.tls && c.bucket.find('.') != std::string::npos);
    if (c.path_style == false && !virtual_hosting_possible)
        throw error(errc::permanent, "s3 provider '" + c.name + "': path_style: false needs a DNS-compatible bucket "
                                         "name under an endpoint that is a DNS name (bucket '" + c.bucket +
                                         "', endpoint host '" + ep.host + "'); leave path_style unset");
    a.path_style = c.path_style.value_or(c.profile != profile::aws || !virtual_hosting_possible);
    if (a.path_style) {
        a.bucket_path = "/" + sigv4::uri_encode(c.bucket, false);
    } else {
        ep.host = c.bucket + "." + ep.host;
    }
    a.origin = std::string(ep.tls ? "https://" : "http://") + ep.host_header();
    return a;
}

checksum_kind resolve_part_checksum(const config& c) {
    const bool md5_only = c.profile == profile::r2 || c.profile == profile::gcs;
    const checksum_kind kind = c.part_checksum.value_or(md5_only ? checksum_kind::md5 : checksum_kind::crc32);
    if (md5_only && (kind == checksum_kind::crc32 || kind == checksum_kind::crc32c))
        throw error(errc::permanent, "s3 provider '" + c.name + "': profile " + std::string(to_string(c.profile)) +
                                         " takes no x-amz-checksum-* headers; part_checksum must be md5 or none");
    return kind;
}

namespace {

// The x-amz-checksum-algorithm value and part header of a CRC kind.
std::string_view checksum_algorithm(checksum_kind k) { return k == checksum_kind::crc32c ? "CRC32C" : "CRC32"; }
std::string_view checksum_header(checksum_kind k) {
    return k == checksum_kind::crc32c ? "x-amz-checksum-crc32c" : "x-amz-checksum-crc32";
}
bool is_crc(checksum_kind k) { return k == checksum_kind::crc32 || k == checksum_kind::crc32c; }

// Adds a CRC part/object checksum: the value, and the algorithm the AWS SDKs name alongside it
// (servers that validate the value echo it back in the reply; moto only echoes when it is named).
void add_crc_headers(http::header_list& h, checksum_kind k, const std::string& value) {
    h.emplace_back(std::string(checksum_header(k)), value);
    h.emplace_back("x-amz-sdk-checksum-algorithm", std::string(checksum_algorithm(k)));
}

// What a reply says of the CRC it was sent: nullopt when it does not echo one (the server did
// not check it); an echo that is not ours means the server got other bytes.
std::optional<std::string> echoed_crc(const http::response& r, checksum_kind k) {
    auto v = r.header(checksum_header(k));
    if (!v || v->empty()) return std::nullopt;
    return std::string(*v);
}

// An ETag that is the hex MD5 of the bytes (single PUTs and parts without SSE-KMS/SSE-C).
bool is_plain_md5_etag(std::string_view etag) {
    return etag.size() == 32 && std::all_of(etag.begin(), etag.end(),
                                            [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The hex form of a base64 MD5 (Content-MD5 value), to compare with a plain-MD5 ETag.
std::string md5_hex(const std::string& md5_base64) {
    return to_hex(base64_decode(md5_base64).value_or(""));
}

std::string md5_base64_of(std::span<const char> bytes) {
    part_checksum md5(checksum_kind::md5);
    md5.update(bytes);
    return md5.finish_base64();
}

std::string meta_prefix(profile p) { return p == profile::gcs ? "x-goog-meta-" : "x-amz-meta-"; }

std::optional<std::string> meta_sha256(const http::response& r) {
    auto v = r.header("x-amz-meta-sha256");
    if (!v) v = r.header("x-goog-meta-sha256");
    if (!v || !is_sha256_hex(*v)) return std::nullopt;
    return std::string(*v);
}

object_info info_from_headers(const std::string& key, const http::response& r) {
    object_info info;
    info.key = key;
    if (auto len = r.header("content-length")) info.size = std::strtoull(std::string(*len).c_str(), nullptr, 10);
    if (auto range = r.header("content-range")) {  // "bytes 0-9/443": the object's size is after '/'
        if (auto slash = range->rfind('/'); slash != std::string_view::npos && range->substr(slash + 1) != "*")
            info.size = std::strtoull(std::string(range->substr(slash + 1)).c_str(), nullptr, 10);
    }
    if (auto etag = r.header("etag")) info.etag = unquote(*etag);
    if (auto lm = r.header("last-modified")) info.last_modified = parse_http_date(*lm).value_or(info.last_modified);
    info.sha256 = meta_sha256(r);
    if (auto type = r.header("content-type"); type && !type->empty()) info.content_type = std::string(*type);
    if (auto enc = r.header("content-encoding"); enc && !enc->empty()) info.content_encoding = std::string(*enc);
    // S3 names the class only when it is not STANDARD.
    auto cls = r.header("x-amz-storage-class");
    if (!cls) cls = r.header("x-goog-storage-class");
    info.storage_class = cls && !cls->empty() ? std::string(*cls) : std::string("STANDARD");
    return info;
}

// One name/value pair as a list (brace-initialising a vector of pairs from string literals is ambiguous).
std::vector<std::pair<std::string, std::string>> kv(std::string k, std::string v) {
    std::vector<std::pair<std::string, std::string>> out;
    out.emplace_back(std::move(k), std::move(v));
    return out;
}

void check_key(std::string_view key) {
    if (auto reason = invalid_key_reason(key)) throw error(errc::invalid_key, "invalid key '" + std::string(key) + "': " + *reason);
}

class s3_provider;

// CreateMultipartUpload / UploadPart / CompleteMultipartUpload / AbortMultipartUpload for the
// engine. Parts and complete are not retried here: the engine owns those retries.
class s3_part_sink final : public part_sink {
public:
    s3_part_sink(s3_provider& p, std::string key);
    awaitable<void> begin(const std::string& key, const put_options& options) override;
    awaitable<uploaded_part> upload_part(std::uint32_t number, const part_body& body,
                                         const std::string& checksum_value) override;
    awaitable<std::string> complete(const std::vector<uploaded_part>& parts, const std::string& sha256_hex) override;
    awaitable<void> abort() override;
    checksum_kind checksum() const override;
    bool accepts_file_parts() const override;
    std::string upload_id() const override { return upload_id_; }
    // For a multipart copy: Create with these headers (no part checksums: S3 copies the bytes it
    // has), and UploadPartCopy of source bytes [first, last].
    awaitable<void> begin_with(const std::string& key, http::header_list headers);
    awaitable<uploaded_part> copy_part(std::uint32_t number, const std::string& source, std::uint64_t first,
                                       std::uint64_t last);

private:
    awaitable<void> create(http::header_list headers);
    // One UploadPart with the given integrity header (a CRC kind, md5, or none); the reply when 2xx.
    awaitable<http::response> send_part(std::uint32_t number, const part_body& body, checksum_kind header_kind,
                                        const std::string& header_value);
    // The MD5 of a part's bytes, read again on the blocking pool in file mode; `crc` (the engine's
    // checksum of its first read) must still match, or the file changed under the upload.
    awaitable<std::string> part_md5(const part_body& body, const std::string& crc) const;

    s3_provider& provider_;
    // The checksum of this upload's parts, fixed when it starts (Create declares it and
    // Complete lists it): the configured one, or md5 once the provider learnt that the server
    // ignores x-amz-checksum-*.
    checksum_kind kind_;
    bool copying_ = false;
    std::string key_;
    std::string upload_id_;
    bool complete_tried_ = false;
};

class s3_provider final : public provider {
public:
    s3_provider(net::any_io_executor ex, config c)
        : config_(std::move(c)),
          where_(resolve_addressing(config_)),
          endpoint_(http::parse_endpoint(where_.origin)),
          part_checksum_(resolve_part_checksum(config_)),
          http_(std::make_shared<http::client>(
              ex, http::client_options{.verify_peer = config_.verify_tls, .ca_file = config_.ca_file})),
          signer_(config_.credentials, sigv4::scope{where_.region, "s3"}) {}

    const std::string& name() const noexcept override { return config_.name; }
    std::string_view kind() const noexcept override { return "s3"; }
    const std::string& bucket() const noexcept override { return config_.bucket; }

    // One signed exchange. Transport failures become storage::error (transient ones retryable);
    // the status is the caller's to judge.
    awaitable<http::response> call(http::verb method, std::string path, sigv4::param_list query,
                                   http::header_list headers, std::span<const char> body,
                                   std::string payload_hash, std::string_view operation, std::string_view key,
                                   http::request_options options = {}, std::optional<http::file_region> file = {},
                                   std::optional<http::body_source> streamed = {}) {
        sigv4::request_to_sign r;
        r.method = std::string(http::to_string(method));
        r.canonical_uri = path.empty() ? "/" : path;
        r.query = std::move(query);
        r.headers = headers;
        r.headers.emplace_back("host", endpoint_.host_header());
        r.payload_hash = std::move(payload_hash);
        http::request req;
        req.method = method;
        req.to = endpoint_;
        req.target = r.canonical_uri;
        if (!r.query.empty()) req.target += "?" + sigv4::canonical_query(r.query);
        signer_.sign_headers(std::move(r), std::chrono::system_clock::now(), headers);
        req.headers = std::move(headers);
        req.body = body;
        req.body_file = std::move(file);
        req.streamed_body = std::move(streamed);
        options.timeout = config_.timeout;
        try {
            co_return co_await http_->send(std::move(req), std::move(options));
        } catch (const http::error& e) {
            if (e.kind() == http::error_kind::resolve) throw unresolved_host_error(operation, key, e);
            throw transport_error(operation, key, e);
        }
    }

    // A host name that does not resolve is most often a setting (an endpoint's typo, or a bucket
    // put in front of a host that has no such names): the error says which. Still transient, as a
    // DNS outage looks the same.
    error unresolved_host_error(std::string_view operation, std::string_view key, const http::error& e) const {
        std::string what = std::string(operation) + " " + std::string(key) + ": " + e.what() + " (s3 provider '" +
                           config_.name + "': check its endpoint '" + config_.endpoint + "'";
        if (!where_.path_style)
            what += "; requests go virtual-hosted, to <bucket>.<endpoint host>: set path_style: true if the "
                    "endpoint does not serve bucket subdomains";
        return error(errc::transient, what + ")");
    }

    // Runs `op` again on transient errors, with the one backoff policy. Only for idempotent calls.
    // With `resend_refused_bytes`, also when the server refused the bytes it got (BadDigest and
    // the like: errc::integrity), for a body that is read again on each attempt.
    template <class Op>
    auto with_retry(std::string_view what, std::string_view key, Op op, bool resend_refused_bytes = false)
        -> decltype(op()) {
        for (std::uint32_t attempt = 1;; ++attempt) {
            std::string reason;
            try {
                co_return co_await op();
            } catch (const error& e) {
                const bool again = e.retryable() || (resend_refused_bytes && e.code() == errc::integrity);
                if (!again || !config_.retry.may_retry(attempt)) throw;
                reason = e.what();
            }
            const auto delay = config_.retry.delay(attempt, jitter_rng());
            spdlog::warn("s3 {}: {} '{}' failed (attempt {}): {}; retrying in {} ms", config_.name, what, key, attempt,
                         reason, delay.count());
            net::steady_timer timer(co_await net::this_coro::executor, delay);
            co_await timer.async_wait(net::use_awaitable);
        }
    }

    http::header_list object_headers(const put_options& o, const std::optional<std::string>& sha) const {
        http::header_list h;
        h.emplace_back("Content-Type", o.content_type.empty() ? "application/octet-stream" : o.content_type);
        if (!o.content_encoding.empty()) h.emplace_back("Content-Encoding", o.content_encoding);
        const std::string prefix = meta_prefix(config_.profile);
        for (const auto& [k, v] : o.metadata) h.emplace_back(prefix + k, v);
        if (sha) h.emplace_back(prefix + "sha256", *sha);
        return h;
    }

    // How a single PUT's bytes are checked by the server: the part checksum's CRC (verified by its
    // echo), Content-MD5 (md5, r2 and gcs, or a server that ignores x-amz-checksum-*), or
    // nothing beyond the signed payload hash (part_checksum none).
    checksum_kind single_put_check() const noexcept {
        if (is_crc(part_checksum_)) return ignores_checksum_headers() ? checksum_kind::md5 : part_checksum_;
        return part_checksum_;
    }

    // One PUT of `body`, or of `file` when given (read chunk by chunk off the I/O thread). `sum`
    // is the single_put_check() value of the bytes (base64; empty for none). The object counts as
    // stored only once the server is known to have checked the bytes: it echoed the CRC, or took
    // the Content-MD5, or answered a plain-MD5 ETag equal to the bytes' MD5. A server that does
    // not echo the CRC gets the bytes again with Content-MD5 unless its ETag already proves them.
    awaitable<put_result> put_single(std::string key, std::span<const char> body, const detail::source_file* file,
                                     std::uint64_t size, std::string sha, std::string sum, checksum_kind check,
                                     const put_options& options) {
        const std::string path = where_.object_path(key);
        const std::string payload = config_.sign_payload ? sha : std::string(sigv4::unsigned_payload);
        auto send = [&](checksum_kind kind, const std::string& value) -> awaitable<http::response> {
            std::optional<http::body_source> streamed;
            if (file) streamed = file->body();  // each send reads the file again
            http::header_list headers = object_headers(options, sha);
            if (is_crc(kind))
                add_crc_headers(headers, kind, value);
            else if (kind == checksum_kind::md5)
                headers.emplace_back("Content-MD5", value);
            auto r = co_await call(http::verb::put, path, {}, std::move(headers), body, payload, "put", key, {}, {},
                                   std::move(streamed));
            if (!r.ok()) throw reply_error("put", key, r.status, r.body);
            co_return r;
        };
        // The MD5 of what the server should hold: the bytes, or the file read again.
        auto md5_of_source = [&]() -> awaitable<std::string> {
            if (file) {
                auto d = co_await file->digest(sha, true);
                co_return d.md5_base64;
            }
            co_return co_await detail::offload([body] { return md5_base64_of(body); });
        };
        auto res = co_await with_retry(
            "put", key,
            [&]() -> awaitable<http::response> {
                auto r = co_await send(check, sum);
                std::string md5;
                if (is_crc(check)) {
                    if (auto echo = echoed_crc(r, check)) {
                        if (*echo != sum)
                            throw error(errc::integrity, "put " + key + ": the server's " +
                                                             std::string(checksum_algorithm(check)) + " " + *echo +
                                                             " is not the bytes' " + sum);
                        co_return r;
                    }
                    note_checksum_ignored("a PUT");
                    md5 = co_await md5_of_source();
                    const std::string etag = unquote(r.header("etag").value_or(""));
                    if (is_plain_md5_etag(etag) && etag == md5_hex(md5)) co_return r;  // the server has our bytes
                    spdlog::warn(
                        "s3 {}: put '{}': ETag '{}' does not prove the bytes (MD5 {}); sending them again "
                        "with Content-MD5",
                        config_.name, key, etag, md5_hex(md5));
                    r = co_await send(checksum_kind::md5, md5);
                }
                // A Content-MD5 the server took is its check. (A 32-hex ETag that differs proves
                // nothing: SSE-KMS and SSE-C objects have such ETags that are not the MD5.)
                co_return r;
            },
            true);
        if (options.progress) options.progress(size, size);
        co_return put_result{
            .key = key, .size = size, .etag = unquote(res.header("etag").value_or("")), .sha256 = sha, .parts = 1};
    }

    awaitable<put_result> put_file(std::string key, std::filesystem::path source, put_options options) override {
        check_key(key);
        // Opened and stat'ed on the blocking pool; the engine opens the file itself for parts.
        detail::source_file file = co_await detail::source_file::open(source);
        if (file.size() > config_.multipart_threshold) {
            // R2's equal-size parts hold by construction: the engine plans one part size per upload.
            s3_part_sink sink(*this, key);
            if (options.part_size == 0) options.part_size = config_.part_size;
            co_return co_await upload_file_in_parts(sink, key, source, std::move(options), config_.engine);
        }
        const checksum_kind check = single_put_check();
        const detail::source_file::digests digests =
            co_await file.digest(options.sha256, check == checksum_kind::md5, check);
        std::string sum = check == checksum_kind::md5 ? digests.md5_base64 : digests.crc_base64;
        co_return co_await put_single(key, {}, &file, file.size(), digests.sha256_hex, std::move(sum), check, options);
    }

    awaitable<put_result> put_bytes(std::string key, std::string data, put_options options) override {
        check_key(key);
        std::string sha = options.sha256 ? *options.sha256 : sigv4::sha256_hex(std::string_view(data));
        const checksum_kind check = single_put_check();
        const std::span<const char> bytes(data.data(), data.size());
        std::string sum;
        if (check != checksum_kind::none) {
            storage::part_checksum c(check);
            c.update(bytes);
            sum = c.finish_base64();
        }
        co_return co_await put_single(key, bytes, {}, data.size(), std::move(sha), std::move(sum), check, options);
    }

    awaitable<object_info> get_to_file(std::string key, std::filesystem::path destination,
                                       std::optional<byte_range> range) override {
        check_key(key);
        const std::string path = where_.object_path(key);
        http::header_list headers;
        if (range) {
            std::string r = "bytes=" + std::to_string(range->first) + "-";
            if (range->last) r += std::to_string(*range->last);
            headers.emplace_back("Range", r);
        }
        // Streamed into a temp file beside the destination, written and hashed off the I/O thread.
        detail::download_file file = co_await detail::download_file::create(destination);
        std::exception_ptr failure;
        object_info info;
        try {
            info = co_await with_retry("get", key, [&]() -> awaitable<object_info> {
                co_await file.restart();  // a retried attempt starts over
                http::request_options opt;
                opt.body_sink = file.sink();
                auto r = co_await call(http::verb::get, path, {}, headers, {}, std::string(sigv4::empty_payload_sha256),
                                       "get", key, std::move(opt));
                if (r.status != 200 && r.status != 206) throw reply_error("get", key, r.status, r.body);
                object_info got = info_from_headers(key, r);
                if (r.status == 200) {  // the whole object (a server may ignore Range)
                    const std::string actual = file.sha256_hex();
                    if (got.sha256 && *got.sha256 != actual)
                        throw error(errc::integrity, "get '" + key + "': SHA-256 mismatch (stored " + *got.sha256 +
                                                         ", received " + actual + ")");
                    got.sha256 = actual;  // carried: a downloaded file already has its digest
                    if (got.size != file.size())
                        throw error(errc::integrity, "get '" + key + "': received " + std::to_string(file.size()) +
                                                         " bytes, object has " + std::to_string(got.size));
                    // GCS states the object's CRC32C (x-goog-hash), composite objects included.
                    if (auto h = r.header("x-goog-hash"))
                        if (auto stated = goog_hash(*h, "crc32c"); stated && *stated != crc_base64(file.crc32c()))
                            throw error(errc::integrity, "get '" + key + "': CRC32C mismatch (x-goog-hash " + *stated +
                                                             ", received " + crc_base64(file.crc32c()) + ")");
                }
                co_return got;
            });
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

    awaitable<std::optional<object_info>> head(std::string key) override {
        check_key(key);
        const std::string path = where_.object_path(key);
        co_return co_await with_retry("head", key, [&]() -> awaitable<std::optional<object_info>> {
            auto r = co_await call(http::verb::head, path, {}, {}, {}, std::string(sigv4::empty_payload_sha256), "head", key);
            if (r.status == 404) co_return std::nullopt;
            if (!r.ok()) throw reply_error("head", key, r.status, r.body);
            co_return info_from_headers(key, r);
        });
    }

    awaitable<void> remove(std::string key) override {
        check_key(key);
        const std::string path = where_.object_path(key);
        co_await with_retry("delete", key, [&]() -> awaitable<void> {
            auto r = co_await call(http::verb::delete_, path, {}, {}, {}, std::string(sigv4::empty_payload_sha256), "delete", key);
            if (!r.ok() && r.status != 404) throw reply_error("delete", key, r.status, r.body);
        });
    }

    awaitable<std::vector<std::string>> remove_many(std::vector<std::string> keys) override {
        std::vector<std::string> failed;
        for (std::size_t first = 0; first < keys.size(); first += 1000) {
            std::vector<std::string> batch(keys.begin() + static_cast<std::ptrdiff_t>(first),
                                           keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), first + 1000)));
            const std::string body = delete_body(batch);
            const std::span<const char> bytes(body.data(), body.size());
            auto errors = co_await with_retry("delete-many", "", [&]() -> awaitable<std::vector<std::string>> {
                http::header_list h;
                h.emplace_back("Content-MD5", md5_base64(bytes));
                h.emplace_back("Content-Type", "application/xml");
                auto r = co_await call(http::verb::post, bucket_root(), kv("delete", ""), std::move(h), bytes,
                                       sigv4::sha256_hex(bytes), "delete-many", "");
                if (!r.ok()) throw reply_error("delete-many", std::to_string(batch.size()) + " keys", r.status, r.body);
                co_return parse_delete_errors(r.body);
            });
            failed.insert(failed.end(), errors.begin(), errors.end());
        }
        co_return failed;
    }

    awaitable<list_page> list(std::string prefix, std::optional<std::string> continuation, std::size_t max_keys) override {
        sigv4::param_list q = kv("list-type", "2");
        q.emplace_back("max-keys", std::to_string(std::clamp<std::size_t>(max_keys, 1, 1000)));
        if (!prefix.empty()) q.emplace_back("prefix", prefix);
        if (continuation) q.emplace_back("continuation-token", *continuation);
        co_return co_await with_retry("list", prefix, [&]() -> awaitable<list_page> {
            auto r = co_await call(http::verb::get, bucket_root(), q, {}, {}, std::string(sigv4::empty_payload_sha256), "list", prefix);
            if (!r.ok()) throw reply_error("list", prefix, r.status, r.body);
            co_return parse_list_objects(r.body);
        });
    }

    // CopyObject up to copy_part_threshold (S3 refuses it above 5 GiB); above, a multipart copy:
    // UploadPartCopy of byte ranges, parts_in_flight at a time, with the source's content type and
    // metadata (sha256 included) set at Create, since a multipart copy does not carry them over.
    awaitable<void> copy(std::string source_key, std::string destination_key) override {
        check_key(source_key);
        check_key(destination_key);
        // x-amz-copy-source is "/bucket/key", URL-encoded.
        const std::string source = "/" + sigv4::uri_encode(config_.bucket, false) + "/" + sigv4::uri_encode(source_key, true);
        const std::string what = "copy " + source_key + " -> " + destination_key;
        auto head = co_await with_retry("copy", source_key, [&]() -> awaitable<http::response> {
            auto r = co_await call(http::verb::head, where_.object_path(source_key), {}, {}, {},
                                   std::string(sigv4::empty_payload_sha256), "copy", source_key);
            if (!r.ok()) throw reply_error("copy", source_key, r.status, r.body);
            co_return r;
        });
        const std::uint64_t size = info_from_headers(source_key, head).size;
        if (size > config_.copy_part_threshold) {
            co_await copy_in_parts(source, size, head, destination_key, what);
            co_return;
        }
        const std::string path = where_.object_path(destination_key);
        co_await with_retry("copy", destination_key, [&]() -> awaitable<void> {
            auto r = co_await call(http::verb::put, path, {}, kv("x-amz-copy-source", source), {},
                                   std::string(sigv4::empty_payload_sha256), "copy", destination_key);
            if (!r.ok()) throw reply_error("copy", source_key + " -> " + destination_key, r.status, r.body);
            // CopyObject may answer 200 and fail in its body.
            auto result = parse_copy(r.body);
            if (result.error)
                throw error(classify(200, result.error->code), what + ": " + result.error->code + " (" + result.error->message + ")");
        });
    }

    awaitable<void> copy_in_parts(const std::string& source, std::uint64_t size, const http::response& head,
                                  const std::string& destination_key, const std::string& what,
                                  http::header_list extra = {}) {
        const part_plan plan = plan_parts(size, config_.copy_part_size);
        // The source's type and user metadata, as CopyObject would have kept them.
        http::header_list headers;
        const std::string prefix = meta_prefix(config_.profile);
        for (const auto& [name, value] : head.headers) {
            std::string lower = name;
            std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
            if (lower == "content-type" || lower == "content-encoding" || lower.starts_with(prefix))
                headers.emplace_back(lower, value);
        }
        headers.insert(headers.end(), extra.begin(), extra.end());
        s3_part_sink sink(*this, destination_key);
        co_await sink.begin_with(destination_key, std::move(headers));
        std::vector<uploaded_part> parts(plan.part_count);
        std::uint32_t next = 1;
        std::exception_ptr failure;
        // Copy workers on one strand pull part numbers; the first failure stops new parts.
        auto worker = [&]() -> awaitable<void> {
            while (!failure && next <= plan.part_count) {
                const std::uint32_t n = next++;
                const std::uint64_t first = std::uint64_t{n - 1} * plan.part_size;
                const std::uint64_t last = std::min(size, first + plan.part_size) - 1;
                try {
                    parts[n - 1] = co_await with_retry("copy part", destination_key, [&]() -> awaitable<uploaded_part> {
                        co_return co_await sink.copy_part(n, source, first, last);
                    });
                } catch (...) {
                    if (!failure) failure = std::current_exception();
                }
            }
        };
        auto ex = co_await net::this_coro::executor;
        const std::size_t workers = std::clamp<std::size_t>(config_.copy_parts_in_flight, 1, plan.part_count);
        using op_type = decltype(net::co_spawn(ex, worker(), net::deferred));
        std::vector<op_type> ops;
        for (std::size_t i = 0; i < workers; ++i) ops.push_back(net::co_spawn(ex, worker(), net::deferred));
        co_await net::experimental::make_parallel_group(std::move(ops))
            .async_wait(net::experimental::wait_for_all(), net::use_awaitable);
        if (!failure) {
            try {
                co_await with_retry("complete copy", destination_key, [&]() -> awaitable<std::string> {
                    co_return co_await sink.complete(parts, {});
                });
                co_return;
            } catch (...) {
                failure = std::current_exception();
            }
        }
        try {
            co_await sink.abort();
        } catch (const std::exception& e) {
            spdlog::error("s3 {}: aborting the multipart {} failed too: {}", config_.name, what, e.what());
        }
        std::rethrow_exception(failure);
    }

    std::optional<std::string> tier_class(storage::tier t) const override {
        return std::string(storage_class_for(config_.profile, t));
    }

    // Copy in place to the same key with the class and the metadata directive COPY (CopyObject
    // keeps the content type and user metadata, the stored SHA-256 among them); above
    // copy_part_threshold a multipart copy onto itself with the class set at Create. A HEAD first:
    // an object already in the class is left alone (S3 refuses a copy onto itself that changes
    // nothing), which makes a rerun after a kill a no-op.
    awaitable<void> set_tier(std::string key, storage::tier t) override {
        check_key(key);
        const std::string target(storage_class_for(config_.profile, t));
        const std::string what = "set-tier " + key + " -> " + target;
        auto head = co_await with_retry("set-tier", key, [&]() -> awaitable<http::response> {
            auto r = co_await call(http::verb::head, where_.object_path(key), {}, {}, {},
                                   std::string(sigv4::empty_payload_sha256), "set-tier", key);
            if (r.status == 404) throw error(errc::not_found, what + ": no such object");
            if (!r.ok()) throw reply_error("set-tier", key, r.status, r.body);
            co_return r;
        });
        const object_info info = info_from_headers(key, head);
        if (info.storage_class == target) co_return;
        const std::string source = "/" + sigv4::uri_encode(config_.bucket, false) + "/" + sigv4::uri_encode(key, true);
        http::header_list headers = kv(std::string(storage_class_header(config_.profile)), target);
        if (info.size > config_.copy_part_threshold) {
            co_await copy_in_parts(source, info.size, head, key, what, std::move(headers));
            co_return;
        }
        headers.emplace_back("x-amz-copy-source", source);
        headers.emplace_back(config_.profile == profile::gcs ? "x-goog-metadata-directive" : "x-amz-metadata-directive",
                             "COPY");
        const std::string path = where_.object_path(key);
        co_await with_retry("set-tier", key, [&]() -> awaitable<void> {
            auto r = co_await call(http::verb::put, path, {}, headers, {}, std::string(sigv4::empty_payload_sha256),
                                   "set-tier", key);
            if (!r.ok()) throw reply_error("set-tier", key, r.status, r.body);
            auto result = parse_copy(r.body);  // CopyObject may answer 200 and fail in its body
            if (result.error)
                throw error(classify(200, result.error->code), what + ": " + result.error->code + " (" + result.error->message + ")");
        });
    }

    awaitable<void> put_lifecycle(std::string xml) {
        const std::span<const char> bytes(xml.data(), xml.size());
        co_await with_retry("put-bucket-lifecycle", config_.bucket, [&]() -> awaitable<void> {
            http::header_list h;
            h.emplace_back("Content-MD5", md5_base64(bytes));
            h.emplace_back("Content-Type", "application/xml");
            auto r = co_await call(http::verb::put, bucket_root(), kv("lifecycle", ""), std::move(h), bytes,
                                   sigv4::sha256_hex(bytes), "put-bucket-lifecycle", config_.bucket);
            if (!r.ok()) throw reply_error("put-bucket-lifecycle", config_.bucket, r.status, r.body);
        });
    }

    awaitable<std::optional<std::string>> get_lifecycle() {
        co_return co_await with_retry("get-bucket-lifecycle", config_.bucket, [&]() -> awaitable<std::optional<std::string>> {
            http::request_options o;
            o.body_limit = 1 << 20;
            auto r = co_await call(http::verb::get, bucket_root(), kv("lifecycle", ""), {}, {},
                                   std::string(sigv4::empty_payload_sha256), "get-bucket-lifecycle", config_.bucket,
                                   std::move(o));
            if (r.status == 404) co_return std::nullopt;  // NoSuchLifecycleConfiguration
            if (!r.ok()) throw reply_error("get-bucket-lifecycle", config_.bucket, r.status, r.body);
            co_return std::string(r.body.begin(), r.body.end());
        });
    }

    std::string presign(http_method method, const std::string& key, std::chrono::seconds expires) const override {
        check_key(key);
        sigv4::request_to_sign r;
        r.method = method == http_method::get ? "GET" : "PUT";
        r.canonical_uri = where_.object_path(key);
        r.headers.emplace_back("host", endpoint_.host_header());
        std::string url = where_.origin + r.canonical_uri + "?";
        return url + signer_.presign_query(std::move(r), std::chrono::system_clock::now(), expires);
    }

    awaitable<std::vector<incomplete_upload>> list_incomplete(std::string prefix) override {
        std::vector<incomplete_upload> all;
        std::optional<std::string> key_marker, id_marker;
        for (;;) {
            sigv4::param_list q = kv("uploads", "");
            if (!prefix.empty()) q.emplace_back("prefix", prefix);
            if (key_marker) q.emplace_back("key-marker", *key_marker);
            if (id_marker) q.emplace_back("upload-id-marker", *id_marker);
            auto page = co_await with_retry("list-uploads", prefix, [&]() -> awaitable<uploads_page> {
                auto r = co_await call(http::verb::get, bucket_root(), q, {}, {}, std::string(sigv4::empty_payload_sha256),
                                       "list-uploads", prefix);
                if (!r.ok()) throw reply_error("list-uploads", prefix, r.status, r.body);
                co_return parse_list_uploads(r.body);
            });
            all.insert(all.end(), page.uploads.begin(), page.uploads.end());
            if (!page.next_key_marker) break;
            key_marker = page.next_key_marker;
            id_marker = page.next_upload_id_marker;
        }
        co_return all;
    }

    std::unique_ptr<part_sink> stream_sink(std::string key) override;

    awaitable<void> abort_incomplete(std::string key, std::string upload_id) override {
        const std::string path = where_.object_path(key);
        co_await with_retry("abort", key, [&]() -> awaitable<void> {
            auto r = co_await call(http::verb::delete_, path, kv("uploadId", upload_id), {}, {},
                                   std::string(sigv4::empty_payload_sha256), "abort", key);
            // 404 NoSuchUpload: already gone, which is what abort wants.
            if (!r.ok() && r.status != 404) throw reply_error("abort", key, r.status, r.body);
        });
    }

    // Whether this server is known to ignore x-amz-checksum-* (it did not echo one): then parts
    // and single PUTs carry a signed Content-MD5 instead. Learnt once per provider instance.
    bool ignores_checksum_headers() const noexcept { return ignores_checksum_headers_.load(std::memory_order_relaxed); }
    void note_checksum_ignored(std::string_view what) {
        if (!ignores_checksum_headers_.exchange(true))
            spdlog::warn(
                "s3 {}: the server did not echo the {} it was sent with {}, so it does not check "
                "x-amz-checksum-* headers; sending a signed Content-MD5 instead from now on",
                config_.name, checksum_header(part_checksum_), what);
    }

    std::string bucket_root() const { return where_.path_style ? where_.bucket_path : "/"; }
    const config& cfg() const noexcept { return config_; }
    const addressing& where() const noexcept { return where_; }
    checksum_kind part_checksum() const noexcept { return part_checksum_; }
    bool plain_tcp() const noexcept { return !endpoint_.tls; }

private:
    config config_;
    addressing where_;
    http::endpoint endpoint_;
    checksum_kind part_checksum_;
    std::atomic<bool> ignores_checksum_headers_{false};
    std::shared_ptr<http::client> http_;
    sigv4::signer signer_;
};

s3_part_sink::s3_part_sink(s3_provider& p, std::string key)
    : provider_(p),
      kind_(is_crc(p.part_checksum()) && p.ignores_checksum_headers() ? checksum_kind::md5 : p.part_checksum()),
      key_(std::move(key)) {}

awaitable<void> s3_part_sink::begin(const std::string& key, const put_options& options) {
    key_ = key;
    auto headers = provider_.object_headers(options, options.sha256);
    if (is_crc(checksum())) headers.emplace_back("x-amz-checksum-algorithm", std::string(checksum_algorithm(checksum())));
    co_await create(std::move(headers));
}

awaitable<void> s3_part_sink::begin_with(const std::string& key, http::header_list headers) {
    key_ = key;
    copying_ = true;
    co_await create(std::move(headers));
}

awaitable<void> s3_part_sink::create(http::header_list headers) {
    const std::string path = provider_.where().object_path(key_);
    // Retried here (the engine does not retry begin): a lost reply may leave an orphan upload,
    // which list_incomplete/abort_incomplete (or a bucket lifecycle rule) clean up.
    upload_id_ = co_await provider_.with_retry("create-multipart", key_, [&]() -> awaitable<std::string> {
        auto r = co_await provider_.call(http::verb::post, path, kv("uploads", ""), headers, {},
                                         std::string(sigv4::empty_payload_sha256), "create-multipart", key_);
        if (!r.ok()) throw reply_error("create-multipart", key_, r.status, r.body);
        auto id = parse_upload_id(r.body);
        if (!id) throw error(errc::permanent, "create-multipart " + key_ + ": reply has no UploadId");
        co_return *id;
    });
}

awaitable<uploaded_part> s3_part_sink::copy_part(std::uint32_t number, const std::string& source, std::uint64_t first,
                                                 std::uint64_t last) {
    const std::string path = provider_.where().object_path(key_);
    http::header_list headers = kv("x-amz-copy-source", source);
    headers.emplace_back("x-amz-copy-source-range", "bytes=" + std::to_string(first) + "-" + std::to_string(last));
    sigv4::param_list query = kv("partNumber", std::to_string(number));
    query.emplace_back("uploadId", upload_id_);
    auto r = co_await provider_.call(http::verb::put, path, std::move(query), std::move(headers), {},
                                     std::string(sigv4::empty_payload_sha256), "upload-part-copy", key_);
    if (!r.ok()) throw reply_error("upload-part-copy " + std::to_string(number) + " of", key_, r.status, r.body);
    // Like CopyObject, it may answer 200 and fail in its body.
    auto result = parse_copy(r.body);
    if (result.error)
        throw error(classify(200, result.error->code), "upload-part-copy " + std::to_string(number) + " of " + key_ + ": " +
                                                           result.error->code + " (" + result.error->message + ")");
    if (!result.etag) throw error(errc::transient, "upload-part-copy " + std::to_string(number) + " of " + key_ + ": no ETag");
    co_return uploaded_part{.number = number, .size = last - first + 1, .etag = *result.etag, .checksum = {}};
}

checksum_kind s3_part_sink::checksum() const { return copying_ ? checksum_kind::none : kind_; }
bool s3_part_sink::accepts_file_parts() const { return provider_.plain_tcp(); }

awaitable<http::response> s3_part_sink::send_part(std::uint32_t number, const part_body& body,
                                                  checksum_kind header_kind, const std::string& header_value) {
    const std::string path = provider_.where().object_path(key_);
    http::header_list headers;
    if (!header_value.empty()) {
        if (header_kind == checksum_kind::md5)
            headers.emplace_back("Content-MD5", header_value);  // signed, like every header
        else if (is_crc(header_kind))
            add_crc_headers(headers, header_kind, header_value);
    }
    // UNSIGNED-PAYLOAD: the part checksum protects the part; signing it would hash every byte again.
    // (Built before the co_await: GCC 12 miscompiles braced lists inside co_await expressions.)
    sigv4::param_list query = kv("partNumber", std::to_string(number));
    query.emplace_back("uploadId", upload_id_);
    std::optional<http::file_region> file;
    if (body.in_file()) file = http::file_region{.path = {}, .offset = body.offset, .length = body.size, .fd = body.fd};
    auto r = co_await provider_.call(http::verb::put, path, std::move(query), std::move(headers), body.bytes,
                                     std::string(sigv4::unsigned_payload), "upload-part", key_, {}, std::move(file));
    if (!r.ok()) throw reply_error("upload-part " + std::to_string(number) + " of", key_, r.status, r.body);
    auto etag = r.header("etag");
    if (!etag || etag->empty())
        throw error(errc::transient, "upload-part " + std::to_string(number) + " of " + key_ + ": no ETag in reply");
    co_return r;
}

awaitable<std::string> s3_part_sink::part_md5(const part_body& body, const std::string& crc) const {
    const checksum_kind kind = kind_;
    // Only trivially destructible captures: GCC 12 destroys a co_await operand's temporaries badly.
    const std::string* expected = &crc;
    co_return co_await detail::offload([body, expected, kind]() {
        if (!body.in_file()) return md5_base64_of(body.bytes);
        part_checksum md5(checksum_kind::md5), again(kind);
        std::vector<char> buf(std::min<std::uint64_t>(std::max<std::uint64_t>(body.size, 1), 1u << 20));
        for (std::uint64_t at = 0; at < body.size;) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), body.size - at));
            const ssize_t got = ::pread(body.fd, buf.data(), n, static_cast<off_t>(body.offset + at));
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) throw error(errc::integrity, "the source shrank while it was being uploaded");
            const std::span<const char> bytes(buf.data(), static_cast<std::size_t>(got));
            md5.update(bytes);
            again.update(bytes);
            at += static_cast<std::uint64_t>(got);
        }
        if (is_crc(kind) && again.finish_base64() != *expected)
            throw error(errc::integrity, "the source changed while it was being uploaded");
        return md5.finish_base64();
    });
}

awaitable<uploaded_part> s3_part_sink::upload_part(std::uint32_t number, const part_body& body,
                                                   const std::string& checksum_value) {
    const auto done = [&](const http::response& r, bool verified) {
        return uploaded_part{.number = number,
                             .size = body.size,
                             .etag = unquote(*r.header("etag")),
                             .checksum = checksum_value,
                             .server_verified = verified};
    };
    const std::string what = "upload-part " + std::to_string(number) + " of " + key_;
    if (kind_ == checksum_kind::md5) {
        auto r = co_await send_part(number, body, checksum_kind::md5, checksum_value);
        co_return done(r, true);
    }
    if (!is_crc(kind_)) {
        auto r = co_await send_part(number, body, kind_, checksum_value);
        co_return done(r, false);
    }
    if (!provider_.ignores_checksum_headers()) {
        // The fast path (AWS, MinIO, moto): the server checks the CRC and says so by echoing it.
        auto r = co_await send_part(number, body, kind_, checksum_value);
        if (auto echo = echoed_crc(r, kind_)) {
            if (*echo != checksum_value)
                throw error(errc::integrity, what + ": the server's " + std::string(checksum_algorithm(kind_)) + " " +
                                                 *echo + " is not the part's " + checksum_value);
            co_return done(r, true);
        }
        provider_.note_checksum_ignored("a part");
    }
    // The server does not check x-amz-checksum-*: (re)send the part with a Content-MD5 it does check.
    const std::string md5 = co_await part_md5(body, checksum_value);
    auto r = co_await send_part(number, body, checksum_kind::md5, md5);
    co_return done(r, true);
}

awaitable<std::string> s3_part_sink::complete(const std::vector<uploaded_part>& parts, const std::string& sha256_hex) {
    (void)sha256_hex;  // S3 cannot add metadata at complete; put_options.sha256 went in at begin when known
    const std::string path = provider_.where().object_path(key_);
    const std::string body = complete_body(parts, checksum());
    const std::span<const char> bytes(body.data(), body.size());
    const bool retried = complete_tried_;
    complete_tried_ = true;
    auto r = co_await provider_.call(http::verb::post, path, kv("uploadId", upload_id_), kv("Content-Type", "application/xml"),
                                     bytes, sigv4::sha256_hex(bytes), "complete-multipart", key_);
    if (r.ok()) {
        // "200 OK" with an <Error> body: the failure arrived after the headers were sent.
        auto result = parse_complete(r.body);
        if (result.error)
            throw error(classify(200, result.error->code), "complete-multipart " + key_ + ": 200 with " + result.error->code +
                                                               " (" + result.error->message + ")");
        // The server's checksum of the object, computed from the parts it stored, must be ours.
        const auto& theirs = checksum() == checksum_kind::crc32c ? result.checksum_crc32c : result.checksum_crc32;
        if (is_crc(checksum()) && !(theirs && !theirs->empty())) {
            // No whole-object checksum to compare: only parts the server checked one by one
            // (echoed CRC or Content-MD5) may make up the object.
            const auto unchecked =
                std::find_if(parts.begin(), parts.end(), [](const auto& p) { return !p.server_verified; });
            if (unchecked != parts.end())
                throw error(errc::integrity, "complete-multipart " + key_ +
                                                 ": the server gives no object checksum and did not "
                                                 "check part " +
                                                 std::to_string(unchecked->number));
        }
        if (is_crc(checksum()) && theirs && !theirs->empty()) {
            std::vector<std::string> values;
            values.reserve(parts.size());
            for (const auto& p : parts) values.push_back(p.checksum);
            const auto ours = composite_checksum(checksum(), values);
            // Some servers omit the "-<parts>" suffix; compare the CRC itself.
            const std::string_view their_crc = std::string_view(*theirs).substr(0, theirs->find('-'));
            if (ours && ours->substr(0, ours->find('-')) != their_crc)
                throw error(errc::integrity, "complete-multipart " + key_ + ": the server's checksum " + *theirs +
                                                 " is not the parts' " + *ours);
        }
        if (result.etag && !result.etag->empty()) co_return *result.etag;
        // No ETag, or an empty one (RGW 16.2 answers <ETag></ETag>): the object's HEAD has it.
        if (auto info = co_await provider_.head(key_); info && info->etag.ends_with("-" + std::to_string(parts.size())))
            co_return info->etag;
        throw error(errc::transient, "complete-multipart " + key_ + ": reply has no ETag, nor has the object's HEAD");
    }
    auto err = reply_error("complete-multipart", key_, r.status, r.body);
    if (retried && err.code() == errc::not_found) {
        // An earlier attempt may have completed the upload and lost its reply: then the object
        // exists with a multipart ETag of this many parts, and this is success, not a failure.
        if (auto info = co_await provider_.head(key_);
            info && info->etag.ends_with("-" + std::to_string(parts.size())))
            co_return info->etag;
    }
    throw err;
}

awaitable<void> s3_part_sink::abort() {
    if (upload_id_.empty()) co_return;
    co_await provider_.abort_incomplete(key_, upload_id_);
}

}  // namespace

std::unique_ptr<part_sink> s3_provider::stream_sink(std::string key) {
    check_key(key);
    return std::make_unique<s3_part_sink>(*this, std::move(key));
}

std::unique_ptr<storage::provider> make_provider(net::any_io_executor executor, config c) {
    return std::make_unique<s3_provider>(std::move(executor), std::move(c));
}

awaitable<void> put_bucket_lifecycle(storage::provider& p, std::string xml) {
    auto* s3 = dynamic_cast<s3_provider*>(&p);
    if (!s3) throw std::invalid_argument("put_bucket_lifecycle: not an S3 provider");
    auto putting = s3->put_lifecycle(std::move(xml));
    co_await std::move(putting);
}

awaitable<std::optional<std::string>> get_bucket_lifecycle(storage::provider& p) {
    auto* s3 = dynamic_cast<s3_provider*>(&p);
    if (!s3) throw std::invalid_argument("get_bucket_lifecycle: not an S3 provider");
    auto getting = s3->get_lifecycle();
    co_return co_await std::move(getting);
}

std::unique_ptr<part_sink> make_part_sink(storage::provider& p, std::string key) {
    auto* s3 = dynamic_cast<s3_provider*>(&p);
    if (!s3) throw std::invalid_argument("make_part_sink: not an S3 provider");
    return std::make_unique<s3_part_sink>(*s3, std::move(key));
}

}  // namespace wharf::storage::s3
