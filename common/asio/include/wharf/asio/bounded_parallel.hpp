// Running the same step over many items, a bounded number at a time: the one helper for it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <memory>
#include <vector>

namespace wharf {
namespace detail {

// One lane: takes the next index until none is left. Everything it needs is a parameter (copied
// into its frame), never a lambda capture: a co_spawned lambda's captures die with the lambda.
template <class Step>
boost::asio::awaitable<void> bounded_lane(std::shared_ptr<std::size_t> next, std::size_t count, Step* step) {
    while (*next < count) {
        const std::size_t i = (*next)++;
        auto running = (*step)(i);
        co_await std::move(running);
    }
}

}  // namespace detail

// Runs step(i) -- an awaitable<void> -- for every i in [0, count), at most `parallel` at once, on
// the caller's executor (the lanes share it, so `next` needs no lock). The first failure cancels
// the other lanes (a step in flight ends first) and is rethrown once every lane has ended.
template <class Step>
boost::asio::awaitable<void> for_each_bounded(std::size_t count, std::size_t parallel, Step step) {
    if (count == 0) co_return;
    const auto executor = co_await boost::asio::this_coro::executor;
    auto next = std::make_shared<std::size_t>(0);
    using op_type = decltype(boost::asio::co_spawn(executor, detail::bounded_lane(next, count, &step),
                                                   boost::asio::deferred));
    std::vector<op_type> lanes;
    for (std::size_t i = 0; i < std::clamp<std::size_t>(parallel, 1, count); ++i)
        lanes.push_back(boost::asio::co_spawn(executor, detail::bounded_lane(next, count, &step), boost::asio::deferred));
    auto group = boost::asio::experimental::make_parallel_group(std::move(lanes));
    auto waiting = group.async_wait(boost::asio::experimental::wait_for_one_error(), boost::asio::use_awaitable);
    const auto result = co_await std::move(waiting);
    const auto& order = std::get<0>(result);
    const auto& errors = std::get<1>(result);
    for (const std::size_t i : order)
        if (errors[i]) std::rethrow_exception(errors[i]);
}

}  // namespace wharf
