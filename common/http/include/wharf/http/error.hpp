// Transport errors of the HTTP client, by kind, so a retry classifier can tell them apart.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace wharf::http {

enum class error_kind {
    resolve,         // the host name did not resolve
    refused,         // connection refused
    timeout,         // a deadline passed (connect, write, read)
    reset,           // the peer reset or closed the connection before the response was complete
    truncated,       // the body ended before its Content-Length
    tls,             // handshake or certificate verification failed
    body_too_large,  // the response body exceeded the caller's limit
    protocol,        // the peer did not speak valid HTTP/1.1
    file,            // reading or sending the request body's file region failed
};

std::string_view to_string(error_kind kind) noexcept;

class error : public std::runtime_error {
public:
    error(error_kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
    error_kind kind() const noexcept { return kind_; }
    // Worth retrying the same request: the network or the peer failed, not the request itself.
    bool transient() const noexcept {
        return kind_ == error_kind::refused || kind_ == error_kind::timeout || kind_ == error_kind::reset ||
               kind_ == error_kind::truncated || kind_ == error_kind::resolve;
    }

private:
    error_kind kind_;
};

}  // namespace wharf::http
