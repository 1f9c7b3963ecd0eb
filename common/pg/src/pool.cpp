// The libpqxx thread pool: blocking calls run on dedicated threads, callers resume on their own
// executor; broken connections are reopened with the one backoff policy.
#include "wharf/pg/pool.hpp"

#include "wharf/core/backoff.hpp"
#include "wharf/core/log.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/pg/detail/text.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pqxx/pqxx>

#include <atomic>
#include <mutex>
#include <vector>

namespace asio = boost::asio;

namespace wharf::pg {
namespace {

// What one try of a call on a pool thread came to.
struct attempt_result {
    enum class kind { ok, failed, connect_failed, broken } what = kind::ok;
    std::string message;       // one line, redacted (connect_failed, broken)
    std::exception_ptr error;  // failed: rethrown to the caller as is
};

}  // namespace

struct pool::impl {
    impl(std::string url_in, pool_options o)
        : url(detail::with_connect_defaults(url_in, o.connect_timeout)),
          display(redact(url_in)),
          options(o),
          threads(o.threads == 0 ? 1 : o.threads) {}

    const std::string url;
    const std::string display;  // for messages: the URL with its password masked
    const pool_options options;
    asio::thread_pool threads;
    std::atomic<bool> stopped{false};

    // Idle connections. At most `threads` calls run at once, so there are never more than that.
    std::mutex idle_mutex;
    std::vector<std::unique_ptr<pqxx::connection>> idle;

    std::unique_ptr<pqxx::connection> take_idle() {
        std::lock_guard lock(idle_mutex);
        if (idle.empty()) return nullptr;
        auto c = std::move(idle.back());
        idle.pop_back();
        return c;
    }

    void give_back(std::unique_ptr<pqxx::connection> c) {
        if (!c || !c->is_open()) return;
        std::lock_guard lock(idle_mutex);
        idle.push_back(std::move(c));
    }

    std::unique_ptr<pqxx::connection> open() const {
        auto c = std::make_unique<pqxx::connection>(url);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        // libpqxx 6 silently reconnects a broken connection at the next transaction, outside
        // our backoff and without the session settings below; wharf reconnects by itself.
        c->inhibit_reactivation(true);
#pragma GCC diagnostic pop
        if (options.statement_timeout.count() > 0) {
            pqxx::nontransaction tx(*c);
            tx.exec0("SET statement_timeout = " + std::to_string(options.statement_timeout.count()));
        }
        return c;
    }

    // Runs on a pool thread.
    attempt_result attempt(const std::function<void(pqxx::connection&)>& fn) {
        auto c = take_idle();
        if (!c) {
            try {
                c = open();
            } catch (const pqxx::broken_connection& e) {
                return {attempt_result::kind::connect_failed, detail::one_line(e.what()), {}};
            } catch (const pqxx::sql_error& e) {
                return {attempt_result::kind::connect_failed, detail::one_line(e.what()), {}};
            }
        }
        try {
            fn(*c);
            give_back(std::move(c));
            return {};
        } catch (const pqxx::broken_connection& e) {
            return {attempt_result::kind::broken, detail::one_line(e.what()), std::current_exception()};
        } catch (const pqxx::in_doubt_error& e) {
            // The connection went away during COMMIT.
            return {attempt_result::kind::broken, detail::one_line(e.what()), std::current_exception()};
        } catch (const pqxx::sql_error& e) {
            // "terminating connection due to administrator command" arrives as an error result
            // before the socket closes: the session is gone all the same.
            if (detail::is_connection_sqlstate(e.sqlstate()) || !c->is_open())
                return {attempt_result::kind::broken, detail::one_line(e.what()), std::current_exception()};
            give_back(std::move(c));
            return {attempt_result::kind::failed, {}, std::current_exception()};
        } catch (...) {
            give_back(std::move(c));
            return {attempt_result::kind::failed, {}, std::current_exception()};
        }
    }
};

// The executor is not needed: every call resumes on its own caller's executor.
pool::pool(asio::any_io_executor /*executor*/, std::string url, pool_options options)
    : impl_(std::make_shared<impl>(std::move(url), options)) {}

pool::~pool() { shutdown(); }

void pool::shutdown() {
    if (!impl_ || impl_->stopped.exchange(true)) return;
    // join() (not stop()) so calls already queued finish and their callers resume.
    impl_->threads.join();
}

asio::awaitable<void> pool::run_erased(std::function<void(pqxx::connection&)> fn, bool retry_broken) {
    auto p = impl_;  // the pool's state outlives this call even if the pool is destroyed meanwhile
    const backoff_policy policy{p->options.reconnect_base, p->options.reconnect_cap,
                                p->options.reconnect_attempts == 0 ? 1 : p->options.reconnect_attempts};
    for (std::uint32_t attempt = 1;; ++attempt) {
        if (p->stopped.load()) throw unavailable("PostgreSQL pool for " + p->display + " is shut down");
        // One try on a pool thread, completing on this coroutine's executor.
        auto initiation = [&p, &fn](auto handler) {
                // Keeps the caller's executor from running out of work while the call blocks.
                auto home = asio::prefer(asio::get_associated_executor(handler),
                                         asio::execution::outstanding_work.tracked);
                asio::post(p->threads, [&p, &fn, handler = std::move(handler), home = std::move(home)]() mutable {
                    attempt_result r = p->attempt(fn);
                    asio::post(home, [handler = std::move(handler), r = std::move(r)]() mutable {
                        std::move(handler)(std::move(r));
                    });
                });
            };
        attempt_result r = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(attempt_result)>(
            std::move(initiation), asio::use_awaitable);
        switch (r.what) {
        case attempt_result::kind::ok:
            co_return;
        case attempt_result::kind::failed:
            std::rethrow_exception(r.error);
        case attempt_result::kind::connect_failed:
            if (detail::is_permanent_connect_error(r.message))
                throw unavailable("PostgreSQL at " + p->display + " refused the connection: " + r.message);
            break;
        case attempt_result::kind::broken:
            if (!retry_broken)
                throw outcome_unknown("PostgreSQL connection to " + p->display +
                                      " broke during a call that is not retried: " + r.message);
            break;
        }
        if (!policy.may_retry(attempt))
            throw unavailable("PostgreSQL at " + p->display + " unreachable after " + std::to_string(attempt) +
                              " attempts: " + r.message);
        const auto delay = policy.delay(attempt, jitter_rng());
        spdlog::warn("postgres: {} (attempt {}/{}), reconnecting in {} ms", r.message, attempt, policy.max_attempts,
                     delay.count());
        asio::steady_timer timer(co_await asio::this_coro::executor, delay);
        co_await timer.async_wait(asio::use_awaitable);
    }
}

}  // namespace wharf::pg
