// The fault-injecting proxy (see fault_proxy.hpp). A byte-level HTTP/1.1 relay: it parses just
// enough (request/response heads, Content-Length, chunked responses) to count requests and to
// cut bodies where a fault says, and forwards everything else untouched.
#include "wharf/test/fault_proxy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

namespace wharf::test {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::string s3_error(const char* code, const char* message) {
    return std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>") + code + "</Code><Message>" + message +
           "</Message><RequestId>fault-proxy</RequestId></Error>";
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

struct head_info {
    std::string first_line;
    std::optional<std::uint64_t> content_length;
    bool chunked = false;
    bool close = false;
};

head_info parse_head(const std::string& head) {
    head_info h;
    std::size_t pos = head.find("\r\n");
    h.first_line = head.substr(0, pos);
    while (pos != std::string::npos && pos + 2 < head.size()) {
        const std::size_t next = head.find("\r\n", pos + 2);
        const std::string line = head.substr(pos + 2, next - pos - 2);
        pos = next;
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        const std::string name = lower(line.substr(0, colon));
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        if (name == "content-length") h.content_length = std::stoull(value);
        if (name == "transfer-encoding" && lower(value).find("chunked") != std::string::npos) h.chunked = true;
        if (name == "connection" && lower(value).find("close") != std::string::npos) h.close = true;
    }
    return h;
}

// Moves exactly n bytes from `from` (buffered bytes first) to `to`; the byte at `flip` (counted
// from the start of these n) goes out inverted, when given.
asio::awaitable<void> relay(tcp::socket& from, std::string& buf, tcp::socket& to, std::uint64_t n,
                            std::optional<std::uint64_t> flip = std::nullopt) {
    std::uint64_t at = 0;  // bytes relayed so far
    const auto damage = [&](char* data, std::size_t len) {
        if (flip && *flip >= at && *flip < at + len) data[*flip - at] = static_cast<char>(~data[*flip - at]);
        at += len;
    };
    const std::uint64_t have = std::min<std::uint64_t>(n, buf.size());
    if (have > 0) {
        damage(buf.data(), have);
        co_await asio::async_write(to, asio::buffer(buf.data(), have), asio::use_awaitable);
        buf.erase(0, have);
        n -= have;
    }
    std::vector<char> chunk(64 * 1024);
    while (n > 0) {
        const std::size_t got = co_await from.async_read_some(
            asio::buffer(chunk.data(), std::min<std::uint64_t>(chunk.size(), n)), asio::use_awaitable);
        damage(chunk.data(), got);
        co_await asio::async_write(to, asio::buffer(chunk.data(), got), asio::use_awaitable);
        n -= got;
    }
}

asio::awaitable<void> relay_chunked(tcp::socket& from, std::string& buf, tcp::socket& to) {
    for (;;) {
        const std::size_t line_len = co_await asio::async_read_until(from, asio::dynamic_buffer(buf), "\r\n", asio::use_awaitable);
        const std::uint64_t size = std::stoull(buf.substr(0, line_len), nullptr, 16);
        co_await relay(from, buf, to, line_len);
        if (size == 0) {
            // Trailers, then the empty line.
            for (;;) {
                const std::size_t n = co_await asio::async_read_until(from, asio::dynamic_buffer(buf), "\r\n", asio::use_awaitable);
                co_await relay(from, buf, to, n);
                if (n == 2) co_return;
            }
        }
        co_await relay(from, buf, to, size + 2);
    }
}

void hard_close(tcp::socket& s) {
    boost::system::error_code ignored;
    s.set_option(asio::socket_base::linger(true, 0), ignored);  // RST, not FIN
    s.close(ignored);
}

}  // namespace

fault fault::slow_down() { return fault{kind::status, 503, s3_error("SlowDown", "Please reduce your request rate."), {}}; }
fault fault::internal_error() {
    return fault{kind::status, 500, s3_error("InternalError", "We encountered an internal error. Please try again."), {}};
}
fault fault::reset() { return fault{kind::reset_mid_body, 0, {}, {}}; }
fault fault::stall_for(std::chrono::milliseconds d) { return fault{kind::stall, 0, {}, d}; }
fault fault::truncate() { return fault{kind::truncate_response, 0, {}, {}}; }
fault fault::flip_byte(std::uint64_t offset) {
    fault f{kind::flip_byte, 0, {}, {}, {}};
    f.offset = offset;
    return f;
}
fault fault::add_response_header(std::string name, std::string value) {
    fault f{kind::add_header, 0, {}, {}, {}};
    f.header = {std::move(name), std::move(value)};
    return f;
}

struct fault_proxy::impl : std::enable_shared_from_this<impl> {
    asio::io_context io;
    tcp::acceptor acceptor{io};
    std::uint16_t upstream_port = 0;
    std::mutex mutex;
    fault_rule rule;
    std::atomic<std::uint64_t> requests{0}, faults{0};
    std::thread thread;

