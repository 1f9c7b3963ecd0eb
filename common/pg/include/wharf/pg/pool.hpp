// libpqxx (blocking) kept off the I/O threads: a small dedicated thread pool, one connection per
// thread, behind one co_await helper.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

// Forward declarations matching libpqxx 6.4 (Debian 12), so this header does not pull in pqxx.
namespace pqxx {
template <typename CONNECTPOLICY> class basic_connection_base;
class connect_direct;
using connection = basic_connection_base<connect_direct>;
}  // namespace pqxx

namespace wharf::pg {

// PostgreSQL could not be reached within the retry budget, or refused us for a reason retrying
// will not fix (bad password, missing database). Query errors (pqxx::sql_error) pass through.
class unavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The connection broke while a call passed with retry_broken=false was running: it may or may
// not have been committed, so it was not retried. The caller decides (re-read, or give up).
class outcome_unknown : public unavailable {
public:
    using unavailable::unavailable;
};

struct pool_options {
    std::size_t threads = 2;
    // A broken connection (server restart) is reopened with the one backoff policy; a call that
    // fails on a broken connection is retried on a fresh one up to this many times. Only
    // idempotent work may be retried, so callers pass retry_broken=false otherwise.
    std::uint32_t reconnect_attempts = 8;
    // Full-jitter window of the reconnect backoff (wharf::backoff_policy base and cap).
    std::chrono::milliseconds reconnect_base{100};
    std::chrono::milliseconds reconnect_cap{5'000};
    // Deadlines: libpq's connect_timeout (added to the URL unless it names one) and the
    // server-side statement_timeout set on every connection (0 disables it).
    std::chrono::seconds connect_timeout{5};
    std::chrono::milliseconds statement_timeout{30'000};
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
    //
    // GCC 12 miscompiles aggregates and capturing lambdas built as temporaries inside a co_await
    // expression (their members are relocated bitwise: invalid frees). Name the function object
    // first: `auto fn = [id](pqxx::connection& c) {...}; co_await db.run(std::move(fn));`.
    template <class F>
    boost::asio::awaitable<std::invoke_result_t<F&, pqxx::connection&>> run(F fn, bool retry_broken = true) {
        using result_t = std::invoke_result_t<F&, pqxx::connection&>;
        if constexpr (std::is_void_v<result_t>) {
            std::function<void(pqxx::connection&)> call = [&fn](pqxx::connection& c) { fn(c); };
            co_await run_erased(std::move(call), retry_broken);
        } else {
            std::optional<result_t> out;
            std::function<void(pqxx::connection&)> call = [&fn, &out](pqxx::connection& c) { out.emplace(fn(c)); };
            co_await run_erased(std::move(call), retry_broken);
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
