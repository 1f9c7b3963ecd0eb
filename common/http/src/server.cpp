// The HTTP server: an accept loop and one coroutine per connection, all on one strand.
#include "wharf/http/server.hpp"

#include "wharf/metrics/registry.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <random>
#include <atomic>
#include <map>
#include <system_error>

namespace wharf::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using net::awaitable;
using net::use_awaitable;

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// A client's X-Request-Id is kept when it is short and plain (it ends up in logs); otherwise,
// or without one, a fresh random one.
std::string request_id_for(std::optional<std::string_view> given) {
    if (given && !given->empty() && given->size() <= 64) {
        bool plain = true;
        for (char c : *given)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') plain = false;
        if (plain) return std::string(*given);
    }
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char digits[] = "0123456789abcdef";
    std::string id(16, '0');
    auto bits = rng();
    for (auto& c : id) {
        c = digits[bits & 15];
        bits >>= 4;
    }
    return id;
}

struct request_metrics {
    metrics::family<metrics::counter>& requests = metrics::default_registry().counters(
        "wharf_http_requests_total", "HTTP requests served, by server, route and status code.",
        {"server", "route", "code"});
    metrics::family<metrics::histogram>& durations = metrics::default_registry().histograms(
        "wharf_http_request_duration_seconds", "Time from a request's head read to its response written.",
        metrics::request_duration_buckets(), {"server", "route"});
};
request_metrics& http_metrics() {
    static request_metrics m;
    return m;
}

}  // namespace

std::optional<std::string> server_request::query_param(std::string_view name) const {
    std::string_view rest = query;
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const auto eq = pair.find('=');
        if (percent_decode(pair.substr(0, eq)) != name) continue;
        return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    }
    return std::nullopt;
}