    fault decide(const request_info& info) {
        std::lock_guard lock(mutex);
        return rule ? rule(info) : fault{};
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;  // closed: the proxy is shutting down
            asio::co_spawn(io, session(std::move(socket)), asio::detached);
        }
    }

    asio::awaitable<void> session(tcp::socket client) {
        tcp::socket upstream(io);
        try {
            co_await serve(client, upstream);
        } catch (const boost::system::system_error&) {
            // A peer closed or reset: the connection ends here, which is all a proxy can do.
        }
        boost::system::error_code ignored;
        client.close(ignored);
        upstream.close(ignored);
    }

    asio::awaitable<void> serve(tcp::socket& client, tcp::socket& upstream) {
        std::string cbuf, ubuf;
        for (;;) {
            const std::size_t head_len =
                co_await asio::async_read_until(client, asio::dynamic_buffer(cbuf), "\r\n\r\n", asio::use_awaitable);
            const std::string head = cbuf.substr(0, head_len);
            cbuf.erase(0, head_len);
            const head_info req = parse_head(head);
            if (req.chunked) co_return;  // chunked request bodies: not needed by the clients under test
            request_info info;
            info.number = ++requests;
            {
                const auto sp1 = req.first_line.find(' ');
                const auto sp2 = req.first_line.find(' ', sp1 + 1);
                info.method = req.first_line.substr(0, sp1);
                info.target = req.first_line.substr(sp1 + 1, sp2 - sp1 - 1);
            }
            info.content_length = req.content_length.value_or(0);
            info.head = head;
            const fault f = decide(info);
            if (f.what != fault::kind::none) ++faults;

            if (f.what == fault::kind::status) {
                co_await drain(client, cbuf, info.content_length);
                const std::string response = "HTTP/1.1 " + std::to_string(f.status) + " Injected\r\nContent-Type: application/xml\r\n"
                                             "Content-Length: " + std::to_string(f.body.size()) + "\r\n\r\n" + f.body;
                co_await asio::async_write(client, asio::buffer(response), asio::use_awaitable);
                continue;
            }
            if (f.what == fault::kind::stall) {
                asio::steady_timer t(io, f.stall);
                co_await t.async_wait(asio::use_awaitable);
            }
            if (!upstream.is_open())
                co_await upstream.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), upstream_port),
                                                asio::use_awaitable);
            co_await asio::async_write(upstream, asio::buffer(head), asio::use_awaitable);
            if (f.what == fault::kind::reset_mid_body) {
                co_await relay(client, cbuf, upstream, info.content_length / 2);
                hard_close(client);
                hard_close(upstream);
                co_return;
            }
            std::optional<std::uint64_t> flip;
            if (f.what == fault::kind::flip_byte) flip = f.offset;
            co_await relay(client, cbuf, upstream, info.content_length, flip);

            // The response; interim 1xx answers are passed on as they come.
            head_info resp;
            std::string rhead;
            for (;;) {
                const std::size_t n =
                    co_await asio::async_read_until(upstream, asio::dynamic_buffer(ubuf), "\r\n\r\n", asio::use_awaitable);
                rhead = ubuf.substr(0, n);
                ubuf.erase(0, n);
                resp = parse_head(rhead);
                if (!resp.first_line.starts_with("HTTP/1.1 1") && !resp.first_line.starts_with("HTTP/1.0 1")) break;
                co_await asio::async_write(client, asio::buffer(rhead), asio::use_awaitable);
            }
            const int status = std::stoi(resp.first_line.substr(resp.first_line.find(' ') + 1, 3));
            const bool no_body = info.method == "HEAD" || status == 204 || status == 304;
            if (f.what == fault::kind::add_header)  // before the blank line that ends the head
                rhead.insert(rhead.size() - 2, f.header.first + ": " + f.header.second + "\r\n");
            co_await asio::async_write(client, asio::buffer(rhead), asio::use_awaitable);

            if (f.what == fault::kind::truncate_response) {
                if (!no_body && resp.content_length) co_await relay(upstream, ubuf, client, *resp.content_length / 2);
                co_return;  // closes both: the client sees the body end early
            }
            if (no_body) {
            } else if (resp.chunked) {
                co_await relay_chunked(upstream, ubuf, client);
            } else if (resp.content_length) {
                co_await relay(upstream, ubuf, client, *resp.content_length);
            } else {
                // Body delimited by the upstream closing: relay until EOF, then close.
                co_await relay_until_eof(upstream, ubuf, client);
                co_return;
            }
            if (resp.close || req.close) co_return;
        }
    }

    static asio::awaitable<void> drain(tcp::socket& from, std::string& buf, std::uint64_t n) {
        const std::uint64_t have = std::min<std::uint64_t>(n, buf.size());
        buf.erase(0, have);
        n -= have;
        std::vector<char> chunk(64 * 1024);
        while (n > 0)
            n -= co_await from.async_read_some(asio::buffer(chunk.data(), std::min<std::uint64_t>(chunk.size(), n)),
                                               asio::use_awaitable);
    }

    static asio::awaitable<void> relay_until_eof(tcp::socket& from, std::string& buf, tcp::socket& to) {
        if (!buf.empty()) co_await asio::async_write(to, asio::buffer(buf), asio::use_awaitable);
        buf.clear();
        std::vector<char> chunk(64 * 1024);
        for (;;) {
            auto [ec, n] = co_await from.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
            if (n > 0) co_await asio::async_write(to, asio::buffer(chunk.data(), n), asio::use_awaitable);
            if (ec) co_return;  // EOF ends the body by definition here
        }
    }
};

