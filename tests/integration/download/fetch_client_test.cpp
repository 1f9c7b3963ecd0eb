// The fetch client against a real nginx on loopback: the egress policy on the address each socket
// connects to (numeric spellings, names, IPv4-mapped IPv6, redirects), redirects and schemes,
// status classes, the size cap with and without Content-Length and on decoded bytes, the
// content-type list, the stall limit, cancellation, Range/If-Range, TLS verification and HTTP/2,
// and environment proxies ignored. Every address here is loopback: refusals of other classes are
// proved by the classifier's unit tests, never with traffic.
#include "wharf/fetch/client.hpp"
#include "wharf/storage/sha256.hpp"
#include "wharf/test/nginx_server.hpp"
#include "wharf/test/pg_env.hpp"
#include "wharf/test/storage_data.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace asio = boost::asio;
namespace fetch = wharf::fetch;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

// The body in memory, and what the client told the sink.
struct memory_sink : fetch::sink {
    std::optional<fetch::response_head> head;
    std::string body;
    std::uint64_t start_at = 0;
    bool finished = false;
    std::optional<std::uint64_t> begin(const fetch::response_head& h) override {
        head = h;
        if (h.status == 416) return std::nullopt;
        return start_at;
    }
    void write(std::span<const char> bytes) override { body.append(bytes.data(), bytes.size()); }
    void finish() override { finished = true; }
};

