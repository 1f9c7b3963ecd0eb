// The HTTP client: Beast exchanges over pooled TCP/TLS connections, with per-step deadlines.
#include "wharf/http/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <type_traits>
#include <variant>

namespace wharf::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using net::awaitable;
using net::use_awaitable;

std::string_view to_string(verb v) noexcept {
    switch (v) {
    case verb::get: return "GET";
    case verb::head: return "HEAD";
    case verb::put: return "PUT";
    case verb::post: return "POST";
    case verb::delete_: return "DELETE";
    }
    return "GET";
}

std::string_view to_string(error_kind kind) noexcept {
    switch (kind) {
    case error_kind::resolve: return "resolve";
    case error_kind::refused: return "refused";
    case error_kind::timeout: return "timeout";
    case error_kind::reset: return "reset";
    case error_kind::truncated: return "truncated";
    case error_kind::tls: return "tls";
    case error_kind::body_too_large: return "body_too_large";
    case error_kind::protocol: return "protocol";
    case error_kind::file: return "file";
    }
    return "unknown";
}

std::string endpoint::host_header() const {
    const bool default_port = (tls && port == 443) || (!tls && port == 80);
    const bool ipv6 = host.find(':') != std::string::npos;
    std::string h = ipv6 ? "[" + host + "]" : host;
    if (!default_port) h += ":" + std::to_string(port);
    return h;
}

std::string endpoint::origin() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    return std::string(tls ? "https://" : "http://") + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

endpoint parse_endpoint(std::string_view url) {
    endpoint ep;
    if (url.starts_with("https://")) {
        ep.tls = true;
        url.remove_prefix(8);
    } else if (url.starts_with("http://")) {
        url.remove_prefix(7);
    } else {
        throw std::invalid_argument("not an http(s) URL: " + std::string(url));
    }
    const auto path = url.find_first_of("/?#");
    std::string_view authority = url.substr(0, path);
    if (authority.find('@') != std::string_view::npos) throw std::invalid_argument("credentials in an endpoint URL are not supported");
    std::string_view port_text;
    if (authority.starts_with("[")) {  // [::1]:9000
        const auto close = authority.find(']');
        if (close == std::string_view::npos) throw std::invalid_argument("bad IPv6 literal in URL");
        ep.host = std::string(authority.substr(1, close - 1));
        if (close + 1 < authority.size() && authority[close + 1] == ':') port_text = authority.substr(close + 2);
    } else {
        const auto colon = authority.rfind(':');
        ep.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (ep.host.empty()) throw std::invalid_argument("no host in URL");
    std::transform(ep.host.begin(), ep.host.end(), ep.host.begin(), [](unsigned char c) { return std::tolower(c); });
    ep.port = ep.tls ? 443 : 80;
    if (!port_text.empty()) {
        unsigned p = 0;
        auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
        if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || p == 0 || p > 65535)
            throw std::invalid_argument("bad port in URL: " + std::string(port_text));
        ep.port = static_cast<std::uint16_t>(p);
    }
    return ep;
}

std::optional<std::string_view> find_header(const header_list& headers, std::string_view name) noexcept {
    for (const auto& [k, v] : headers) {
        if (k.size() == name.size() &&
            std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
            }))
            return std::string_view(v);
    }
    return std::nullopt;
}

