// S3 reply parsing and error classification (see replies.hpp).
#include "wharf/storage/s3/replies.hpp"

#include "wharf/storage/s3/xml.hpp"

#include <array>
#include <charconv>
#include <ctime>

namespace wharf::storage::s3 {

namespace {

std::uint64_t to_u64(std::string_view s) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) throw error(errc::permanent, "malformed number in S3 reply: " + std::string(s));
    return v;
}

bool one_of(std::string_view code, std::initializer_list<std::string_view> list) {
    for (auto c : list)
        if (c == code) return true;
    return false;
}

// timegm's seconds as a time_point; nullopt outside what system_clock holds (its 64-bit
// nanoseconds span 1677-2262): a reply dated "0001-01-01" must not overflow from_time_t's
// multiplication (found by tests/fuzz/s3_replies_fuzz).
std::optional<std::chrono::system_clock::time_point> from_tm(std::tm& tm) {
    using namespace std::chrono;
    const std::time_t t = timegm(&tm);
    // One second of margin for the milliseconds parse_iso8601 adds.
    constexpr auto limit = duration_cast<seconds>(system_clock::duration::max()).count() - 1;
    if (t < -limit || t > limit) return std::nullopt;
    return system_clock::from_time_t(t);
}

}  // namespace

std::optional<error_reply> parse_error(std::string_view body) {
    if (xml::root_name(body) != "Error") return std::nullopt;
    error_reply r;
    r.code = xml::text(body, "Code").value_or("");
    r.message = xml::text(body, "Message").value_or("");
    r.request_id = xml::text(body, "RequestId").value_or("");
    return r;
}

errc classify(unsigned status, std::string_view code) noexcept {
    // The code is more precise than the status (a 503 SlowDown and a 200 InternalError alike).
    if (one_of(code, {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling",
                      "ThrottlingException", "TooManyRequests", "RequestLimitExceeded", "OperationAborted",
                      "IncompleteBody", "BackendError"}))
        return errc::transient;
    if (one_of(code, {"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "ExpiredToken", "InvalidToken",
                      "InvalidSecurity", "AccountProblem"}))
        return errc::access_denied;
    if (one_of(code, {"NoSuchKey", "NoSuchBucket", "NoSuchUpload", "NotFound"})) return errc::not_found;
    if (one_of(code, {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "XAmzContentChecksumMismatch"})) return errc::integrity;
    if (status >= 500 || status == 408 || status == 429) return errc::transient;
    if (status == 403 || status == 401) return errc::access_denied;
    if (status == 404) return errc::not_found;
    if (status >= 200 && status < 300 && code.empty()) return errc::permanent;  // caller asked about a non-error
    return errc::permanent;
}

errc classify(http::error_kind kind) noexcept {
    switch (kind) {
    case http::error_kind::refused:
    case http::error_kind::timeout:
    case http::error_kind::reset:
    case http::error_kind::truncated:
    case http::error_kind::resolve:
        return errc::transient;
    case http::error_kind::tls:
    case http::error_kind::body_too_large:
    case http::error_kind::protocol:
    case http::error_kind::file:
        return errc::permanent;
    }
    return errc::permanent;
}

error reply_error(std::string_view operation, std::string_view key, unsigned status, std::string_view body) {
    auto reply = parse_error(body);
    const std::string code = reply ? reply->code : std::string();
    std::string what = std::string(operation) + " " + std::string(key) + ": " + std::to_string(status);
    if (!code.empty()) what += " " + code;
    if (reply && !reply->message.empty()) what += " (" + reply->message + ")";
    return error(classify(status, code), what);
}

error transport_error(std::string_view operation, std::string_view key, const http::error& e) {
    return error(classify(e.kind()), std::string(operation) + " " + std::string(key) + ": " + e.what());
}

std::optional<std::string> parse_upload_id(std::string_view body) {
    auto id = xml::text(body, "UploadId");
    if (!id || id->empty()) return std::nullopt;
    return id;
}

static result_or_error parse_result(std::string_view body) {
    result_or_error r;
    if (auto e = parse_error(body)) {
        r.error = std::move(*e);
        return r;
    }
    if (auto etag = xml::text(body, "ETag")) r.etag = unquote(*etag);
    r.checksum_crc32 = xml::text(body, "ChecksumCRC32");
    r.checksum_crc32c = xml::text(body, "ChecksumCRC32C");
    return r;
}

result_or_error parse_complete(std::string_view body) { return parse_result(body); }
result_or_error parse_copy(std::string_view body) { return parse_result(body); }

