// libpqxx (blocking) kept off the I/O threads: a small dedicated thread pool, one connection per
// thread, behind one co_await helper.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace pqxx {
template <typename CONNECTPOLICY> class basic_connection;
class connect_direct;
using connection = basic_connection<connect_direct>;
}  // namespace pqxx

namespace wharf::pg {

// PostgreSQL could not be reached within the retry budget, or refused us for a reason retrying
// will not fix (bad password, missing database). Query errors (pqxx::sql_error) pass through.
class unavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct pool_options {
    std::size_t threads = 2;
    // A broken connection (server restart) is reopened with the one backoff policy; a call that
    // fails on a broken connection is retried on a fresh one up to this many times. Only
    // idempotent work may be retried, so callers pass retry_broken=false otherwise.
    std::uint32_t reconnect_attempts = 8;
};

class pool {
public:
    // url: a libpq URL or key-value string (WHARF_DATABASE_URL). Connects lazily.
    pool(boost::asio::any_io_executor executor, std::string url, pool_options options = {});
    ~pool();
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    // Runs fn(connection&) on a pool thread and resumes the caller on its own executor with the
    // result (or exception). fn opens its own transaction.
    template <class F>
    boost::asio::awaitable<std::invoke_result_t<F&, pqxx::connection&>> run(F fn, bool retry_broken = true) {
        using result_t = std::invoke_result_t<F&, pqxx::connection&>;
        if constexpr (std::is_void_v<result_t>) {
            co_await run_erased([&fn](pqxx::connection& c) { fn(c); }, retry_broken);
        } else {
            std::optional<result_t> out;
            co_await run_erased([&fn, &out](pqxx::connection& c) { out.emplace(fn(c)); }, retry_broken);
            co_return std::move(*out);
        }
    }

    // Stops the threads after the calls under way; later calls throw unavailable.
    void shutdown();

private:
    boost::asio::awaitable<void> run_erased(std::function<void(pqxx::connection&)> fn, bool retry_broken);
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace wharf::pg