namespace {

// sendfile() has no MSG_NOSIGNAL: writing to a connection the peer has closed raises SIGPIPE, and
// its default action ends the process (a worker uploading to an endpoint that resets). SIGPIPE is
// blocked in this thread for the call, and one the call raised is taken off the pending set
// before the old mask comes back; the caller sees EPIPE (on its next call) like any other write
// error.
ssize_t sendfile_without_sigpipe(int out, int in, off_t* offset, std::size_t count) {
    sigset_t pipe_only, previous;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
    const ssize_t n = ::sendfile(out, in, offset, count);
    const int saved = errno;
    // Not only on EPIPE: a call that sent part of the count before the reset returns that part
    // and still leaves a SIGPIPE pending.
    sigset_t pending;
    if (!sigismember(&previous, SIGPIPE) && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
        const timespec now{0, 0};
        while (sigtimedwait(&pipe_only, nullptr, &now) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    errno = saved;
    return n;
}

bhttp::verb beast_verb(verb v) {
    switch (v) {
    case verb::get: return bhttp::verb::get;
    case verb::head: return bhttp::verb::head;
    case verb::put: return bhttp::verb::put;
    case verb::post: return bhttp::verb::post;
    case verb::delete_: return bhttp::verb::delete_;
    }
    return bhttp::verb::get;
}

// Where an exchange failed: decides the error kind and whether a stale pooled connection may be
// the cause (then the request is sent again on a fresh one).
enum class phase { connect, write, read_header, read_body };

[[noreturn]] void fail(const boost::system::error_code& ec, phase where, const endpoint& ep) {
    const std::string what = std::string("http ") + ep.origin() + ": " + ec.message();
    if (ec == beast::error::timeout || ec == net::error::timed_out) throw error(error_kind::timeout, what);
    if (ec == net::error::connection_refused) throw error(error_kind::refused, what);
    if (ec == net::error::host_not_found || ec == net::error::host_not_found_try_again)
        throw error(error_kind::resolve, what);
    if (ec == bhttp::error::body_limit) throw error(error_kind::body_too_large, what);
    if (ec == bhttp::error::partial_message) throw error(error_kind::truncated, what);
    if (ec == net::error::eof || ec == bhttp::error::end_of_stream || ec == net::ssl::error::stream_truncated) {
        throw error(where == phase::read_body ? error_kind::truncated : error_kind::reset, what);
    }
    if (ec == net::error::connection_reset || ec == net::error::broken_pipe || ec == net::error::connection_aborted ||
        ec == net::error::operation_aborted || ec == net::error::not_connected)
        throw error(where == phase::read_body ? error_kind::truncated : error_kind::reset, what);
    if (ec.category() == net::error::get_ssl_category() || ec.category() == net::ssl::error::get_stream_category())
        throw error(error_kind::tls, what);
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category())
        throw error(error_kind::protocol, what);
    if (where == phase::connect) throw error(error_kind::refused, what);
    throw error(error_kind::reset, what);
}

// Streamed bodies move in chunks of this size: large enough for few hops to the caller's
// thread pool, small enough to bound the memory of each exchange.
constexpr std::size_t stream_chunk = 1u << 20;

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    net::ip::make_address(host, ec);
    return !ec;
}

struct fd_guard {
    int fd = -1;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

// One kept-alive connection: a plain or TLS stream plus the read buffer, which may hold bytes of
// the next response and so belongs to the connection, not to one exchange.
struct connection {
    endpoint ep;
    std::variant<beast::tcp_stream, beast::ssl_stream<beast::tcp_stream>> stream;
    beast::flat_buffer buffer;
    std::chrono::steady_clock::time_point idle_since{};
    bool reused = false;

    connection(endpoint e, net::any_io_executor ex) : ep(std::move(e)), stream(std::in_place_index<0>, ex) {}
    connection(endpoint e, net::any_io_executor ex, net::ssl::context& ctx)
        : ep(std::move(e)), stream(std::in_place_index<1>, ex, ctx) {}

