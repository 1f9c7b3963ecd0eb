// The Redis client against a real redis-server: pipelining, blocking reads, deadlines, restarts,
// AUTH, TLS and the script cache.
#include "wharf/redis/connection.hpp"
#include "wharf/test/redis_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <set>

namespace {

namespace asio = boost::asio;
namespace redis = wharf::redis;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
using redis::reply;
using steady = std::chrono::steady_clock;

redis::endpoint endpoint_of(const std::string& url) {
    std::string error;
    auto ep = redis::parse_url(url, &error);
    if (!ep) throw std::runtime_error(error);
    return *ep;
}

// Runs the io_context until `f` is ready (or throws after `limit`).
template <class T>
void settle(asio::io_context& io, std::future<T>& f, std::chrono::milliseconds limit = 60s) {
    const auto deadline = steady::now() + limit;
    while (f.wait_for(0s) != std::future_status::ready) {
        if (steady::now() > deadline) throw std::runtime_error("test coroutine did not finish in time");
        // With no socket open the context runs out of work and stops; new work needs a restart.
        if (io.stopped()) io.restart();
        io.run_one_for(20ms);
    }
}

template <class T>
T wait_for(asio::io_context& io, std::future<T>& f, std::chrono::seconds limit = 60s) {
    settle(io, f, limit);
    return f.get();
}

template <class T>
T run(asio::io_context& io, asio::awaitable<T> a, std::chrono::seconds limit = 60s) {
    auto f = asio::co_spawn(io, std::move(a), asio::use_future);
    return wait_for(io, f, limit);
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

// The error a call failed with (or nullopt if it succeeded).
template <class T>
std::optional<redis::error> error_of(std::future<T>& f) {
    try {
        (void)f.get();
    } catch (const redis::error& e) {
        return e;
    }
    return std::nullopt;
}

// Calls until one succeeds (a caller's retry loop: bounded, as the job runtime's are).
asio::awaitable<reply> exec_retrying(redis::connection& c, redis::command cmd) {
    for (int attempt = 0;; ++attempt) {
        try {
            co_return co_await c.exec(cmd);
        } catch (const redis::error& e) {
            if (!e.retryable() || attempt >= 100) throw;
        }
        co_await sleep_for(50ms);
    }
}

class redis_connection : public ::testing::Test {
protected:
    asio::io_context io;
};

TEST_F(redis_connection, basic_commands_and_error_replies_are_values) {
    wharf::test::redis_server server;
    redis::connection c(io.get_executor(), endpoint_of(server.url()));
    EXPECT_FALSE(c.is_connected());
    run(io, [&]() -> asio::awaitable<void> {
        EXPECT_EQ((co_await c.exec(redis::cmd("PING"))).str(), "PONG");
        EXPECT_TRUE(c.is_connected());
        EXPECT_EQ((co_await c.exec(redis::cmd("SET", "k", std::string("v\r\n\0x", 5)))).str(), "OK");
        EXPECT_EQ((co_await c.exec(redis::cmd("GET", "k"))).str(), std::string("v\r\n\0x", 5));
        EXPECT_TRUE((co_await c.exec(redis::cmd("GET", "missing"))).is_nil());
        auto err = co_await c.exec(redis::cmd("INCR", "k"));
        EXPECT_TRUE(err.is_error());
        EXPECT_NE(err.str().find("ERR"), std::string::npos);
        // The connection is still fine after an error reply.
        EXPECT_EQ((co_await c.exec(redis::cmd("INCRBY", "n", "5"))).integer(), 5);
        auto name = co_await c.exec(redis::cmd("CLIENT", "GETNAME"));
        EXPECT_EQ(name.str(), "wharf");
    }());
}

TEST_F(redis_connection, concurrent_callers_get_their_own_replies_in_order) {
    wharf::test::redis_server server;
    redis::connection c(io.get_executor(), endpoint_of(server.url()));
    constexpr int callers = 200, rounds = 50;
    std::vector<std::future<void>> done;
    for (int i = 0; i < callers; ++i) {
        // Parameters, not captures: a coroutine lambda's captures die with the lambda object.
        done.push_back(asio::co_spawn(io, [](redis::connection& c, int i) -> asio::awaitable<void> {
            for (int j = 0; j < rounds; ++j) {
                const auto key = "k:" + std::to_string(i);
                const auto value = std::to_string(i) + ":" + std::to_string(j);
                auto set = co_await c.exec(redis::cmd("SET", key, value));
                if (set.str() != "OK") throw std::runtime_error("SET: " + set.debug_string());
                auto get = co_await c.exec(redis::cmd("GET", key));
                if (get.str() != value) throw std::runtime_error("caller " + std::to_string(i) + " got " + get.debug_string());
                std::vector<redis::command> three;
                three.push_back(redis::cmd("INCR", "total"));
                three.push_back(redis::cmd("GET", key));
                three.push_back(redis::cmd("ECHO", value));
                auto both = co_await c.exec_pipeline(std::move(three));
                if (both.size() != 3 || both[1].str() != value || both[2].str() != value)
                    throw std::runtime_error("pipeline mismatch");
            }
        }(c, i), asio::use_future));
    }
    for (auto& f : done) wait_for(io, f);
    EXPECT_EQ(run(io, c.exec(redis::cmd("GET", "total"))).str(), std::to_string(callers * rounds));
}

TEST_F(redis_connection, ten_thousand_pipelined_commands) {
    wharf::test::redis_server server;
    redis::connection c(io.get_executor(), endpoint_of(server.url()));
    // One exec_pipeline call of 10k commands ...
    std::vector<redis::command> cmds;
    for (int i = 0; i < 10'000; ++i) cmds.push_back(redis::cmd("INCR", "p"));
    auto replies = run(io, c.exec_pipeline(cmds));
    ASSERT_EQ(replies.size(), 10'000u);
    for (std::size_t i = 0; i < replies.size(); ++i) ASSERT_EQ(replies[i].integer(), static_cast<std::int64_t>(i + 1));

    // ... and 10k separate calls issued at once: each sees a distinct value, all of them seen.
    std::vector<std::future<reply>> calls;
    const auto start = steady::now();
    for (int i = 0; i < 10'000; ++i) calls.push_back(asio::co_spawn(io, c.exec(redis::cmd("INCR", "q")), asio::use_future));
    std::set<std::int64_t> seen;
    for (auto& f : calls) seen.insert(wait_for(io, f).integer());
    const auto took = std::chrono::duration<double>(steady::now() - start).count();
    EXPECT_EQ(seen.size(), 10'000u);
    EXPECT_EQ(*seen.begin(), 1);
    EXPECT_EQ(*seen.rbegin(), 10'000);
    std::printf("10k concurrent INCR calls in %.1f ms (%.0f calls/s)\n", took * 1e3, 10'000 / took);
}

TEST_F(redis_connection, throughput_of_many_callers) {
    wharf::test::redis_server server;
    redis::connection c(io.get_executor(), endpoint_of(server.url()));
    constexpr int callers = 64, each = 2'000;
    std::vector<std::future<void>> done;
    const auto start = steady::now();
    for (int i = 0; i < callers; ++i)
        done.push_back(asio::co_spawn(io, [](redis::connection& c) -> asio::awaitable<void> {
            for (int j = 0; j < each; ++j) (void)co_await c.exec(redis::cmd("INCR", "t"));
        }(c), asio::use_future));
    for (auto& f : done) wait_for(io, f);
    const auto took = std::chrono::duration<double>(steady::now() - start).count();
    EXPECT_EQ(run(io, c.exec(redis::cmd("GET", "t"))).str(), std::to_string(callers * each));
    std::printf("%d calls from %d callers: %.0f calls/s\n", callers * each, callers, callers * each / took);
}

TEST_F(redis_connection, blocking_read_on_its_own_connection_does_not_hold_up_others) {
    wharf::test::redis_server server;
    redis::connection commands(io.get_executor(), endpoint_of(server.url()));
    redis::connection blocking(io.get_executor(), endpoint_of(server.url()));
    run(io, [&]() -> asio::awaitable<void> {
        auto created = co_await commands.exec(redis::cmd("XGROUP", "CREATE", "s", "workers", "$", "MKSTREAM"));
        EXPECT_EQ(created.str(), "OK");
    }());
    const auto start = steady::now();
    auto read = asio::co_spawn(io, blocking.exec_blocking(redis::cmd("XREADGROUP", "GROUP", "workers", "w1", "COUNT", "10",
                                                           "BLOCK", "3000", "STREAMS", "s", ">"),
                                                          3000ms),
                               asio::use_future);
    run(io, [&]() -> asio::awaitable<void> {
        co_await sleep_for(100ms);  // the XREADGROUP is parked in the server now
        for (int i = 0; i < 100; ++i) (void)co_await commands.exec(redis::cmd("PING"));
        // 100 round trips while the other connection blocks: well under the 3 s BLOCK.
        EXPECT_LT(steady::now() - start, 1500ms);
        (void)co_await commands.exec(redis::cmd("XADD", "s", "*", "job", "hello"));
    }());
    auto got = wait_for(io, read);
    EXPECT_LT(steady::now() - start, 2500ms) << "XREADGROUP did not return on XADD";
    ASSERT_TRUE(got.is_array()) << got.debug_string();
    EXPECT_EQ(got[0][0].str(), "s");
    EXPECT_EQ(got[0][1][0][1][1].str(), "hello");

    // With nothing to read, BLOCK ends in a nil reply, not a timeout (the deadline is extended).
    auto empty = run(io, blocking.exec_blocking(redis::cmd("XREADGROUP", "GROUP", "workers", "w1", "BLOCK", "700", "STREAMS",
                                                 "s", ">"),
                                                700ms));
    EXPECT_TRUE(empty.is_nil());
}

TEST_F(redis_connection, timeout_on_a_stalled_server) {
    wharf::test::redis_server server;
    redis::connection_options opts;
    opts.command_timeout = 400ms;
    redis::connection c(io.get_executor(), endpoint_of(server.url()), opts);
    EXPECT_EQ(run(io, c.exec(redis::cmd("SET", "a", "1"))).str(), "OK");

    server.signal(SIGSTOP);
    const auto start = steady::now();
    auto stalled = asio::co_spawn(io, c.exec(redis::cmd("GET", "a")), asio::use_future);
    auto also = asio::co_spawn(io, c.exec_pipeline({{"PING"}, {"PING"}}), asio::use_future);  // not in a coroutine
    settle(io, stalled, 10s);
    const auto took = steady::now() - start;
    server.signal(SIGCONT);
    auto e = error_of(stalled);
    ASSERT_TRUE(e) << "a call to a stopped server succeeded";
    EXPECT_EQ(e->which(), redis::error::kind::timeout) << e->what();
    EXPECT_GE(took, 400ms);
    EXPECT_LT(took, 1500ms);
    settle(io, also);
    // Every call in flight failed with it, and the next call reconnects.
    auto e2 = error_of(also);
    ASSERT_TRUE(e2);
    EXPECT_EQ(e2->which(), redis::error::kind::timeout);
}

TEST_F(redis_connection, restart_fails_in_flight_calls_then_reconnects_and_aof_keeps_data) {
    wharf::test::redis_server server({.appendonly = true});
    redis::connection blocking(io.get_executor(), endpoint_of(server.url()));
    redis::connection c(io.get_executor(), endpoint_of(server.url()));
    EXPECT_EQ(run(io, c.exec(redis::cmd("SET", "kept", "yes"))).str(), "OK");
    auto in_flight = asio::co_spawn(io, blocking.exec_blocking(redis::cmd("BLPOP", "nothing", "10"), 10s), asio::use_future);
    run(io, sleep_for(200ms));  // BLPOP written and parked
    ASSERT_EQ(in_flight.wait_for(0s), std::future_status::timeout);

    server.restart();
    settle(io, in_flight, 5s);
    auto e = error_of(in_flight);
    ASSERT_TRUE(e) << "BLPOP survived a server restart";
    EXPECT_EQ(e->which(), redis::error::kind::io) << e->what();
    EXPECT_TRUE(e->retryable());

    // Later calls reconnect (the first may still meet the dead socket: the caller's retry handles it).
    EXPECT_EQ(run(io, exec_retrying(c, {"GET", "kept"})).str(), "yes");
    EXPECT_EQ(run(io, exec_retrying(blocking, {"PING"})).str(), "PONG");
    EXPECT_TRUE(c.is_connected());
}

TEST_F(redis_connection, restart_under_load_fails_calls_cleanly_and_recovers) {
    wharf::test::redis_server server;
    redis::connection c(io.get_executor(), endpoint_of(server.url()));
    struct counts {
        int ok = 0, failed = 0, ok_after_restart = 0;
        bool restarted = false, stop = false;
    } n;
    std::vector<std::future<void>> callers;
    for (int i = 0; i < 50; ++i)
        callers.push_back(asio::co_spawn(io, [](redis::connection& c, counts& n) -> asio::awaitable<void> {
            while (!n.stop) {
                bool failed = false;
                try {
                    (void)co_await c.exec(redis::cmd("INCR", "n"));
                    ++n.ok;
                    if (n.restarted) ++n.ok_after_restart;
                } catch (const redis::error& e) {
                    if (!e.retryable()) throw;  // protocol or closed would be a bug here
                    ++n.failed;
                    failed = true;
                }
                if (failed) co_await sleep_for(10ms);
            }
        }(c, n), asio::use_future));
    run(io, sleep_for(200ms));
    server.restart();  // blocks this (the only) thread: the callers see it all at once afterwards
    n.restarted = true;
    run(io, sleep_for(500ms));
    n.stop = true;
    for (auto& f : callers) wait_for(io, f, 20s);  // none hangs, none saw a non-retryable error
    EXPECT_GT(n.ok, 0);
    EXPECT_GT(n.failed, 0);
    EXPECT_GT(n.ok_after_restart, 0);
    std::printf("restart under load: %d ok, %d failed, %d ok after the restart\n", n.ok, n.failed, n.ok_after_restart);
    EXPECT_EQ(run(io, c.exec(redis::cmd("ECHO", "still in step"))).str(), "still in step");
}

TEST_F(redis_connection, server_down_fails_fast_then_recovers) {
    wharf::test::redis_server server;
    redis::connection_options opts;
    opts.reconnect_backoff.base = 20ms;
    opts.reconnect_backoff.cap = 200ms;
    redis::connection c(io.get_executor(), endpoint_of(server.url()), opts);
    EXPECT_EQ(run(io, c.exec(redis::cmd("PING"))).str(), "PONG");
    server.stop();
    for (int i = 0; i < 3; ++i) {
        const auto start = steady::now();
        auto f = asio::co_spawn(io, c.exec(redis::cmd("PING")), asio::use_future);
        settle(io, f);
        auto e = error_of(f);
        ASSERT_TRUE(e);
        EXPECT_EQ(e->which(), redis::error::kind::io) << e->what();
        EXPECT_LT(steady::now() - start, 1s);  // refused, not hanging
    }
    server.start();
    EXPECT_EQ(run(io, exec_retrying(c, {"PING"})).str(), "PONG");
}

TEST_F(redis_connection, auth_with_password) {
    wharf::test::redis_server server({.requirepass = "s3cret-pw"});
    redis::connection good(io.get_executor(), endpoint_of(server.url()));
    EXPECT_EQ(run(io, good.exec(redis::cmd("SET", "x", "1"))).str(), "OK");

    auto wrong = endpoint_of("redis://:not-the-pw-7z@127.0.0.1:" + std::to_string(server.port()));
    redis::connection bad(io.get_executor(), wrong);
    auto f = asio::co_spawn(io, bad.exec(redis::cmd("GET", "x")), asio::use_future);
    settle(io, f);
    auto e = error_of(f);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->which(), redis::error::kind::auth);
    EXPECT_FALSE(e->retryable());
    const std::string what = e->what();
    EXPECT_NE(what.find("rejected the credentials"), std::string::npos) << what;
    EXPECT_NE(what.find("WRONGPASS"), std::string::npos) << what;
    EXPECT_EQ(what.find("not-the-pw-7z"), std::string::npos) << what;

    redis::connection none(io.get_executor(), endpoint_of("redis://127.0.0.1:" + std::to_string(server.port())));
    auto g = asio::co_spawn(io, none.exec(redis::cmd("GET", "x")), asio::use_future);
    settle(io, g);
    auto e2 = error_of(g);
    ASSERT_TRUE(e2);
    EXPECT_EQ(e2->which(), redis::error::kind::auth);
    EXPECT_NE(std::string(e2->what()).find("requires a password"), std::string::npos) << e2->what();
}

TEST_F(redis_connection, acl_user_and_database_selection) {
    wharf::test::redis_server server;
    redis::connection admin(io.get_executor(), endpoint_of(server.url()));
    run(io, [&]() -> asio::awaitable<void> {
        auto r = co_await admin.exec(redis::cmd("ACL", "SETUSER", "worker", "on", ">p@ss w", "~*", "+@all"));
        EXPECT_EQ(r.str(), "OK") << r.debug_string();
    }());
    redis::connection user(io.get_executor(),
                           endpoint_of("redis://worker:p%40ss%20w@127.0.0.1:" + std::to_string(server.port()) + "/3"));
    run(io, [&]() -> asio::awaitable<void> {
        EXPECT_EQ((co_await user.exec(redis::cmd("ACL", "WHOAMI"))).str(), "worker");
        EXPECT_EQ((co_await user.exec(redis::cmd("SET", "in3", "x"))).str(), "OK");
        EXPECT_TRUE((co_await admin.exec(redis::cmd("GET", "in3"))).is_nil());  // admin is on db 0
        EXPECT_EQ((co_await admin.exec(redis::cmd("SELECT", "3"))).str(), "OK");
        EXPECT_EQ((co_await admin.exec(redis::cmd("GET", "in3"))).str(), "x");
    }());
}

TEST_F(redis_connection, unix_socket) {
    wharf::test::redis_server server;
    redis::connection c(io.get_executor(), endpoint_of("unix://" + server.unix_socket().string() + "?db=2"));
    EXPECT_EQ(run(io, c.exec(redis::cmd("SET", "u", "1"))).str(), "OK");
    redis::connection tcp(io.get_executor(), endpoint_of(server.url() + "?db=2"));
    EXPECT_EQ(run(io, tcp.exec(redis::cmd("GET", "u"))).str(), "1");
}

TEST_F(redis_connection, tls_with_ca_verification) {
    wharf::test::redis_server server({.tls = true});
    redis::connection c(io.get_executor(), endpoint_of(server.url()));
    EXPECT_EQ(run(io, c.exec(redis::cmd("PING"))).str(), "PONG");
    EXPECT_EQ(run(io, c.exec(redis::cmd("SET", "over", "tls"))).str(), "OK");
    std::vector<redis::command> cmds(2000, redis::command{"GET", "over"});
    auto replies = run(io, c.exec_pipeline(cmds));
    ASSERT_EQ(replies.size(), 2000u);
    EXPECT_EQ(replies.back().str(), "tls");

    // A CA that did not sign the server certificate: refused, with the reason.
    wharf::test::temp_dir other;
    const auto wrong_ca = wharf::test::make_test_ca(other.path(), "someone else");
    const auto port = std::to_string(server.tls_port());
    redis::connection bad(io.get_executor(), endpoint_of("rediss://127.0.0.1:" + port + "?ca=" + wrong_ca.string()));
    auto f = asio::co_spawn(io, bad.exec(redis::cmd("PING")), asio::use_future);
    settle(io, f);
    auto e = error_of(f);
    ASSERT_TRUE(e) << "TLS with the wrong CA connected";
    EXPECT_EQ(e->which(), redis::error::kind::io);
    EXPECT_NE(std::string(e->what()).find("certificate"), std::string::npos) << e->what();

    // The right CA but a name the certificate does not carry: refused too.
    redis::connection misnamed(io.get_executor(), endpoint_of("rediss://127.0.0.1:" + port + "?sni=cache.example.com&ca=" +
                                                              server.ca_file().string()));
    auto g = asio::co_spawn(io, misnamed.exec(redis::cmd("PING")), asio::use_future);
    settle(io, g);
    EXPECT_TRUE(error_of(g));

    // insecure=true skips verification (tests only).
    redis::connection insecure(io.get_executor(), endpoint_of("rediss://127.0.0.1:" + port + "?insecure=true"));
    EXPECT_EQ(run(io, insecure.exec(redis::cmd("GET", "over"))).str(), "tls");
}

TEST_F(redis_connection, eval_falls_back_when_the_script_cache_is_empty) {
    wharf::test::redis_server server;
    redis::connection c(io.get_executor(), endpoint_of(server.url()));
    const redis::script s("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    run(io, [&]() -> asio::awaitable<void> {
        EXPECT_EQ((co_await c.eval(s, redis::args("n"), redis::args("2"))).integer(), 2);  // never loaded: NOSCRIPT, then EVAL
        auto exists = co_await c.exec(redis::cmd("SCRIPT", "EXISTS", s.sha1()));
        EXPECT_EQ(exists[0].integer(), 1);  // the fallback cached it under the same SHA1
        EXPECT_EQ((co_await c.eval(s, redis::args("n"), redis::args("3"))).integer(), 5);
        EXPECT_EQ((co_await c.exec(redis::cmd("SCRIPT", "FLUSH"))).str(), "OK");
        EXPECT_EQ((co_await c.eval(s, redis::args("n"), redis::args("4"))).integer(), 9);
        // A script error is a reply, not an exception.
        const redis::script broken("return redis.call('NOPE')");
        EXPECT_TRUE((co_await c.eval(broken, redis::args(), redis::args())).is_error());
    }());
    EXPECT_EQ(s.sha1().size(), 40u);
}

TEST_F(redis_connection, empty_command_is_rejected_before_anything_is_sent) {
    wharf::test::redis_server server;
    redis::connection c(io.get_executor(), endpoint_of(server.url()));
    EXPECT_THROW(run(io, c.exec_pipeline({{"SET", "a", "1"}, {}})), std::invalid_argument);
    EXPECT_TRUE(run(io, c.exec(redis::cmd("GET", "a"))).is_nil());  // nothing of it was sent
}

TEST_F(redis_connection, cancelled_call_leaves_the_connection_in_step) {
    wharf::test::redis_server server;
    redis::connection c(io.get_executor(), endpoint_of(server.url()));
    run(io, [&]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, 100ms);
        auto which = co_await (c.exec_blocking(redis::cmd("BLPOP", "l", "1"), 1s) || t.async_wait(asio::use_awaitable));
        EXPECT_EQ(which.index(), 1u);  // the timer won; the BLPOP's reply will be read and dropped
        // The next caller gets its own reply, not the BLPOP's nil.
        EXPECT_EQ((co_await c.exec(redis::cmd("ECHO", "mine"))).str(), "mine");
    }());
}

TEST_F(redis_connection, close_fails_pending_and_later_calls) {
    wharf::test::redis_server server;
    redis::connection c(io.get_executor(), endpoint_of(server.url()));
    EXPECT_EQ(run(io, c.exec(redis::cmd("PING"))).str(), "PONG");
    auto pending = asio::co_spawn(io, c.exec_blocking(redis::cmd("BLPOP", "l", "5"), 5s), asio::use_future);
    run(io, sleep_for(50ms));
    c.close();
    settle(io, pending);
    auto e = error_of(pending);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->which(), redis::error::kind::closed);
    auto later = asio::co_spawn(io, c.exec(redis::cmd("PING")), asio::use_future);
    settle(io, later);
    auto e2 = error_of(later);
    ASSERT_TRUE(e2);
    EXPECT_EQ(e2->which(), redis::error::kind::closed);
    EXPECT_FALSE(c.is_connected());
}

TEST_F(redis_connection, destroyed_while_calls_are_in_flight) {
    wharf::test::redis_server server;
    auto c = std::make_unique<redis::connection>(io.get_executor(), endpoint_of(server.url()));
    auto pending = asio::co_spawn(io, c->exec_blocking(redis::cmd("BLPOP", "l", "5"), 5s), asio::use_future);
    run(io, sleep_for(50ms));
    c.reset();  // the call's coroutine still holds the state it needs
    settle(io, pending);
    auto e = error_of(pending);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->which(), redis::error::kind::closed);
    io.restart();
    io.run_for(100ms);  // let the session's coroutines wind down (ASan checks nothing leaks)
}

}  // namespace
