// Azure Blob request signing, sans I/O: SharedKey (Authorization header) and service SAS
// (presigned URLs), as pure functions over strings, unit-tested without a network.
// Rules: https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key and
// .../create-service-sas (string-to-sign of versions 2020-12-06 and later).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wharf::storage::azure {

inline constexpr std::string_view api_version = "2021-12-02";

struct shared_key_request {
    std::string method;  // "PUT"
    // The URL path as sent (percent-encoded), e.g. "/container/dir/blob" (or, path-style on an
    // emulator, "/devstoreaccount1/container/dir/blob").
    std::string path;
    std::vector<std::pair<std::string, std::string>> query;    // decoded names and values
    std::vector<std::pair<std::string, std::string>> headers;  // as sent, any case
};

// The SharedKey string-to-sign: verb, the standard headers (Content-Length empty when 0, Date
// empty because x-ms-date is used), canonicalized x-ms-* headers, canonicalized resource.
std::string shared_key_string_to_sign(std::string_view account, const shared_key_request& request);

// "SharedKey <account>:<base64 HMAC-SHA256 of the string-to-sign under the decoded key>".
// `key` is the raw (base64-decoded) account key.
std::string shared_key_authorization(std::string_view account, std::string_view key, const shared_key_request& request);

// RFC 1123 date for x-ms-date: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date(std::chrono::system_clock::time_point t);
// ISO 8601 for SAS times: "2026-11-21T07:00:00Z".
std::string iso8601(std::chrono::system_clock::time_point t);

struct blob_sas {
    std::string account, container, blob;  // blob name decoded (as in the key)
    std::string permissions;               // in the canonical order "racwd": "r" to read, "cw" to write
    std::chrono::system_clock::time_point start, expiry;
    std::string protocol = "https,http";   // "https" on real Azure; emulators are plain http
    std::string version{api_version};
};

// The string a blob service SAS signs.
std::string sas_string_to_sign(const blob_sas& sas);
// The SAS query string (no leading '?'): sv, st, se, sr=b, sp, spr, sig, values percent-encoded.
std::string sas_query(const blob_sas& sas, std::string_view key);

// Percent-encoding for URL paths and query values: unreserved characters kept (and '/' when
// keep_slash), everything else %XX (uppercase).
std::string uri_encode(std::string_view text, bool keep_slash);

}  // namespace wharf::storage::azure