fault_proxy::fault_proxy(std::uint16_t upstream_port) : impl_(std::make_shared<impl>()) {
    impl_->upstream_port = upstream_port;
    const tcp::endpoint ep(asio::ip::address_v4::loopback(), 0);
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
    port_ = impl_->acceptor.local_endpoint().port();
    asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
    impl_->thread = std::thread([i = impl_.get()] { i->io.run(); });
}

fault_proxy::~fault_proxy() {
    impl_->io.stop();
    impl_->thread.join();
}

void fault_proxy::set_rule(fault_rule rule) {
    std::lock_guard lock(impl_->mutex);
    impl_->rule = std::move(rule);
}

void fault_proxy::fail_requests(std::set<std::uint64_t> numbers, fault f, std::function<bool(const request_info&)> only) {
    set_rule([numbers = std::move(numbers), f = std::move(f), only = std::move(only), seen = std::uint64_t{0}](
                 const request_info& info) mutable {
        if (only && !only(info)) return fault{};
        return numbers.contains(++seen) ? f : fault{};
    });
}

void fault_proxy::fail_randomly(double p, fault f, std::uint64_t seed, std::function<bool(const request_info&)> only) {
    set_rule([p, f = std::move(f), only = std::move(only), rng = std::mt19937_64(seed)](const request_info& info) mutable {
        if (only && !only(info)) return fault{};
        return std::uniform_real_distribution<double>(0, 1)(rng) < p ? f : fault{};
    });
}

std::uint64_t fault_proxy::requests() const noexcept { return impl_->requests; }
std::uint64_t fault_proxy::faults_injected() const noexcept { return impl_->faults; }

}  // namespace wharf::test
