// AWS Signature Version 4 as pure functions (OpenSSL HMAC-SHA256 / SHA-256): canonical request,
// string to sign, signing key, Authorization header and query presigning. No I/O, no clock: the
// caller passes the time, so every result is reproducible and testable against AWS's vectors.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wharf::storage::sigv4 {

inline constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view empty_payload_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct credentials {
    std::string access_key;
    std::string secret_key;     // never logged
    std::string session_token;  // optional (temporary credentials): sent as x-amz-security-token
};

using param_list = std::vector<std::pair<std::string, std::string>>;

// Percent-encoding per S3's UriEncode: every byte except A-Z a-z 0-9 - . _ ~ becomes %XX
// (upper-case hex); '/' is kept only when `keep_slash` (object key paths).
std::string uri_encode(std::string_view text, bool keep_slash);

std::string sha256_hex(std::span<const char> bytes);
inline std::string sha256_hex(std::string_view s) { return sha256_hex(std::span<const char>(s.data(), s.size())); }
inline std::string sha256_hex(const std::string& s) { return sha256_hex(std::string_view(s)); }
std::string hex(std::span<const unsigned char> bytes);
std::string base64(std::span<const unsigned char> bytes);

// "20130524T000000Z" and "20130524" for a UTC time.
std::string amz_date(std::chrono::system_clock::time_point t);
std::string amz_day(std::chrono::system_clock::time_point t);

// What is signed. `canonical_uri` is the path exactly as sent (already encoded by the caller,
// e.g. "/bucket/my%20key"); `query` holds raw (unencoded) names and values; `headers` are the
// headers to sign (Host must be among them; names in any case).
struct request_to_sign {
    std::string method;
    std::string canonical_uri = "/";
    param_list query;
    param_list headers;
    std::string payload_hash = std::string(unsigned_payload);
};

struct scope {
    std::string region = "us-east-1";
    std::string service = "s3";
};

struct signature_parts {
    std::string canonical_request;
    std::string string_to_sign;
    std::string signature;      // lower-case hex
    std::string signed_headers; // "host;x-amz-date"
};

// The encoded, sorted query string as it must be sent (and signed).
std::string canonical_query(const param_list& query);
// Lower-cased names, trimmed and space-collapsed values, sorted, duplicates joined with ','.
std::pair<std::string, std::string> canonical_headers(const param_list& headers);  // {block, signed names}
std::string canonical_request(const request_to_sign& r);
std::string credential_scope(std::string_view day, const scope& s);
std::string string_to_sign(std::string_view amz_date, std::string_view scope_text, std::string_view canonical_request);
// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request")
std::array<unsigned char, 32> signing_key(std::string_view secret, std::string_view day, const scope& s);
std::string hmac_hex(std::span<const unsigned char> key, std::string_view data);

// Signs `r` at `amz_date_text` (its headers must already contain x-amz-date with the same value,
// and x-amz-content-sha256 for S3). Returns the parts and, via authorization(), the header.
signature_parts sign(const request_to_sign& r, const credentials& c, const scope& s, std::string_view amz_date_text);
std::string authorization(const credentials& c, const scope& s, std::string_view day, const signature_parts& p);

// Caches the signing key per (day, region, service) so a busy upload derives it once a day
// instead of four HMACs per request. Thread-safe.
class signer {
public:
    signer(credentials c, scope s) : credentials_(std::move(c)), scope_(std::move(s)) {}

    const credentials& creds() const noexcept { return credentials_; }
    const scope& where() const noexcept { return scope_; }

    // Adds x-amz-date, x-amz-content-sha256 (= r.payload_hash), x-amz-security-token when set,
    // and Authorization to `out_headers` (the headers to send), signing r.headers plus those.
    signature_parts sign_headers(request_to_sign r, std::chrono::system_clock::time_point now,
                                 param_list& out_headers) const;

    // A presigned URL's query string (without '?'): r.query plus the X-Amz-* parameters and the
    // signature. `expires` is clamped to [1 s, 604800 s]; only Host is signed unless r.headers has more.
    std::string presign_query(request_to_sign r, std::chrono::system_clock::time_point now,
                              std::chrono::seconds expires, signature_parts* parts = nullptr) const;

private:
    std::array<unsigned char, 32> key_for(std::string_view day) const;

    credentials credentials_;
    scope scope_;
    mutable std::mutex mutex_;
    mutable std::string cached_day_;
    mutable std::array<unsigned char, 32> cached_key_{};
};

// Clamp for X-Amz-Expires.
std::chrono::seconds clamp_expiry(std::chrono::seconds s) noexcept;

}  // namespace wharf::storage::sigv4
