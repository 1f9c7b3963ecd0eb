// The storage library's pool for blocking and CPU-bound work (file I/O, hashing), so the I/O
// threads never block. Internal to the library (src/), shared by every backend in it.
#pragma once

#include "wharf/asio/offload.hpp"

#include <boost/asio/thread_pool.hpp>

#include <type_traits>
#include <utility>

namespace wharf::storage::detail {

// Sized to the cores (at least 2): hashing at ~1-2 GB/s per core is CPU-bound work.
boost::asio::thread_pool& blocking_pool();

// Runs `fn` on the blocking pool and resumes the caller on its own executor with the result
// (or the exception `fn` threw). See wharf/asio/offload.hpp.
template <typename F>
boost::asio::awaitable<std::invoke_result_t<F&>> offload(F fn) {
    return wharf::offload(blocking_pool().get_executor(), std::move(fn));
}

}  // namespace wharf::storage::detail
