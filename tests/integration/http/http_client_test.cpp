// The HTTP client against scripted loopback servers (keep-alive, deadlines, limits, truncation,
// stale pooled connections, bodies from file regions, bodies streamed in and out in bounded
// chunks) and a real TLS server (openssl s_server) for certificate verification.
#include "wharf/http/client.hpp"
#include "wharf/test/process.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <functional>
#include <thread>

namespace net = boost::asio;
namespace http = wharf::http;
using namespace std::chrono_literals;

namespace {

// A streamed request body served from memory; records the chunks asked for.
net::awaitable<void> read_from(const std::string& data, std::vector<std::pair<std::uint64_t, std::size_t>>& reads,
                               std::uint64_t offset, std::span<char> buffer) {
    reads.emplace_back(offset, buffer.size());
    std::memcpy(buffer.data(), data.data() + offset, buffer.size());
    co_return;
}

// A response body sink that collects the chunks (and throws once `fail_after` bytes arrived).
struct collected {
    std::string bytes;
    std::size_t chunks = 0, largest = 0;
    std::size_t fail_after = SIZE_MAX;
};
net::awaitable<void> collect(collected& c, std::span<const char> chunk) {
    c.bytes.append(chunk.data(), chunk.size());
    ++c.chunks;
    c.largest = std::max(c.largest, chunk.size());
    if (c.bytes.size() >= c.fail_after) throw std::runtime_error("the sink gave up");
    co_return;
}

template <class T>
T run(net::io_context& io, net::awaitable<T> op) {
    auto f = net::co_spawn(io, std::move(op), net::use_future);
    io.restart();
    io.run();
    return f.get();
}

// A blocking loopback server: each accepted connection is handed to `handler` on its own thread.
class scripted_server {
public:
    using handler_fn = std::function<void(int fd)>;
    explicit scripted_server(handler_fn handler) : handler_(std::move(handler)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        ::listen(fd_, 16);
        acceptor_ = std::thread([this] {
            for (;;) {
                int c = ::accept(fd_, nullptr, nullptr);
                if (c < 0) return;
                ++accepted;
                workers_.emplace_back([this, c] {
                    handler_(c);
                    ::close(c);
                });
            }
        });
    }
    ~scripted_server() {
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        acceptor_.join();
        for (auto& w : workers_) w.join();
    }
    http::endpoint endpoint() const { return http::parse_endpoint("http://127.0.0.1:" + std::to_string(port_)); }
    std::atomic<int> accepted{0};

private:
    handler_fn handler_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread acceptor_;
    std::vector<std::thread> workers_;
};

// Reads one request head and its Content-Length body; false when the peer closed.
bool read_request(int fd, std::string& body) {
    std::string data;
    char buf[65536];
    std::size_t head_end = std::string::npos;
    while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return false;
        data.append(buf, static_cast<std::size_t>(n));
    }
    std::size_t length = 0;
    std::string lower = data.substr(0, head_end);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto p = lower.find("content-length:"); p != std::string::npos) length = std::stoull(lower.substr(p + 15));
    body = data.substr(head_end + 4);
    while (body.size() < length) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return false;
        body.append(buf, static_cast<std::size_t>(n));
    }
    return true;
}