    beast::tcp_stream& lowest() {
        return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); }, stream);
    }

    // True when the peer has not closed the idle connection nor sent anything unexpected.
    bool looks_alive() {
        if (buffer.size() != 0) return false;
        char byte;
        const ssize_t n = ::recv(lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
};

struct client::impl {
    net::any_io_executor executor;
    client_options options;
    net::ssl::context ssl{net::ssl::context::tls_client};
    mutable std::mutex mutex;
    std::map<std::string, std::vector<std::unique_ptr<connection>>> idle;

    impl(net::any_io_executor ex, client_options o) : executor(std::move(ex)), options(std::move(o)) {
        ssl.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                        net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
        if (options.ca_file)
            ssl.load_verify_file(options.ca_file->string());
        else
            ssl.set_default_verify_paths();
        ssl.set_verify_mode(options.verify_peer ? net::ssl::verify_peer : net::ssl::verify_none);
    }

    static std::string key_of(const endpoint& ep) { return ep.origin(); }

    std::unique_ptr<connection> take(const endpoint& ep) {
        std::lock_guard lock(mutex);
        auto it = idle.find(key_of(ep));
        if (it == idle.end()) return nullptr;
        auto& list = it->second;
        const auto now = std::chrono::steady_clock::now();
        while (!list.empty()) {
            auto c = std::move(list.back());  // most recently used first: warmest TCP window
            list.pop_back();
            if (now - c->idle_since < options.idle_timeout && c->looks_alive()) {
                c->reused = true;
                return c;
            }
        }
        return nullptr;
    }

    void give_back(std::unique_ptr<connection> c) {
        c->idle_since = std::chrono::steady_clock::now();
        std::lock_guard lock(mutex);
        auto& list = idle[key_of(c->ep)];
        if (list.size() >= options.max_idle_per_endpoint) return;  // closed by its destructor
        list.push_back(std::move(c));
    }

    awaitable<tcp::resolver::results_type> resolve(const endpoint& ep, std::chrono::milliseconds timeout) {
        using namespace net::experimental::awaitable_operators;
        tcp::resolver resolver(executor);
        net::steady_timer timer(executor, timeout);
        auto result = co_await (resolver.async_resolve(ep.host, std::to_string(ep.port), net::as_tuple(use_awaitable)) ||
                                timer.async_wait(use_awaitable));
        if (result.index() == 1) throw error(error_kind::timeout, "http " + ep.origin() + ": resolve timed out");
        auto [ec, results] = std::get<0>(std::move(result));
        if (ec) fail(ec, phase::connect, ep);
        co_return results;
    }

    awaitable<std::unique_ptr<connection>> connect(const endpoint& ep, std::chrono::milliseconds timeout) {
        tcp::resolver::results_type results;
        if (is_ip_literal(ep.host)) {
            results = tcp::resolver::results_type::create(tcp::endpoint(net::ip::make_address(ep.host), ep.port),
                                                          ep.host, std::to_string(ep.port));
        } else {
            results = co_await resolve(ep, timeout);
        }
        auto c = ep.tls ? std::make_unique<connection>(ep, executor, ssl) : std::make_unique<connection>(ep, executor);
        auto& lowest = c->lowest();
        lowest.expires_after(timeout);
        auto [ec, where] = co_await lowest.async_connect(results, net::as_tuple(use_awaitable));
        if (ec) fail(ec, phase::connect, ep);
        // Small requests (UploadPart headers, Complete XML) must not wait for Nagle.
        lowest.socket().set_option(tcp::no_delay(true));
        if (auto* tls = std::get_if<1>(&c->stream)) {
            if (!is_ip_literal(ep.host) && !SSL_set_tlsext_host_name(tls->native_handle(), ep.host.c_str()))
                throw error(error_kind::tls, "http " + ep.origin() + ": cannot set SNI");
            if (options.verify_peer) tls->set_verify_callback(net::ssl::host_name_verification(ep.host));
            lowest.expires_after(timeout);
            auto [hec] = co_await tls->async_handshake(net::ssl::stream_base::client, net::as_tuple(use_awaitable));
            if (hec) fail(hec, phase::connect, ep);
        }
        co_return c;
    }

    // Plain TCP: sendfile() moves the region from the page cache to the socket without a copy
    // through user space (the multipart engine has just read it, so it is cached: no disk wait on
    // this thread). Returns the bytes sent, which is less than the region only when the file
    // system cannot sendfile (then the caller sends the rest buffered).
    awaitable<std::uint64_t> send_file_zero_copy(beast::tcp_stream& stream, int fd, const file_region& region,
                                                 std::chrono::milliseconds timeout, const endpoint& to) {
        using namespace net::experimental::awaitable_operators;
        auto& socket = stream.socket();
        boost::system::error_code ec;
        socket.native_non_blocking(true, ec);
        if (ec) fail(ec, phase::write, to);
        std::uint64_t sent = 0;
        while (sent < region.length) {
            off_t at = static_cast<off_t>(region.offset + sent);
            const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(region.length - sent, 1u << 30));
            const ssize_t n = sendfile_without_sigpipe(socket.native_handle(), fd, &at, want);
            if (n > 0) {
                sent += static_cast<std::uint64_t>(n);
                continue;
            }
            if (n == 0) throw error(error_kind::file, "cannot read " + region.path.string() + ": file shorter than expected");
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                net::steady_timer timer(executor, timeout);
                auto waited = co_await (socket.async_wait(tcp::socket::wait_write, net::as_tuple(use_awaitable)) ||
                                        timer.async_wait(use_awaitable));
                if (waited.index() == 1) throw error(error_kind::timeout, "http " + to.origin() + ": write timed out");
                if (auto [wec] = std::get<0>(waited); wec) fail(wec, phase::write, to);
                continue;
            }
            if ((errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) && sent == 0) co_return 0;
            if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
                fail(boost::system::error_code(errno, boost::system::system_category()), phase::write, to);
            throw error(error_kind::file, "cannot send " + region.path.string() + ": " + std::strerror(errno));
        }
        co_return sent;
    }

    // TLS (or a file system without sendfile): the region read in chunks and written through the
    // stream. The chunk bounds the time this thread spends in pread (page-cache reads in practice).
    template <class Stream>
    awaitable<void> send_file_buffered(Stream& stream, int fd, const file_region& region, std::uint64_t sent,
                                       std::chrono::milliseconds timeout, const endpoint& to) {
        auto& lowest = beast::get_lowest_layer(stream);
        std::vector<char> chunk(std::min<std::uint64_t>(region.length - sent, 1u << 20));
        while (sent < region.length) {
            const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), region.length - sent));
            const ssize_t n = ::pread(fd, chunk.data(), want, static_cast<off_t>(region.offset + sent));
            if (n <= 0) {
                if (n < 0 && errno == EINTR) continue;
                throw error(error_kind::file, "cannot read " + region.path.string() + ": " +
                                                  (n == 0 ? std::string("file shorter than expected") : std::strerror(errno)));
            }
            lowest.expires_after(timeout);
            auto [ec, m] = co_await net::async_write(stream, net::buffer(chunk.data(), static_cast<std::size_t>(n)),
                                                     net::as_tuple(use_awaitable));
            if (ec) fail(ec, phase::write, to);
            sent += static_cast<std::uint64_t>(n);
        }
    }

    template <class Stream>
    awaitable<response> exchange(Stream& stream, connection& c, const request& req, const request_options& opt,
                                 phase& where, bool& keep_alive) {
        auto& lowest = beast::get_lowest_layer(stream);

        // The head is serialized by Beast with an empty body and an explicit Content-Length; the
        // body is then written straight from the caller's buffer (or the file, or the caller's
        // chunks), never copied.
        bhttp::request<bhttp::empty_body> head{beast_verb(req.method), req.target, 11};
        head.set(bhttp::field::host, req.to.host_header());
        head.set(bhttp::field::user_agent, options.user_agent);
        for (const auto& [k, v] : req.headers) head.insert(k, v);
        const std::uint64_t body_size = req.body_file       ? req.body_file->length
                                        : req.streamed_body ? req.streamed_body->size
                                                            : req.body.size();
        if (body_size > 0 || req.method == verb::put || req.method == verb::post)
            head.set(bhttp::field::content_length, std::to_string(body_size));
        head.keep_alive(true);

        where = phase::write;
        lowest.expires_after(opt.timeout);
        bhttp::request_serializer<bhttp::empty_body> serializer{head};
        auto [wec, wn] = co_await bhttp::async_write(stream, serializer, net::as_tuple(use_awaitable));
        if (wec) fail(wec, where, req.to);
        if (req.body_file) {
            const file_region& region = *req.body_file;
            fd_guard owned;
            int fd = region.fd;
            if (fd < 0) {
                owned.fd = ::open(region.path.c_str(), O_RDONLY | O_CLOEXEC);
                if (owned.fd < 0)
                    throw error(error_kind::file, "cannot open " + region.path.string() + ": " + std::strerror(errno));
                fd = owned.fd;
            }
            std::uint64_t sent = 0;
            if constexpr (std::is_same_v<Stream, beast::tcp_stream>)
                sent = co_await send_file_zero_copy(stream, fd, region, opt.timeout, req.to);
            if (sent < body_size) co_await send_file_buffered(stream, fd, region, sent, opt.timeout, req.to);
        } else if (req.streamed_body) {
            // One chunk at a time: the caller's read (off this thread) bounds the memory, and no
            // socket deadline runs while it works.
            std::vector<char> chunk(static_cast<std::size_t>(std::min<std::uint64_t>(body_size, stream_chunk)));
            for (std::uint64_t sent = 0; sent < body_size;) {
                const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), body_size - sent));
                const std::span<char> part(chunk.data(), n);
                co_await req.streamed_body->read(sent, part);
                lowest.expires_after(opt.timeout);
                auto [ec, m] = co_await net::async_write(stream, net::buffer(chunk.data(), n), net::as_tuple(use_awaitable));
                if (ec) fail(ec, where, req.to);
                sent += n;
            }
        } else if (!req.body.empty()) {
            lowest.expires_after(opt.timeout);
            auto [ec, m] = co_await net::async_write(stream, net::buffer(req.body.data(), req.body.size()),
                                                     net::as_tuple(use_awaitable));
            if (ec) fail(ec, where, req.to);
        }

        where = phase::read_header;
        bhttp::response_parser<bhttp::buffer_body> parser;
        parser.body_limit(boost::none);  // enforced below, per destination
        if (req.method == verb::head || opt.expect_no_body) parser.skip(true);
        lowest.expires_after(opt.timeout);
        auto [hec, hn] = co_await bhttp::async_read_header(stream, c.buffer, parser, net::as_tuple(use_awaitable));
        if (hec) fail(hec, where, req.to);

        response res;
        res.status = parser.get().result_int();
        for (const auto& field : parser.get()) res.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));

        where = phase::read_body;
        const bool to_sink = opt.body_sink && res.ok() && req.method != verb::head;
        if (!to_sink) {
            if (auto len = parser.content_length(); len && !parser.is_done()) {
                if (*len > opt.body_limit)
                    throw error(error_kind::body_too_large, "http " + req.to.origin() + ": body of " + std::to_string(*len) +
                                                                " bytes exceeds the limit of " + std::to_string(opt.body_limit));
                res.body.reserve(static_cast<std::size_t>(*len));
            }
        }
        std::vector<char> chunk(to_sink ? stream_chunk : (64u << 10));
        while (!parser.is_done()) {
            parser.get().body().data = chunk.data();
            parser.get().body().size = chunk.size();
            lowest.expires_after(opt.timeout);
            auto [ec, n] = co_await bhttp::async_read(stream, c.buffer, parser, net::as_tuple(use_awaitable));
            if (ec == bhttp::error::need_buffer) ec = {};  // the chunk is full: drain it and go on
            if (ec) fail(ec, where, req.to);
            const std::size_t got = chunk.size() - parser.get().body().size;
            if (got == 0) continue;
            res.body_size += got;
            if (to_sink) {
                const std::span<const char> part(chunk.data(), got);
                co_await opt.body_sink(part);
            } else {
                if (res.body.size() + got > opt.body_limit)
                    throw error(error_kind::body_too_large, "http " + req.to.origin() + ": body exceeds the limit of " +
                                                                std::to_string(opt.body_limit));
                res.body.append(chunk.data(), got);
            }
        }
        keep_alive = parser.keep_alive();
        co_return res;
    }

    awaitable<response> send_once(const request& req, const request_options& opt, bool allow_pooled, bool& retry_fresh) {
        retry_fresh = false;
        std::unique_ptr<connection> c = allow_pooled ? take(req.to) : nullptr;
        if (!c) c = co_await connect(req.to, opt.timeout);
        phase where = phase::write;
        bool keep_alive = false;
        try {
            response res = co_await std::visit(
                [&](auto& s) { return exchange(s, *c, req, opt, where, keep_alive); }, c->stream);
            if (keep_alive) give_back(std::move(c));
            co_return res;
        } catch (const error& e) {
            // A pooled connection the server closed while idle fails on write or on the first
            // read with nothing received: the request was not processed, so send it again once.
            if (c->reused && e.kind() == error_kind::reset && (where == phase::write || where == phase::read_header)) {
                retry_fresh = true;
                co_return response{};
            }
            throw;
        }
    }
};

client::client(net::any_io_executor executor, client_options options)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(options))) {}

client::~client() = default;

awaitable<response> client::send(request req, request_options options) {
    auto self = impl_;  // the pool outlives this exchange even if the client handle goes away
    bool retry_fresh = false;
    response res = co_await self->send_once(req, options, true, retry_fresh);
    if (retry_fresh) res = co_await self->send_once(req, options, false, retry_fresh);
    co_return res;
}

std::size_t client::idle_connections() const {
    std::lock_guard lock(impl_->mutex);
    std::size_t n = 0;
    for (const auto& [k, v] : impl_->idle) n += v.size();
    return n;
}

}  // namespace wharf::http