const char* servers = R"(
server {
  listen 127.0.0.1:@PORT0@;
  root @ROOT@;
  location /slow/ { limit_rate 256k; }
  location /crawl/ { limit_rate 100; }
  location /gz/ { gzip on; gzip_types application/octet-stream; gzip_min_length 0; }
  location /ssi/ { ssi on; ssi_types text/plain; }
  location = /redirect/other-port { return 302 http://127.0.0.1:@PORT1@/small.bin; }
  location = /redirect/octal { return 302 http://0177.0.0.1:@PORT1@/small.bin; }
  location = /redirect/decimal { return 302 http://2130706433:@PORT1@/small.bin; }
  location = /redirect/ftp { return 302 ftp://127.0.0.1:@PORT1@/small.bin; }
  location = /redirect/same { return 302 /small.bin; }
  location /loop/ { rewrite ^/loop/(.*)$ /loop/x$1 redirect; }
  location = /status/403 { return 403; }
  location = /status/404 { return 404; }
  location = /status/429 { return 429; }
  location = /status/503 { return 503; }
}
server { listen 127.0.0.1:@PORT1@; root @ROOT@; }
server {
  listen 127.0.0.1:@PORT2@ ssl http2;
  ssl_certificate @DIR@/server.crt;
  ssl_certificate_key @DIR@/server.key;
  root @ROOT@;
}
)";

class fetch_client : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server = new wharf::test::nginx_server({.servers = servers, .ports = 3, .tls = true});
        const auto& root = server->root();
        small = wharf::test::random_bytes(MiB + 17, 1);
        wharf::test::spill(root / "small.bin", small);
        wharf::test::spill(root / "big.bin", wharf::test::random_bytes(2 * MiB, 2));
        wharf::test::spill(root / "clip.mp4", wharf::test::random_bytes(64 * 1024, 3));
        std::filesystem::create_directories(root / "slow");
        wharf::test::spill(root / "slow/clip.bin", wharf::test::random_bytes(4 * MiB, 4));
        std::filesystem::create_directories(root / "crawl");
        wharf::test::spill(root / "crawl/clip.bin", wharf::test::random_bytes(64 * 1024, 5));
        std::filesystem::create_directories(root / "gz");
        wharf::test::spill(root / "gz/zeros.bin", std::string(4 * MiB, '\0'));
        wharf::test::spill(root / "gz/text.bin", std::string(300 * 1024, 'w'));
        std::filesystem::create_directories(root / "ssi");
        wharf::test::spill(root / "ssi/big.txt", std::string(2 * MiB, 'a'));
        wharf::test::spill(root / "ssi/small.txt", std::string(1000, 'b'));
    }
    static void TearDownTestSuite() {
        delete server;
        server = nullptr;
    }

    static fetch::client allowing_port0() {
        auto rules = fetch::parse_allow_list("127.0.0.1/32:" + std::to_string(server->port(0)) + ",127.0.0.1/32:" +
                                             std::to_string(server->port(2)));
        return fetch::client(fetch::egress_policy(std::move(*rules)));
    }

    static fetch::limits limits() {
        fetch::limits lim;
        lim.stall_window = 1s;
        lim.max_bytes = 64 * MiB;
        return lim;
    }

    // One GET to completion; rethrows what fetch() threw.
    fetch::fetch_result get(const fetch::client& c, const std::string& url, memory_sink& out,
                            fetch::limits lim = limits(), std::optional<fetch::range_request> range = std::nullopt,
                            std::optional<std::filesystem::path> ca = std::nullopt) {
        auto checked = fetch::check_url(url);
        if (!checked) throw std::runtime_error("bad test URL " + url + ": " + checked.error().message);
        fetch::request r{.url = *checked, .range = std::move(range), .ca_file = std::move(ca)};
        return wharf::test::run_coro(io, c.fetch(std::move(r), std::move(lim), out));
    }

    // The fetch error a GET ends with (a test failure when it succeeds).
    fetch::error failure(const fetch::client& c, const std::string& url, memory_sink& out, fetch::limits lim = limits()) {
        try {
            get(c, url, out, std::move(lim));
        } catch (const fetch::error& e) {
            return e;
        }
        ADD_FAILURE() << url << " did not fail";
        return fetch::error(fetch::errc::local, "no failure");
    }

    static std::size_t requests_on(std::uint16_t port) {
        std::istringstream log(server->access_log());
        std::size_t n = 0;
        for (std::string line; std::getline(log, line);)
            if (line.starts_with(std::to_string(port) + " ")) ++n;
        return n;
    }

    static wharf::test::nginx_server* server;
    static std::string small;
    asio::io_context io;
};

wharf::test::nginx_server* fetch_client::server = nullptr;
std::string fetch_client::small;

TEST_F(fetch_client, allow_listed_server_serves_the_exact_bytes) {
    memory_sink out;
    const auto r = get(allowing_port0(), server->url("/small.bin"), out);
    EXPECT_EQ(r.head.status, 200);
    EXPECT_EQ(r.head.http_version, 1);
    EXPECT_EQ(r.head.content_type, "application/octet-stream");
    EXPECT_EQ(r.head.content_length, small.size());
    EXPECT_TRUE(r.head.etag.has_value());
    EXPECT_EQ(r.body_bytes, small.size());
    EXPECT_EQ(wharf::storage::sha256_hex(out.body), wharf::storage::sha256_hex(small));
    EXPECT_TRUE(out.finished);
}

TEST_F(fetch_client, every_loopback_spelling_on_a_port_not_allowed_is_refused_before_connecting) {
    const auto p1 = std::to_string(server->port(1));
    const auto before = requests_on(server->port(1));
    for (const std::string host : {"127.0.0.1", "localhost", "0177.0.0.1", "2130706433", "0x7f.1", "0x7f000001", "127.1",
                                   "[::ffff:127.0.0.1]", "[::1]", "127.0.0.2"}) {
        SCOPED_TRACE(host);
        memory_sink out;
        const auto e = failure(allowing_port0(), "http://" + host + ":" + p1 + "/small.bin", out);
        EXPECT_EQ(e.code(), fetch::errc::egress_refused) << e.what();
        EXPECT_FALSE(e.retryable());
        EXPECT_NE(std::string(e.what()).find("loopback"), std::string::npos) << e.what();
        EXPECT_FALSE(out.head.has_value());
    }
    EXPECT_EQ(requests_on(server->port(1)), before) << server->access_log();
}

TEST_F(fetch_client, the_ipv4_mapped_form_of_an_allowed_address_is_that_address) {
    memory_sink out;
    const auto r = get(allowing_port0(), "http://[::ffff:127.0.0.1]:" + std::to_string(server->port(0)) + "/small.bin", out);
    EXPECT_EQ(r.body_bytes, small.size());
}

TEST_F(fetch_client, default_deny_refuses_the_test_server) {
    const fetch::client deny{fetch::egress_policy{}};
    for (const auto& url : {server->url("/small.bin"), "http://localhost:" + std::to_string(server->port(0)) + "/small.bin"}) {
        memory_sink out;
        const auto e = failure(deny, url, out);
        EXPECT_EQ(e.code(), fetch::errc::egress_refused) << e.what();
        EXPECT_NE(std::string(e.what()).find("loopback"), std::string::npos) << e.what();
    }
}

TEST_F(fetch_client, redirects_to_a_refused_address_are_refused) {
    const auto before = requests_on(server->port(1));
    for (const auto* path : {"/redirect/other-port", "/redirect/octal", "/redirect/decimal"}) {
        SCOPED_TRACE(path);
        memory_sink out;
        const auto e = failure(allowing_port0(), server->url(path), out);
        EXPECT_EQ(e.code(), fetch::errc::egress_refused) << e.what();
        EXPECT_FALSE(out.head.has_value());
    }
    EXPECT_EQ(requests_on(server->port(1)), before) << server->access_log();
}

TEST_F(fetch_client, redirects_are_followed_on_http_only_and_at_most_five_times) {
    memory_sink same;
    const auto r = get(allowing_port0(), server->url("/redirect/same"), same);
    EXPECT_EQ(r.body_bytes, small.size());
    EXPECT_TRUE(r.final_url.ends_with("/small.bin")) << r.final_url;

    memory_sink ftp;
    const auto e = failure(allowing_port0(), server->url("/redirect/ftp"), ftp);
    EXPECT_EQ(e.code(), fetch::errc::protocol_refused) << e.what();
    EXPECT_FALSE(e.retryable());

    memory_sink loop;
    const auto e2 = failure(allowing_port0(), server->url("/loop/a"), loop);
    EXPECT_EQ(e2.code(), fetch::errc::too_many_redirects) << e2.what();
    EXPECT_FALSE(e2.retryable());
    const auto log = server->access_log_with("/loop/xxxxxa ");
    EXPECT_NE(log.find("/loop/xxxxxa "), std::string::npos);  // the 5th redirect was followed...
    EXPECT_EQ(log.find("/loop/xxxxxxa "), std::string::npos);  // ...the 6th was not
}

// (408 is in the unit tests: nginx answers `return 408` by closing the connection.)
TEST_F(fetch_client, four_hundreds_are_permanent_but_429_and_five_hundreds_are_retried) {
    const std::pair<int, bool> cases[] = {{403, false}, {404, false}, {429, true}, {503, true}};
    for (const auto& [status, retryable] : cases) {
        SCOPED_TRACE(status);
        memory_sink out;
        const auto e = failure(allowing_port0(), server->url("/status/" + std::to_string(status)), out);
        EXPECT_EQ(e.code(), fetch::errc::http_status) << e.what();
        EXPECT_EQ(e.status(), status);
        EXPECT_EQ(e.retryable(), retryable);
        EXPECT_FALSE(out.head.has_value());  // no error page reaches the sink
        EXPECT_TRUE(out.body.empty());
    }
}

TEST_F(fetch_client, a_content_length_over_the_cap_fails_before_the_body) {
    auto lim = limits();
    lim.max_bytes = MiB;
    memory_sink out;
    const auto e = failure(allowing_port0(), server->url("/big.bin"), out, lim);
    EXPECT_EQ(e.code(), fetch::errc::too_large) << e.what();
    EXPECT_FALSE(e.retryable());
    EXPECT_TRUE(out.body.empty());
}

TEST_F(fetch_client, a_body_without_content_length_stops_at_the_cap) {
    auto lim = limits();
    lim.max_bytes = MiB;
    memory_sink out;
    const auto e = failure(allowing_port0(), server->url("/ssi/big.txt"), out, lim);
    EXPECT_EQ(e.code(), fetch::errc::too_large) << e.what();
    ASSERT_TRUE(out.head.has_value());
    EXPECT_FALSE(out.head->content_length.has_value());  // SSI output: chunked
    EXPECT_LE(out.body.size(), MiB);
    EXPECT_FALSE(out.finished);

    memory_sink under;  // the same location under the cap
    const auto r = get(allowing_port0(), server->url("/ssi/small.txt"), under, lim);
    EXPECT_EQ(under.body, std::string(1000, 'b'));
    EXPECT_FALSE(r.head.content_length.has_value());
}

TEST_F(fetch_client, a_compressed_body_is_capped_on_its_decoded_bytes) {
    auto lim = limits();
    lim.max_bytes = MiB;
    memory_sink out;
    const auto e = failure(allowing_port0(), server->url("/gz/zeros.bin"), out, lim);
    EXPECT_EQ(e.code(), fetch::errc::too_large) << e.what();
    ASSERT_TRUE(out.head.has_value());
    EXPECT_EQ(out.head->content_encoding, "gzip");
    EXPECT_LE(out.body.size(), MiB);

    memory_sink text;  // under the cap: decoded on the way in
    const auto r = get(allowing_port0(), server->url("/gz/text.bin"), text, lim);
    EXPECT_EQ(r.head.content_encoding, "gzip");
    EXPECT_EQ(text.body, std::string(300 * 1024, 'w'));
}

TEST_F(fetch_client, a_content_type_outside_the_list_is_refused_before_the_body) {
    auto lim = limits();
    lim.content_types = {"video/*"};
    memory_sink video;
    EXPECT_EQ(get(allowing_port0(), server->url("/clip.mp4"), video, lim).head.content_type, "video/mp4");
    memory_sink bin;
    const auto e = failure(allowing_port0(), server->url("/small.bin"), bin, lim);
    EXPECT_EQ(e.code(), fetch::errc::content_type) << e.what();
    EXPECT_FALSE(e.retryable());
    EXPECT_TRUE(bin.body.empty());
}

TEST_F(fetch_client, a_stalled_transfer_is_aborted_and_retryable) {
    memory_sink out;  // 100 bytes/s against a limit of 1 KiB/s over 1 s
    const auto e = failure(allowing_port0(), server->url("/crawl/clip.bin"), out);
    EXPECT_EQ(e.code(), fetch::errc::stalled) << e.what();
    EXPECT_TRUE(e.retryable());
    EXPECT_LT(out.body.size(), 64u * 1024);
}

TEST_F(fetch_client, cancellation_ends_the_transfer_at_once) {
    // 4 MiB at 256 KiB/s would take 16 s; the cancel comes after 300 ms.
    memory_sink out;
    const auto c = allowing_port0();
    fetch::request r{.url = *fetch::check_url(server->url("/slow/clip.bin")), .range = std::nullopt, .ca_file = std::nullopt};
    asio::cancellation_signal cancel;
    auto done = asio::co_spawn(io, c.fetch(r, limits(), out), asio::bind_cancellation_slot(cancel.slot(), asio::use_future));
    io.run_for(300ms);  // (the body is the transfer thread's until the fetch completes)
    const auto cancelled_at = std::chrono::steady_clock::now();
    cancel.emit(asio::cancellation_type::terminal);
    while (done.wait_for(0s) != std::future_status::ready && std::chrono::steady_clock::now() - cancelled_at < 10s)
        io.run_one_for(20ms);
    ASSERT_EQ(done.wait_for(0s), std::future_status::ready);
    EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, 5s);  // not the 16 s of the whole file
    try {
        done.get();
        ADD_FAILURE() << "the cancelled transfer succeeded";
    } catch (const fetch::error& e) {
        EXPECT_EQ(e.code(), fetch::errc::cancelled) << e.what();
        EXPECT_TRUE(e.retryable());
    }
    EXPECT_FALSE(out.body.empty());  // it had begun
    EXPECT_LT(out.body.size(), 4 * MiB);
}