server_response json_error(unsigned status, std::string_view code, std::string_view message, std::string_view field) {
    nlohmann::json err{{"code", code}, {"message", message}};
    if (!field.empty()) err["field"] = field;
    server_response r;
    r.status = status;
    r.body = nlohmann::json{{"error", std::move(err)}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
}

constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

// A body read by the handler, into its own buffers, as it arrives.
class streamed_body final : public body_reader {
public:
    streamed_body(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                  bhttp::request_parser<bhttp::buffer_body>& parser, std::chrono::milliseconds read_timeout,
                  bool expects_continue)
        : stream_(stream), buffer_(buffer), parser_(parser), read_timeout_(read_timeout),
          expects_continue_(expects_continue) {}

    std::optional<std::uint64_t> content_length() const noexcept override {
        const auto n = parser_.content_length();
        return n ? std::optional<std::uint64_t>(*n) : std::nullopt;
    }

    awaitable<body_chunk> read_some(std::span<char> into) override {
        body_chunk out;
        if (into.empty()) co_return out;
        if (expects_continue_ && !parser_.is_done()) {
            expects_continue_ = false;
            stream_.expires_after(read_timeout_);
            auto [ec, n] = co_await net::async_write(stream_, net::buffer(continue_line), net::as_tuple(use_awaitable));
            if (ec) {
                out.ec = ec;
                co_return out;
            }
        }
        // A read may parse only framing (a chunk's size line): go on until bytes or the end.
        while (!parser_.is_done() && out.size == 0) {
            auto& body = parser_.get().body();
            body.data = into.data();
            body.size = into.size();
            stream_.expires_after(read_timeout_);
            auto [ec, n] = co_await bhttp::async_read_some(stream_, buffer_, parser_, net::as_tuple(use_awaitable));
            if (ec == bhttp::error::need_buffer) ec = {};
            out.size = into.size() - body.size;
            if (ec) {
                out.ec = ec;
                out.size = 0;
                break;
            }
        }
        stream_.expires_never();
        co_return out;
    }

private:
    beast::tcp_stream& stream_;
    beast::flat_buffer& buffer_;
    bhttp::request_parser<bhttp::buffer_body>& parser_;
    std::chrono::milliseconds read_timeout_;
    bool expects_continue_;
};

struct server::impl : std::enable_shared_from_this<impl> {
    net::strand<net::any_io_executor> strand;
    server_options options;
    server_handler handler;
    tcp::acceptor acceptor;
    // Open connections, and whether each is inside a request (on the strand): a stop closes the
    // idle ones at once and lets the others answer first.
    std::map<std::shared_ptr<beast::tcp_stream>, bool> open;
    std::atomic<std::size_t> open_count{0};  // open.size(), readable from any thread
    bool stopped = false;
    std::uint16_t bound_port = 0;

    impl(net::any_io_executor ex, server_options o, server_handler h)
        : strand(net::make_strand(ex)), options(std::move(o)), handler(std::move(h)), acceptor(strand) {
        const tcp::endpoint at{net::ip::make_address(options.host), options.port};
        acceptor.open(at.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(at);
        acceptor.listen();
        bound_port = acceptor.local_endpoint().port();
    }

    awaitable<void> accept_loop() {
        auto self = shared_from_this();
        while (!stopped) {
            auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(strand.get_inner_executor()),
                                                                net::as_tuple(use_awaitable));
            if (ec) {
                if (stopped || ec == net::error::operation_aborted) break;
                // Out of descriptors and the like: pause rather than spin.
                spdlog::warn("{} server: accept failed: {}", options.server_name, ec.message());
                net::steady_timer pause{strand, std::chrono::milliseconds(100)};
                co_await pause.async_wait(net::as_tuple(use_awaitable));
                continue;
            }
            if (open.size() >= options.max_connections) {
                boost::system::error_code ignored;
                socket.close(ignored);  // over the limit: refused at once, the client retries
                continue;
            }
            auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
            open.emplace(stream, false);
            open_count = open.size();
            net::co_spawn(strand, session(stream), [self, stream](std::exception_ptr e) {
                self->open.erase(stream);
                self->open_count = self->open.size();
                if (e) {
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::exception& ex) {
                        spdlog::error("{} server: connection failed: {}", self->options.server_name, ex.what());
                    }
                }
            });
        }
    }

    awaitable<void> send(beast::tcp_stream& stream, server_response r, const std::string& request_id, bool keep_alive,
                         unsigned version, bool head) {
        bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
        res.set(bhttp::field::content_type, r.content_type);
        res.set("X-Request-Id", request_id);
        res.set(bhttp::field::cache_control, "no-store");
        for (auto& [name, value] : r.headers) res.insert(name, value);
        res.keep_alive(keep_alive);
        res.body() = std::move(r.body);
        res.prepare_payload();
        if (head) res.body().clear();
        stream.expires_after(options.write_timeout);
        bhttp::response_serializer<bhttp::string_body> sr{res};
        if (head) {
            co_await bhttp::async_write_header(stream, sr, net::as_tuple(use_awaitable));
        } else {
            co_await bhttp::async_write(stream, sr, net::as_tuple(use_awaitable));
        }
    }

    awaitable<server_response> call_handler(beast::tcp_stream& stream, server_request& req) {
        server_response res;
        stream.expires_never();  // the handler bounds its own work (a streamed body's reads have theirs)
        try {
            res = co_await handler(req);
        } catch (const std::exception& e) {
            spdlog::error("{} server: request {} {} {} failed: {}", options.server_name, req.request_id, req.method,
                          req.path, e.what());
            res = json_error(500, "internal", "internal error (request " + req.request_id + ")");
        }
        co_return res;
    }

    awaitable<void> session(std::shared_ptr<beast::tcp_stream> stream) {
        auto self = shared_from_this();
        beast::flat_buffer buffer;
        std::string remote;
        {
            boost::system::error_code ec;
            const auto peer = stream->socket().remote_endpoint(ec);
            if (!ec) remote = peer.address().to_string() + ":" + std::to_string(peer.port());
        }
        bool first = true;
        while (!stopped) {
            bhttp::request_parser<bhttp::string_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(options.max_header));
            // The body limit is set once the head says which kind of request it is (a streamed one
            // has its own); Content-Length is checked against it below, before the body.
            parser.body_limit(boost::none);
            stream->expires_after(first ? options.read_timeout : options.idle_timeout);
            first = false;
            auto [ec, n] = co_await bhttp::async_read_header(*stream, buffer, parser, net::as_tuple(use_awaitable));
            if (ec) {
                if (ec == bhttp::error::header_limit)
                    co_await send(*stream, json_error(431, "header_too_large", "request headers are too large"),
                                  request_id_for({}), false, 11, false);
                else if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
                         ec != net::error::eof && ec != net::error::operation_aborted &&
                         ec != net::error::connection_reset)
                    co_await send(*stream, json_error(400, "bad_request", "malformed HTTP request"), request_id_for({}),
                                  false, 11, false);
                break;
            }
            const auto started = std::chrono::steady_clock::now();
            open[stream] = true;
            auto& head = parser.get();
            server_request req;
            req.method = std::string(head.method_string());
            req.target = std::string(head.target());
            for (const auto& field : head) req.headers.emplace_back(field.name_string(), field.value());
            req.request_id = request_id_for(req.header("X-Request-Id"));
            req.remote = remote;
            const auto q = req.target.find('?');
            req.path = req.target.substr(0, q);
            if (q != std::string::npos) req.query = req.target.substr(q + 1);
            const bool is_head = head.method() == bhttp::verb::head;
            const unsigned version = head.version();
            bool keep_alive = head.keep_alive();
            const bool expects_continue = beast::iequals(head[bhttp::field::expect], "100-continue");
            const bool streamed = options.stream_body && options.stream_body(req);
            const std::uint64_t limit = streamed ? options.max_streamed_body : options.max_body;

            server_response res;
            if (parser.content_length() && *parser.content_length() > limit) {
                // Refused before a byte of the body is read (no "100 Continue" was sent); the
                // connection cannot be reused.
                res = json_error(413, "body_too_large", "the request body exceeds " + std::to_string(limit) + " bytes");
                keep_alive = false;
            } else if (streamed) {
                bhttp::request_parser<bhttp::buffer_body> body_parser{std::move(parser)};
                body_parser.body_limit(limit);
                streamed_body reader{*stream, buffer, body_parser, options.read_timeout, expects_continue};
                req.body_stream = &reader;
                res = co_await call_handler(*stream, req);
                if (!body_parser.is_done()) keep_alive = false;  // the rest of the body is not read
            } else {
                parser.body_limit(limit);
                if (expects_continue && !parser.is_done()) {
                    stream->expires_after(options.write_timeout);
                    auto [cont_ec, cont_n] = co_await net::async_write(*stream, net::buffer(continue_line),
                                                                       net::as_tuple(use_awaitable));
                    if (cont_ec) break;
                }
                stream->expires_after(options.read_timeout);
                auto [body_ec, body_n] = co_await bhttp::async_read(*stream, buffer, parser, net::as_tuple(use_awaitable));
                if (body_ec == bhttp::error::body_limit) {
                    res = json_error(413, "body_too_large", "the request body exceeds " + std::to_string(limit) + " bytes");
                    keep_alive = false;
                } else if (body_ec) {
                    break;  // the client went away or stalled mid-body
                } else {
                    req.body = std::move(parser.get().body());
                    res = co_await call_handler(*stream, req);
                }
            }
            if (res.route.empty()) res.route = "unmatched";
            const std::string code = std::to_string(res.status);
            const std::string route = res.route;
            spdlog::debug("{} server: {} {} {} -> {} ({})", options.server_name, req.request_id, req.method, req.path,
                          res.status, route);
            co_await send(*stream, std::move(res), req.request_id, keep_alive && !stopped, version, is_head);
            auto& m = http_metrics();
            m.requests.with({options.server_name, route, code}).inc();
            m.durations.with({options.server_name, route})
                .observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
            open[stream] = false;
            if (!keep_alive) break;
        }
        boost::system::error_code ignored;
        stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream->close();
    }
};

server::server(net::any_io_executor executor, server_options options, server_handler handler)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(options), std::move(handler))) {}

server::~server() { stop(); }

std::uint16_t server::port() const noexcept { return impl_->bound_port; }

std::size_t server::connections() const noexcept { return impl_->open_count.load(); }

void server::start() {
    net::co_spawn(impl_->strand, impl_->accept_loop(), net::detached);
}

void server::stop() {
    net::post(impl_->strand, [self = impl_] {
        if (self->stopped) return;
        self->stopped = true;
        boost::system::error_code ignored;
        self->acceptor.close(ignored);
        for (const auto& [s, busy] : self->open)
            if (!busy) s->socket().close(ignored);
    });
}

}  // namespace wharf::http
