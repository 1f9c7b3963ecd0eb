// Errors of the fetch domain, by kind, each saying whether another attempt may succeed.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace wharf::fetch {

enum class errc {
    bad_url,            // refused before any I/O (scheme, host, port, size)   permanent
    egress_refused,     // the address or port is not allowed                  permanent
    http_status,        // a final status other than 2xx (see status_retryable) by status
    too_large,          // more bytes than the cap (counted as written)        permanent
    content_type,       // not in the allowed content types                    permanent
    too_many_redirects, // more than the redirect limit                        permanent
    protocol_refused,   // a redirect to a scheme other than http/https        permanent
    tls_verify,         // the certificate did not verify                      permanent
    bad_encoding,       // the body's Content-Encoding could not be decoded   permanent
    resolve,            // the host name did not resolve                       retryable
    connect,            // connection refused, unreachable, connect timeout    retryable
    stalled,            // slower than the stall limit for the whole window    retryable
    reset,              // the connection broke, the body was cut short, TLS handshake failed  retryable
    protocol,           // the server did not speak HTTP as expected          retryable
    cancelled,          // the caller cancelled (a job's timeout, shutdown)    retryable
    local,              // the caller's sink failed, or libcurl could not start  retryable
};

std::string_view to_string(errc code) noexcept;

// 4xx are permanent but 408 and 429; 5xx are retryable; so is everything else but 3xx.
bool status_retryable(int status) noexcept;

class error : public std::runtime_error {
public:
    error(errc code, const std::string& what, std::optional<int> status = std::nullopt)
        : std::runtime_error(what), code_(code), status_(status) {}
    errc code() const noexcept { return code_; }
    // The final HTTP status, for errc::http_status.
    std::optional<int> status() const noexcept { return status_; }
    bool retryable() const noexcept;

private:
    errc code_;
    std::optional<int> status_;
};

}  // namespace wharf::fetch