list_page parse_list_objects(std::string_view body) {
    list_page page;
    for (auto c : xml::elements(body, "Contents")) {
        object_info info;
        info.key = xml::text(c, "Key").value_or("");
        if (info.key.empty()) throw error(errc::permanent, "ListObjectsV2 reply has an entry without a key");
        info.size = to_u64(xml::text(c, "Size").value_or("0"));
        info.etag = unquote(xml::text(c, "ETag").value_or(""));
        if (auto t = xml::text(c, "LastModified")) info.last_modified = parse_iso8601(*t).value_or(info.last_modified);
        page.objects.push_back(std::move(info));
    }
    if (xml::text(body, "IsTruncated").value_or("false") == "true") {
        page.next = xml::text(body, "NextContinuationToken");
        if (!page.next || page.next->empty())
            throw error(errc::permanent, "ListObjectsV2 reply is truncated but has no continuation token");
    }
    return page;
}

uploads_page parse_list_uploads(std::string_view body) {
    uploads_page page;
    for (auto u : xml::elements(body, "Upload")) {
        incomplete_upload up;
        up.key = xml::text(u, "Key").value_or("");
        up.upload_id = xml::text(u, "UploadId").value_or("");
        if (auto t = xml::text(u, "Initiated")) up.initiated = parse_iso8601(*t).value_or(up.initiated);
        if (up.key.empty() || up.upload_id.empty()) throw error(errc::permanent, "ListMultipartUploads reply has an incomplete entry");
        page.uploads.push_back(std::move(up));
    }
    if (xml::text(body, "IsTruncated").value_or("false") == "true") {
        page.next_key_marker = xml::text(body, "NextKeyMarker");
        page.next_upload_id_marker = xml::text(body, "NextUploadIdMarker");
        if (!page.next_key_marker) throw error(errc::permanent, "ListMultipartUploads reply is truncated but has no marker");
    }
    return page;
}

std::vector<std::string> parse_delete_errors(std::string_view body) {
    std::vector<std::string> keys;
    if (parse_error(body)) throw error(errc::permanent, "DeleteObjects failed: " + xml::text(body, "Code").value_or("?"));
    for (auto e : xml::elements(body, "Error")) keys.push_back(xml::text(e, "Key").value_or(""));
    return keys;
}

std::string complete_body(const std::vector<uploaded_part>& parts, checksum_kind checksum) {
    const char* element = checksum == checksum_kind::crc32    ? "ChecksumCRC32"
                          : checksum == checksum_kind::crc32c ? "ChecksumCRC32C"
                                                              : nullptr;
    std::string out = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
    out.reserve(out.size() + parts.size() * 140);
    for (const auto& p : parts) {
        out += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>&quot;" + xml::escape(unquote(p.etag)) +
               "&quot;</ETag>";
        if (element && !p.checksum.empty())
            out += std::string("<") + element + ">" + xml::escape(p.checksum) + "</" + element + ">";
        out += "</Part>";
    }
    out += "</CompleteMultipartUpload>";
    return out;
}

std::string delete_body(const std::vector<std::string>& keys) {
    std::string out = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>";
    for (const auto& k : keys) out += "<Object><Key>" + xml::escape(k) + "</Key></Object>";
    out += "</Delete>";
    return out;
}

std::string unquote(std::string_view etag) {
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
    if (etag.starts_with("W/\"") && etag.size() >= 4) etag = etag.substr(3, etag.size() - 4);
    return std::string(etag);
}

std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text) {
    std::tm tm{};
    const std::string s(text);
    const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) return std::nullopt;
    auto t = from_tm(tm);
    if (!t) return std::nullopt;
    if (*end == '.') {  // fractional seconds: keep milliseconds
        ++end;
        int ms = 0, digits = 0;
        while (*end >= '0' && *end <= '9') {
            if (digits < 3) ms = ms * 10 + (*end - '0'), ++digits;
            ++end;
        }
        while (digits < 3) ms *= 10, ++digits;
        *t += std::chrono::milliseconds(ms);
    }
    if (*end != 'Z' && *end != '\0' && *end != '+') return std::nullopt;
    return t;
}

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text) {
    std::tm tm{};
    const std::string s(text);
    const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
    if (!end) return std::nullopt;
    return from_tm(tm);
}

std::optional<std::string> goog_hash(std::string_view header, std::string_view algorithm) {
    while (!header.empty()) {
        auto comma = header.find(',');
        std::string_view item = header.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        if (item.starts_with(algorithm) && item.size() > algorithm.size() && item[algorithm.size()] == '=')
            return std::string(item.substr(algorithm.size() + 1));
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return std::nullopt;
}

}  // namespace wharf::storage::s3
