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
// (or the exception `fn` threw). The caller's frame outlives the call, so `fn` captures by
// reference -- and must: GCC 12 destroys a closure with non-trivial captures twice once it has
// travelled into a coroutine frame by value (seen as a double free), hence the static_assert.
template <typename F>
boost::asio::awaitable<std::invoke_result_t<F&>> offload(F fn) {
    static_assert(std::is_trivially_destructible_v<F>, "offload: capture by reference ([&])");
    using result = std::invoke_result_t<F&>;
    return boost::asio::co_spawn(
        blocking_pool(),
        [fn = std::move(fn)]() mutable -> boost::asio::awaitable<result> {
            if constexpr (std::is_void_v<result>) {
                fn();
                co_return;
            } else {
                co_return fn();
            }
        },
        boost::asio::use_awaitable);
}

}  // namespace wharf::storage::detail
