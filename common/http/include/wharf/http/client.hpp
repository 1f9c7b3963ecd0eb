// The one HTTP/1.1 client of wharf: Boost.Beast over TCP or TLS, a keep-alive pool per endpoint,
// a deadline on every operation and a size limit on every body read into memory.
//
// This header is deliberately free of Beast and Asio implementation headers (pimpl): it is
// included by every storage backend, and Beast's templates are compiled once, in client.cpp.
#pragma once

#include "wharf/http/error.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wharf::http {

enum class verb { get, head, put, post, delete_ };
std::string_view to_string(verb v) noexcept;

// scheme + host + port: what a pooled connection is keyed by.
struct endpoint {
    bool tls = false;
    std::string host;
    std::uint16_t port = 0;

    // The Host header value: the port is left out when it is the scheme's default.
    std::string host_header() const;
    // "https://host:port"
    std::string origin() const;
    bool operator==(const endpoint&) const = default;
};

// Parses "http[s]://host[:port][/path]" (the path is ignored). Throws std::invalid_argument.
endpoint parse_endpoint(std::string_view url);

// Header names compare case-insensitively; order and duplicates are kept as given.
using header_list = std::vector<std::pair<std::string, std::string>>;
std::optional<std::string_view> find_header(const header_list& headers, std::string_view name) noexcept;

// A byte range of a file sent as the request body without loading it: over plain TCP with
// sendfile() (no copy through user space), over TLS read in chunks.
struct file_region {
    std::filesystem::path path;  // opened for the request; only named in errors when fd is set
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    int fd = -1;                 // an already open descriptor, borrowed for the request
};

// A request body the caller produces in chunks (a file read on a blocking pool, say), so the
// client itself never touches the filesystem. `read(offset, buffer)` must fill the whole buffer
// with the body's bytes at `offset`, or throw; the client calls it with chunks of at most 1 MiB,
// in order, and again from offset 0 if it re-sends the request on a fresh connection.
struct body_source {
    std::uint64_t size = 0;
    std::function<boost::asio::awaitable<void>(std::uint64_t offset, std::span<char> buffer)> read;
};

struct request {
    verb method = verb::get;
    endpoint to;
    std::string target = "/";  // origin-form, already percent-encoded: "/bucket/key?uploads"
    header_list headers;       // Host, Content-Length and User-Agent are set by the client
    // The body is sent from the caller's memory without a copy; it must outlive send().
    std::span<const char> body;
    std::optional<file_region> body_file;      // instead of `body`
    std::optional<body_source> streamed_body;  // instead of `body`
};

struct response {
    unsigned status = 0;
    header_list headers;
    std::string body;             // empty when the body was streamed to a file
    std::uint64_t body_size = 0;  // bytes of body received (in memory or in the file)

    std::optional<std::string_view> header(std::string_view name) const noexcept {
        return find_header(headers, name);
    }
    bool ok() const noexcept { return status >= 200 && status < 300; }
};

struct request_options {
    // Deadline of each step: connect (incl. TLS handshake), writing the request, reading the
    // response head, and each read of the body (so a large download is bounded by progress, not
    // by a guess of its total duration).
    std::chrono::milliseconds timeout{30'000};
    // Bodies read into memory larger than this fail with error_kind::body_too_large.
    std::uint64_t body_limit = 8ull << 20;
    // When set and the status is 2xx, the body is handed to this in chunks of at most 1 MiB
    // instead of being kept in memory (the chunk stays valid until the returned awaitable
    // completes; no socket deadline runs meanwhile). Error bodies still come back in memory
    // (bounded) for their XML. What the sink throws ends the exchange and reaches the caller.
    std::function<boost::asio::awaitable<void>(std::span<const char>)> body_sink;
    // HEAD responses carry a Content-Length but no body: set for HEAD automatically.
    bool expect_no_body = false;
};

struct client_options {
    bool verify_peer = true;                   // TLS certificate and host name verification
    std::optional<std::filesystem::path> ca_file;  // else the system's default trust store
    std::size_t max_idle_per_endpoint = 32;
    std::chrono::milliseconds idle_timeout{30'000};  // idle pooled connections older than this are dropped
    std::string user_agent = "wharf/0.1";
};

// A client is cheap to share (it is a handle); send() may be called concurrently from many
// coroutines. Connections are kept alive and reused per endpoint.
class client {
public:
    explicit client(boost::asio::any_io_executor executor, client_options options = {});
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // One request/response exchange. Throws http::error for transport failures; any status
    // (including 4xx/5xx) is a response, not an exception.
    boost::asio::awaitable<response> send(request req, request_options options = {});

    // Idle connections currently pooled (for tests).
    std::size_t idle_connections() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace wharf::http
