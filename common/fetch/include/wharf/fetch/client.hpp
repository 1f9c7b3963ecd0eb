// The HTTP client for arbitrary URLs (libcurl): one GET, its body streamed into a caller's sink on
// a transfer thread, with the egress policy checked on every connection and the limits a download
// from the open internet needs. The storage endpoints keep using common/http's Beast client.
//
// What every transfer gets:
//  - http and https only, on every redirect hop (CURLOPT_PROTOCOLS_STR / REDIR_PROTOCOLS_STR); at
//    most `max_redirects` (5) redirects; TLS verification on (peer and host name); HTTP/2 over TLS
//    where the server offers it; proxies off, so an environment proxy cannot route around the
//    egress policy.
//  - The egress policy on the address each socket connects to (CURLOPT_OPENSOCKETFUNCTION, so
//    every address of a name and every redirect hop is judged) and again before each request on a
//    connection, reused or not (CURLOPT_PREREQFUNCTION). A refusal is errc::egress_refused.
//  - Limits: connect timeout (10 s); a transfer slower than `stall_bytes_per_second` for the whole
//    `stall_window` is aborted (errc::stalled); the body's bytes as delivered to the sink (decoded
//    when compressed) may not pass `max_bytes` counted from the offset the sink starts writing at,
//    with or without Content-Length (a Content-Length over the cap fails before the body); an
//    optional content-type allow-list, checked before the body. No total timeout of its own: the
//    caller's Asio cancellation (a job's timeout, a shutdown) aborts the transfer within
//    milliseconds and fails it with errc::cancelled.
//  - A final status outside 2xx is an error (errc::http_status; 4xx permanent except 408 and 429,
//    5xx retryable) before any of its body reaches the sink. A 416 to a ranged request is handed to
//    the sink (it means "verify what you have").
//
// Why a transfer thread, not the multi interface on Asio's sockets: every byte of a download is
// also hashed and written to a file, which is CPU and blocking file work that must stay off the
// I/O threads. With curl on the event loop each chunk would have to be paused, handed to a pool
// and resumed; on its own thread the write callback does that work in place, at disk and SHA-256
// speed, and a transfer needs no locking with the job's strand. One thread per running transfer
// (bounded by the queue's concurrency) drives its own curl multi handle with curl_multi_poll, so
// a cancellation is a curl_multi_wakeup away; the result is posted back to the caller's executor.
#pragma once

#include "wharf/fetch/egress.hpp"
#include "wharf/fetch/error.hpp"
#include "wharf/fetch/resume.hpp"
#include "wharf/fetch/url.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace wharf::fetch {

struct limits {
    std::chrono::milliseconds connect_timeout{10'000};
    std::uint64_t stall_bytes_per_second = 1024;
    std::chrono::seconds stall_window{60};  // at least 1 s
    std::uint64_t max_bytes = std::uint64_t{10} << 30;
    // Media ranges, normalised (content_type.hpp: "video/mp4", "video/*"); empty: any.
    std::vector<std::string> content_types;
    long max_redirects = 5;
};

struct request {
    checked_url url;
    std::optional<range_request> range;       // continue a partial file (Range + If-Range)
    std::optional<std::filesystem::path> ca_file;  // extra trust anchors (a private CA); system CAs otherwise
};

// The final response's status line and the headers a download needs. Header values are kept up to
// 1 KiB each (a longer one is dropped).
struct response_head {
    int status = 0;
    int http_version = 0;  // 1 (1.0 and 1.1), 2 or 3
    std::optional<std::uint64_t> content_length;
    std::string content_type;      // media type only, lower case ("video/mp4")
    std::string content_encoding;  // lower case, "" when absent
    std::optional<std::string> etag, last_modified, content_range;
};

// Where the body goes. Its calls come from the transfer thread, one at a time, while the caller
// is suspended in fetch(); an exception from one of them aborts the transfer and is rethrown by
// fetch() as it is.
class sink {
public:
    virtual ~sink() = default;
    // The final response's head, before any of its body. Returns the offset (in the sink's file)
    // the body starts at, which counts against max_bytes, or nullopt to take no body (a 416).
    virtual std::optional<std::uint64_t> begin(const response_head& head) = 0;
    virtual void write(std::span<const char> bytes) = 0;
    // After the last byte of a transfer that succeeded (also one without a body).
    virtual void finish() = 0;
};

struct fetch_result {
    response_head head;
    std::uint64_t body_bytes = 0;  // as delivered to the sink
    std::string final_url;         // after redirects, redacted
};

class client {
public:
    explicit client(egress_policy policy);
    const egress_policy& policy() const noexcept { return *policy_; }

    // One GET of request.url into `out`. Throws fetch::error (or what `out` threw). `out` must
    // outlive the operation, which it does when the caller co_awaits it.
    boost::asio::awaitable<fetch_result> fetch(request req, limits lim, sink& out) const;

private:
    std::shared_ptr<const egress_policy> policy_;
};

}  // namespace wharf::fetch
