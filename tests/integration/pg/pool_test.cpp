// The libpqxx thread pool: off the caller's thread, back on its executor, errors by kind,
// reconnection after a server restart.
#include "wharf/test/pg_env.hpp"

#include "wharf/pg/pool.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <thread>

namespace asio = boost::asio;
namespace pg = wharf::pg;
using wharf::test::fresh_database;
using wharf::test::run_coro;

TEST(pool, runs_on_a_pool_thread_and_resumes_on_the_callers_executor) {
    asio::io_context ctx;
    pg::pool db(ctx.get_executor(), fresh_database());
    const auto caller = std::this_thread::get_id();
    auto [value, worker] = run_coro(ctx, [&]() -> asio::awaitable<std::pair<int, std::thread::id>> {
        auto r = co_await db.run([](pqxx::connection& c) {
            pqxx::work tx(c);
            return std::pair{tx.exec1("SELECT 41 + 1")[0].as<int>(), std::this_thread::get_id()};
        });
        EXPECT_EQ(std::this_thread::get_id(), caller);  // resumed where it was called
        co_return r;
    }());
    EXPECT_EQ(value, 42);
    EXPECT_NE(worker, caller);
}

TEST(pool, query_errors_pass_through_unchanged) {
    asio::io_context ctx;
    pg::pool db(ctx.get_executor(), fresh_database());
    EXPECT_THROW(run_coro(ctx, db.run([](pqxx::connection& c) {
                     pqxx::work tx(c);
                     tx.exec0("SELECT * FROM no_such_table");
                 })),
                 pqxx::undefined_table);
    // The connection is still usable afterwards.
    EXPECT_EQ(run_coro(ctx, db.run([](pqxx::connection& c) { return pqxx::work(c).exec1("SELECT 1")[0].as<int>(); })), 1);
}

TEST(pool, a_missing_database_is_unavailable_at_once_with_the_password_masked) {
    asio::io_context ctx;
    const auto port = std::to_string(wharf::test::shared_postgres().port());
    pg::pool db(ctx.get_executor(), "postgresql://postgres:hunter2@127.0.0.1:" + port + "/no_such_db");
    const auto t0 = std::chrono::steady_clock::now();
    try {
        run_coro(ctx, db.run([](pqxx::connection&) {}));
        FAIL() << "connected to a missing database";
    } catch (const pg::unavailable& e) {
        const std::string what = e.what();
        EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;
        EXPECT_NE(what.find("postgres:***@"), std::string::npos) << what;
        EXPECT_NE(what.find("does not exist"), std::string::npos) << what;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST(pool, an_unreachable_server_is_unavailable_after_bounded_attempts) {
    asio::io_context ctx;
    pg::pool_options o;
    o.reconnect_attempts = 3;
    o.reconnect_base = std::chrono::milliseconds(10);
    pg::pool db(ctx.get_executor(), "postgresql://postgres@127.0.0.1:" + std::to_string(wharf::test::free_port()) + "/x",
                o);
    int calls = 0;
    try {
        run_coro(ctx, db.run([&](pqxx::connection&) { ++calls; }));
        FAIL() << "connected to nothing";
    } catch (const pg::unavailable& e) {
        EXPECT_NE(std::string(e.what()).find("unreachable after 3 attempts"), std::string::npos) << e.what();
    }
    EXPECT_EQ(calls, 0);
}

TEST(pool, reconnects_after_a_server_restart) {
    asio::io_context ctx;
    auto& server = wharf::test::shared_postgres();
    pg::pool db(ctx.get_executor(), fresh_database());
    auto pid = [](pqxx::connection& c) { return pqxx::work(c).exec1("SELECT pg_backend_pid()")[0].as<int>(); };
    // Both pool threads hold a connection.
    run_coro(ctx, db.run(pid));
    run_coro(ctx, db.run(pid));
    server.restart();
    // Not retried when the caller says the call is not idempotent: it may have run.
    EXPECT_THROW(run_coro(ctx, db.run(pid, false)), pg::outcome_unknown);
    // Retried on a fresh connection otherwise.
    EXPECT_GT(run_coro(ctx, db.run(pid)), 0);
    EXPECT_GT(run_coro(ctx, db.run(pid)), 0);
}

TEST(pool, calls_after_shutdown_are_unavailable) {
    asio::io_context ctx;
    pg::pool db(ctx.get_executor(), fresh_database());
    run_coro(ctx, db.run([](pqxx::connection&) {}));
    db.shutdown();
    EXPECT_THROW(run_coro(ctx, db.run([](pqxx::connection&) {})), pg::unavailable);
}
