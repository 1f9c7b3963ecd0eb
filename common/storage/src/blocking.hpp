// The storage library's pool for blocking and CPU-bound work (file I/O, hashing), so the I/O
// threads never block. Internal to the library (src/), shared by every backend in it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

namespace wharf::storage::detail {

// Sized to the cores (at least 2): hashing at ~1-2 GB/s per core is CPU-bound work.
boost::asio::thread_pool& blocking_pool();

// Runs `fn` on the blocking pool and resumes the caller on its own executor with the result
// (or the exception `fn` threw).
template <typename F>
boost::asio::awaitable<std::invoke_result_t<F&>> offload(F fn) {
    using result = std::invoke_result_t<F&>;
    if constexpr (std::is_void_v<result>) {
        co_await boost::asio::co_spawn(
            blocking_pool(), [fn = std::move(fn)]() mutable -> boost::asio::awaitable<void> { fn(); co_return; },
            boost::asio::use_awaitable);
    } else {
        co_return co_await boost::asio::co_spawn(
            blocking_pool(), [fn = std::move(fn)]() mutable -> boost::asio::awaitable<result> { co_return fn(); },
            boost::asio::use_awaitable);
    }
}

}  // namespace wharf::storage::detail