TEST_F(fetch_client, a_range_with_a_matching_validator_continues_and_a_changed_one_starts_over) {
    memory_sink first;
    const auto whole = get(allowing_port0(), server->url("/small.bin"), first);
    ASSERT_TRUE(whole.head.etag);
    const std::uint64_t from = 300'000;

    memory_sink rest;
    rest.start_at = from;
    const auto r = get(allowing_port0(), server->url("/small.bin"), rest, limits(), fetch::range_request{from, *whole.head.etag});
    EXPECT_EQ(r.head.status, 206);
    EXPECT_EQ(r.head.content_range, "bytes 300000-" + std::to_string(small.size() - 1) + "/" + std::to_string(small.size()));
    EXPECT_EQ(rest.body, small.substr(from));
    // nginx writes the ETag's quotes as \x22.
    auto etag = *whole.head.etag;
    for (auto at = etag.find('"'); at != std::string::npos; at = etag.find('"', at)) etag.replace(at, 1, "\\x22");
    const auto needle = "range=\"bytes=300000-\" if_range=\"" + etag + "\"";
    EXPECT_NE(server->access_log_with(needle).find(needle), std::string::npos)
        << server->access_log();

    memory_sink changed;
    const auto r2 = get(allowing_port0(), server->url("/small.bin"), changed, limits(), fetch::range_request{from, "\"other\""});
    EXPECT_EQ(r2.head.status, 200);
    EXPECT_EQ(changed.body, small);

    memory_sink complete;  // everything is there already: 416, and no body
    const auto r3 = get(allowing_port0(), server->url("/small.bin"), complete, limits(),
                        fetch::range_request{small.size(), *whole.head.etag});
    EXPECT_EQ(r3.head.status, 416);
    EXPECT_EQ(r3.head.content_range, "bytes */" + std::to_string(small.size()));
    EXPECT_TRUE(complete.body.empty());
    EXPECT_TRUE(complete.finished);
}

