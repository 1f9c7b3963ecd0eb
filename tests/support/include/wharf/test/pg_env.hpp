// One PostgreSQL per test binary (started on first use), a fresh database per test, and a helper
// that runs a coroutine to completion.
#pragma once

#include "wharf/test/postgres_server.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>

namespace wharf::test {

// The shared server (started on first use, stopped at exit).
postgres_server& shared_postgres();
// A new empty database on the shared server; returns its URL.
std::string fresh_database(const std::string& prefix = "t");
// A fresh database with migrations/ applied.
std::string migrated_database();

// Runs a coroutine on `ctx` until it completes and returns its value (rethrows its exception).
template <class T>
T run_coro(boost::asio::io_context& ctx, boost::asio::awaitable<T> a,
           std::chrono::seconds limit = std::chrono::seconds(120)) {
    auto fut = boost::asio::co_spawn(ctx, std::move(a), boost::asio::use_future);
    ctx.restart();
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("coroutine did not finish in time");
        ctx.run_one_for(std::chrono::milliseconds(50));
    }
    return fut.get();
}

}  // namespace wharf::test