void send_all(int fd, const std::string& s) {
    std::size_t done = 0;
    while (done < s.size()) {
        ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

std::string ok(const std::string& body) {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

http::request get(const scripted_server& s, std::string target = "/") {
    http::request r;
    r.to = s.endpoint();
    r.target = std::move(target);
    return r;
}

}  // namespace

TEST(http_client, keep_alive_reuses_one_connection) {
    scripted_server server([](int fd) {
        std::string body;
        while (read_request(fd, body)) send_all(fd, ok("hello"));
    });
    net::io_context io;
    http::client client(io.get_executor());
    for (int i = 0; i < 5; ++i) {
        auto res = run(io, client.send(get(server)));
        EXPECT_EQ(res.status, 200u);
        EXPECT_EQ(res.body, "hello");
    }
    EXPECT_EQ(server.accepted.load(), 1);
    EXPECT_EQ(client.idle_connections(), 1u);
}

TEST(http_client, request_bodies_from_memory_a_file_region_and_a_streamed_source_arrive_intact) {
    std::vector<std::string> received;
    std::mutex m;
    scripted_server server([&](int fd) {
        std::string body;
        while (read_request(fd, body)) {
            {
                std::lock_guard lock(m);
                received.push_back(body);
            }
            send_all(fd, ok(""));
        }
    });
    wharf::test::temp_dir dir;
    std::string file_data(3 << 20, '\0');
    for (std::size_t i = 0; i < file_data.size(); ++i) file_data[i] = static_cast<char>(i * 7 + i / 1000);
    std::ofstream(dir.path() / "f.bin", std::ios::binary) << file_data;
    const std::string streamed = file_data.substr(0, (2u << 20) + 1000);
    net::io_context io;
    http::client client(io.get_executor());
    const std::string mem = "in memory body";
    auto r1 = get(server);
    r1.method = http::verb::put;
    r1.body = std::span<const char>(mem.data(), mem.size());
    EXPECT_EQ(run(io, client.send(r1)).status, 200u);
    auto r2 = get(server);
    r2.method = http::verb::put;
    r2.body_file = http::file_region{dir.path() / "f.bin", 1000, 2u << 20};
    EXPECT_EQ(run(io, client.send(r2)).status, 200u);
    std::vector<std::pair<std::uint64_t, std::size_t>> reads;
    auto r3 = get(server);
    r3.method = http::verb::put;
    r3.streamed_body = http::body_source{streamed.size(), [&](std::uint64_t offset, std::span<char> buffer) {
                                             return read_from(streamed, reads, offset, buffer);
                                         }};
    EXPECT_EQ(run(io, client.send(r3)).status, 200u);
    ASSERT_EQ(received.size(), 3u);
    EXPECT_EQ(received[0], mem);
    EXPECT_TRUE(received[1] == file_data.substr(1000, 2u << 20));
    EXPECT_TRUE(received[2] == streamed);
    // Streamed in order, in chunks of at most 1 MiB: the caller's memory per request stays bounded.
    const std::vector<std::pair<std::uint64_t, std::size_t>> expected{{0, 1u << 20}, {1u << 20, 1u << 20}, {2u << 20, 1000}};
    EXPECT_EQ(reads, expected);
}

// sendfile() raises SIGPIPE on a connection the peer has closed (it has no MSG_NOSIGNAL); the
// process must get an error, not die. The server reads a little of a 64 MiB body and closes with
// the rest unread, so the connection is reset under the client's sendfile.
TEST(http_client, a_peer_that_closes_during_a_file_body_is_an_error_not_a_sigpipe) {
    scripted_server server([](int fd) {
        char head[4096];
        (void)::recv(fd, head, sizeof head, 0);
    });
    wharf::test::temp_dir dir;
    {
        std::ofstream out(dir.path() / "big.bin", std::ios::binary);
        const std::string block(1 << 20, 'b');
        for (int i = 0; i < 64; ++i) out << block;
    }
    net::io_context io;
    http::client client(io.get_executor());
    for (int attempt = 0; attempt < 3; ++attempt) {
        auto r = get(server);
        r.method = http::verb::put;
        r.body_file = http::file_region{dir.path() / "big.bin", 0, 64u << 20};
        try {
            run(io, client.send(r));
            ADD_FAILURE() << "a reset connection did not fail the request";
        } catch (const http::error& e) {
            EXPECT_TRUE(e.transient()) << e.what();
        }
    }
}

TEST(http_client, a_silent_server_times_out_within_the_deadline) {
    scripted_server server([](int fd) {
        std::string body;
        read_request(fd, body);
        std::this_thread::sleep_for(1500ms);  // never answers in time
    });
    net::io_context io;
    http::client client(io.get_executor());
    http::request_options o;
    o.timeout = 200ms;
    const auto start = std::chrono::steady_clock::now();
    try {
        run(io, client.send(get(server), o));
        FAIL() << "expected a timeout";
    } catch (const http::error& e) {
        EXPECT_EQ(e.kind(), http::error_kind::timeout) << e.what();
        EXPECT_TRUE(e.transient());
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1000ms);
}

TEST(http_client, bodies_over_the_limit_are_refused) {
    scripted_server server([](int fd) {
        std::string body;
        while (read_request(fd, body)) send_all(fd, ok(std::string(1000, 'x')));
    });
    net::io_context io;
    http::client client(io.get_executor());
    http::request_options o;
    o.body_limit = 100;
    try {
        run(io, client.send(get(server), o));
        FAIL() << "expected body_too_large";
    } catch (const http::error& e) {
        EXPECT_EQ(e.kind(), http::error_kind::body_too_large);
        EXPECT_FALSE(e.transient());
    }
}

TEST(http_client, a_body_cut_short_is_truncated_not_success) {
    scripted_server server([](int fd) {
        std::string body;
        read_request(fd, body);
        send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this");
    });
    net::io_context io;
    http::client client(io.get_executor());
    try {
        run(io, client.send(get(server)));
        FAIL() << "expected truncated";
    } catch (const http::error& e) {
        EXPECT_EQ(e.kind(), http::error_kind::truncated) << e.what();
    }
}

TEST(http_client, connection_refused_is_reported_as_refused) {
    net::io_context io;
    http::client client(io.get_executor());
    http::request r;
    r.to = http::parse_endpoint("http://127.0.0.1:" + std::to_string(wharf::test::free_port()));
    try {
        run(io, client.send(r));
        FAIL() << "expected refused";
    } catch (const http::error& e) {
        EXPECT_EQ(e.kind(), http::error_kind::refused) << e.what();
    }
}

TEST(http_client, a_pooled_connection_closed_by_the_server_is_replaced_transparently) {
    scripted_server server([](int fd) {
        std::string body;
        if (read_request(fd, body)) send_all(fd, ok("once"));  // then closes, although keep-alive
    });
    net::io_context io;
    http::client client(io.get_executor());
    EXPECT_EQ(run(io, client.send(get(server))).body, "once");
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(run(io, client.send(get(server))).body, "once");
    EXPECT_EQ(server.accepted.load(), 2);
}

TEST(http_client, a_2xx_body_streams_to_the_sink_in_bounded_chunks_and_an_error_body_stays_in_memory) {
    std::string payload(5 << 20, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 13 + i / 4096);
    scripted_server server([&](int fd) {
        std::string body;
        while (read_request(fd, body)) {
            if (body == "fail")
                send_all(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 7\r\n\r\n<Error>");
            else
                send_all(fd, ok(payload));
        }
    });
    net::io_context io;
    http::client client(io.get_executor());
    collected got;
    http::request_options o;
    o.body_sink = [&](std::span<const char> chunk) { return collect(got, chunk); };
    auto res = run(io, client.send(get(server), o));
    EXPECT_EQ(res.status, 200u);
    EXPECT_TRUE(res.body.empty());
    EXPECT_EQ(res.body_size, payload.size());
    EXPECT_TRUE(got.bytes == payload);
    EXPECT_LE(got.largest, 1u << 20);
    EXPECT_GE(got.chunks, 5u);
    const std::string fail = "fail";
    auto r = get(server);
    r.method = http::verb::post;
    r.body = std::span<const char>(fail.data(), fail.size());
    const auto before = got.chunks;
    auto err = run(io, client.send(r, o));
    EXPECT_EQ(err.status, 404u);
    EXPECT_EQ(err.body, "<Error>");
    EXPECT_EQ(got.chunks, before) << "an error body never reaches the sink";
}

TEST(http_client, what_the_sink_throws_ends_the_exchange_and_the_connection_is_not_reused) {
    const std::string payload(3 << 20, 'q');
    scripted_server server([&](int fd) {
        std::string body;
        while (read_request(fd, body)) send_all(fd, ok(payload));
    });
    net::io_context io;
    http::client client(io.get_executor());
    collected got;
    got.fail_after = 1;
    http::request_options o;
    o.body_sink = [&](std::span<const char> chunk) { return collect(got, chunk); };
    EXPECT_THROW(run(io, client.send(get(server), o)), std::runtime_error);
    EXPECT_EQ(client.idle_connections(), 0u) << "a connection with unread body bytes must not go back to the pool";
    EXPECT_EQ(run(io, client.send(get(server))).body, payload);
    EXPECT_EQ(server.accepted.load(), 2);
}

TEST(http_client_tls, certificates_are_verified_against_the_configured_ca) {
    wharf::test::temp_dir dir;
    const auto key = (dir.path() / "key.pem").string(), cert = (dir.path() / "cert.pem").string();
    auto gen = wharf::test::run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                                 "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"});
    ASSERT_EQ(gen.status, 0) << gen.output;
    const auto port = wharf::test::free_port();
    wharf::test::process server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-key", key,
                                 "-cert", cert, "-www", "-quiet"});
    wharf::test::wait_for_port(port);
    net::io_context io;
    http::request r;
    r.to = http::parse_endpoint("https://localhost:" + std::to_string(port));
    {
        http::client trusting(io.get_executor(), http::client_options{.ca_file = cert});
        auto res = run(io, trusting.send(r));
        EXPECT_EQ(res.status, 200u);
    }
    {
        http::client strict(io.get_executor());  // system CAs only: the self-signed cert is refused
        try {
            run(io, strict.send(r));
            FAIL() << "an untrusted certificate was accepted";
        } catch (const http::error& e) {
            EXPECT_EQ(e.kind(), http::error_kind::tls) << e.what();
        }
    }
}