TEST_F(fetch_client, tls_is_verified_and_http2_is_used_where_offered) {
    const auto url = "https://127.0.0.1:" + std::to_string(server->port(2)) + "/small.bin";
    memory_sink unverified;
    try {
        get(allowing_port0(), url, unverified);
        ADD_FAILURE() << "a certificate from an unknown CA was accepted";
    } catch (const fetch::error& e) {
        EXPECT_EQ(e.code(), fetch::errc::tls_verify) << e.what();
        EXPECT_FALSE(e.retryable());
    }
    memory_sink trusted;
    const auto r = get(allowing_port0(), url, trusted, limits(), std::nullopt, server->ca_file());
    EXPECT_EQ(r.head.http_version, 2);
    EXPECT_EQ(trusted.body, small);
}

TEST_F(fetch_client, an_environment_proxy_is_not_used) {
    // A proxy on the port the policy refuses: were it used, the request would show up there.
    const auto proxy = "http://127.0.0.1:" + std::to_string(server->port(1));
    const auto before = requests_on(server->port(1));
    ::setenv("http_proxy", proxy.c_str(), 1);
    ::setenv("HTTP_PROXY", proxy.c_str(), 1);
    ::setenv("ALL_PROXY", proxy.c_str(), 1);
    memory_sink out;
    std::optional<fetch::fetch_result> r;
    std::string failed;
    try {
        r = get(allowing_port0(), server->url("/small.bin"), out);
    } catch (const std::exception& e) {
        failed = e.what();
    }
    ::unsetenv("http_proxy");
    ::unsetenv("HTTP_PROXY");
    ::unsetenv("ALL_PROXY");
    ASSERT_TRUE(r) << failed;
    EXPECT_EQ(out.body, small);
    EXPECT_EQ(requests_on(server->port(1)), before);
}

}  // namespace
