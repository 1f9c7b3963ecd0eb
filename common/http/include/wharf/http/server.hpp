// The one HTTP/1.1 server of wharf (Boost.Beast): the admin endpoints of every process, and the
// public API. One coroutine per connection, keep-alive, a deadline on every read and write, and
// limits checked before anything is read: header size, body size (413 from Content-Length, before
// the body), connection count. Every response carries an X-Request-Id (the client's, when it is
// short and plain, else a fresh one) that the handler also gets for its logs.
//
// Like client.hpp, free of Beast's headers: Beast is compiled in server.cpp only.
#pragma once

#include "wharf/http/client.hpp"  // verb, header_list, find_header

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace wharf::http {

// What one read of a streamed body gave: `size` bytes (0 at the body's end), or an error that ends
// the request (the client went away or stalled past read_timeout, the body outgrew
// max_streamed_body, a broken chunk).
struct body_chunk {
    boost::system::error_code ec;
    std::size_t size = 0;
};

// A request body the handler reads as it arrives, a buffer at a time (uploads of any size in
// bounded memory); see server_options::stream_body. A client that sent "Expect: 100-continue"
// gets its "100 Continue" at the first read, so a request refused before reading never has its
// body sent.
class body_reader {
public:
    virtual ~body_reader() = default;
    virtual boost::asio::awaitable<body_chunk> read_some(std::span<char> into) = 0;
    virtual std::optional<std::uint64_t> content_length() const noexcept = 0;
};

struct server_request {
    std::string method;  // as sent: "GET", "POST", ...
    std::string target;  // origin-form, as sent
    std::string path;    // target before '?', not decoded
    std::string query;   // after '?', not decoded ("" when none)
    header_list headers;
    std::string body;    // at most server_options::max_body bytes; empty when streamed
    body_reader* body_stream = nullptr;  // set when server_options::stream_body took the request
    std::string request_id;
    std::string remote;  // "address:port" of the peer

    std::optional<std::string_view> header(std::string_view name) const noexcept { return find_header(headers, name); }
    // The first value of a query parameter (percent-decoded); a bare "?verbose" gives "".
    std::optional<std::string> query_param(std::string_view name) const;
};

struct server_response {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
    header_list headers;  // extra headers (Retry-After, Location, ...)
    // The route that answered, for the request metrics: a bounded name ("readyz",
    // "jobs.get"), never the path itself. Empty: "unmatched".
    std::string route;
};

// A JSON error body: {"error": {"code": ..., "message": ..., "field": ...}} ("field" only when
// given), with the request id.
server_response json_error(unsigned status, std::string_view code, std::string_view message,
                           std::string_view field = {});

struct server_options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;  // 0: any free port (see server::port())
    std::size_t max_body = 1 << 20;
    std::size_t max_header = 16 << 10;
    std::size_t max_connections = 512;
    std::chrono::milliseconds read_timeout{10'000};   // a request's head and body
    std::chrono::milliseconds write_timeout{30'000};  // a response
    std::chrono::milliseconds idle_timeout{60'000};   // keep-alive between requests
    std::string server_name;  // the metrics' "server" label: "admin", "api"
    // Requests this accepts, seen with their head (method, path, headers; no body yet), are handed
    // to the handler with their body unread, in server_request::body_stream, up to
    // max_streamed_body bytes (a larger Content-Length: 413 before reading). A body the handler
    // leaves unread closes the connection after the response.
    std::function<bool(const server_request&)> stream_body;
    std::uint64_t max_streamed_body = 0;
};

using server_handler = std::function<boost::asio::awaitable<server_response>(server_request&)>;

class server {
public:
    // Binds and listens at once (throws std::system_error when the address is taken or bad);
    // serves once start() is called.
    server(boost::asio::any_io_executor executor, server_options options, server_handler handler);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    std::uint16_t port() const noexcept;
    // Connections open now (after stop(): those still answering). Any thread.
    std::size_t connections() const noexcept;
    void start();
    // Stops accepting and closes the idle connections; a request being handled gets its answer
    // (with Connection: close) and then its connection is closed. Callable from any thread.
    void stop();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace wharf::http
