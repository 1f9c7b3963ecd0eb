// One PostgreSQL and one SMTP sink for the integration_accounting binary; a fresh migrated
// database per test; a helper to run a coroutine to completion.
#pragma once

#include "wharf/test/postgres_server.hpp"
#include "wharf/test/smtp_sink.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>

namespace wharf::test {

postgres_server& shared_postgres();
// A new database with migrations/ applied; returns its URL.
std::string migrated_database();

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
