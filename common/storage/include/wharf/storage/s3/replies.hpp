// S3 request bodies and reply parsing, and the error classifier: pure functions, unit-tested with
// canned replies (including CompleteMultipartUpload's "200 OK with an <Error> body").
#pragma once

#include "wharf/http/error.hpp"
#include "wharf/storage/error.hpp"
#include "wharf/storage/multipart.hpp"
#include "wharf/storage/provider.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::storage::s3 {

struct error_reply {
    std::string code;  // "NoSuchKey", "SlowDown", ...
    std::string message;
    std::string request_id;
};

// The <Error> document in `body`, if the body is one (its root element is Error).
std::optional<error_reply> parse_error(std::string_view body);

// The retry classifier. `code` may be empty (no body, e.g. HEAD).
//   5xx, 408, 429, SlowDown, RequestTimeout, InternalError, ServiceUnavailable, ... -> transient
//   403, SignatureDoesNotMatch, InvalidAccessKeyId, AccessDenied, ...               -> access_denied
//   404, NoSuchKey, NoSuchBucket, NoSuchUpload                                       -> not_found
//   BadDigest, InvalidDigest, XAmzContentSHA256Mismatch, XAmzContentChecksumMismatch
//     (the bytes are not what was signed/hashed; the part/PUT is sent again)         -> integrity
//   any other 3xx/4xx                                                                -> permanent
errc classify(unsigned status, std::string_view code) noexcept;
// Connection refused/reset/timeout/truncated -> transient; TLS, protocol, too large -> permanent.
errc classify(http::error_kind kind) noexcept;

// A storage::error for a failed reply, with a readable message: "<operation> <key>: 404 NoSuchKey
// (The specified key does not exist.)".
error reply_error(std::string_view operation, std::string_view key, unsigned status, std::string_view body);
error transport_error(std::string_view operation, std::string_view key, const http::error& e);

// CreateMultipartUpload -> UploadId.
std::optional<std::string> parse_upload_id(std::string_view body);

// CompleteMultipartUpload and CopyObject answer 200 and may still have failed: the body is then
// an <Error>. Exactly one of `etag` / `error` is set for a well-formed body.
struct result_or_error {
    std::optional<std::string> etag;  // unquoted
    std::optional<error_reply> error;
    // Complete: the object's checksum when the upload declared an algorithm, e.g. the value of
    // <ChecksumCRC32> ("base64-<parts>" for a composite one).
    std::optional<std::string> checksum_crc32, checksum_crc32c;
};
result_or_error parse_complete(std::string_view body);
result_or_error parse_copy(std::string_view body);

// ListObjectsV2.
list_page parse_list_objects(std::string_view body);

// ListMultipartUploads.
struct uploads_page {
    std::vector<incomplete_upload> uploads;
    std::optional<std::string> next_key_marker, next_upload_id_marker;  // set when truncated
};
uploads_page parse_list_uploads(std::string_view body);

// DeleteObjects (quiet mode): the keys reported in <Error> entries.
std::vector<std::string> parse_delete_errors(std::string_view body);

// The Complete request; with a CRC kind every part carries its <ChecksumCRC32[C]> (S3 requires them
// when the upload was created with x-amz-checksum-algorithm).
std::string complete_body(const std::vector<uploaded_part>& parts, checksum_kind checksum = checksum_kind::none);
std::string delete_body(const std::vector<std::string>& keys);  // <= 1000 keys, Quiet

// `"abc"` -> `abc`; GCS and others sometimes omit the quotes.
std::string unquote(std::string_view etag);
// "2009-10-12T17:50:30.000Z"
std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text);
// "Wed, 12 Oct 2009 17:50:00 GMT"
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text);

// GCS's x-goog-hash: "crc32c=n03x6A==,md5=Ojk9c3dhfxgoKVVHYwFbHQ==" -> the named value.
std::optional<std::string> goog_hash(std::string_view header, std::string_view algorithm);

}  // namespace wharf::storage::s3
