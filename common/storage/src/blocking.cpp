// The blocking pool (see blocking.hpp).
#include "blocking.hpp"

#include <algorithm>
#include <thread>

namespace wharf::storage::detail {

boost::asio::thread_pool& blocking_pool() {
    static boost::asio::thread_pool pool(std::max(2u, std::thread::hardware_concurrency()));
    return pool;
}

}  // namespace wharf::storage::detail
