// Running blocking or CPU-heavy work off the I/O threads: the one helper for it.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <type_traits>
#include <utility>

namespace wharf {

// Runs fn() on `where` (a thread pool's executor) and resumes the awaiting coroutine on its own
// executor with fn's result, or its exception. Not a coroutine itself: `fn` is moved into the
// operation and never lives in a coroutine frame (GCC 12 destroys lambdas with non-trivial
// captures twice there), so it may capture anything by value. The caller's executor counts the
// operation as outstanding work until its completion is queued there: an io_context does not run
// out of work (and return from run()) while a coroutine waits for the pool. That tracked executor
// is the pool thread's last reference to the caller's executor and is dropped last, when the pool
// thread destroys the operation after its post: a strand drops its implementation before its
// inner executor (and with it the work), so nothing of the caller's io_context is touched after
// run() may return. Releasing the work any earlier (a separate guard reset after the post, say)
// let a test destroy its io_context under the pool thread's copy of the strand (ASan saw it).
template <class Executor, class F>
boost::asio::awaitable<std::invoke_result_t<F&>> offload(const Executor& where, F fn) {
    namespace asio = boost::asio;
    using R = std::invoke_result_t<F&>;
    if constexpr (std::is_void_v<R>) {
        return asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr)>(
            [where](auto handler, F f) {
                auto home = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
                asio::post(where, [h = std::move(handler), f = std::move(f), home = std::move(home)]() mutable {
                    std::exception_ptr failure;
                    try {
                        f();
                    } catch (...) {
                        failure = std::current_exception();
                    }
                    asio::post(home, [h = std::move(h), failure]() mutable { std::move(h)(failure); });
                });
            },
            asio::use_awaitable, std::move(fn));
    } else {
        return asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr, R)>(
            [where](auto handler, F f) {
                auto home = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
                asio::post(where, [h = std::move(handler), f = std::move(f), home = std::move(home)]() mutable {
                    std::exception_ptr failure;
                    R value{};
                    try {
                        value = f();
                    } catch (...) {
                        failure = std::current_exception();
                    }
                    asio::post(home, [h = std::move(h), failure, value = std::move(value)]() mutable {
                        std::move(h)(failure, std::move(value));
                    });
                });
            },
            asio::use_awaitable, std::move(fn));
    }
}

}  // namespace wharf
