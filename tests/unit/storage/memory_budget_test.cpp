// The memory budget's semantics: immediate grants, FIFO waiters resumed on release, oversized
// requests, cancellation, and grants across threads.
#include "wharf/storage/memory_budget.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <vector>

namespace asio = boost::asio;
using wharf::storage::memory_budget;

TEST(memory_budget, grants_at_once_within_capacity) {
    memory_budget b(100);
    auto l1 = b.try_acquire(60);
    ASSERT_TRUE(l1);
    EXPECT_EQ(b.available(), 40u);
    EXPECT_FALSE(b.try_acquire(41));
    l1.release();
    EXPECT_EQ(b.available(), 100u);
}

TEST(memory_budget, waiters_resume_in_order_when_memory_is_freed) {
    asio::io_context io;
    memory_budget b(100);
    auto held = b.try_acquire(100);
    std::vector<int> order;
    std::vector<memory_budget::lease> leases;
    for (int i = 0; i < 3; ++i)
        asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
            auto l = co_await b.acquire(40);
            order.push_back(i);
            leases.push_back(std::move(l));
        }, asio::detached);
    io.poll();
    EXPECT_TRUE(order.empty());
    EXPECT_EQ(b.waiting(), 3u);
    held.release();  // 100 free: the first two (80) fit, the third waits
    io.poll();
    EXPECT_EQ(order, (std::vector<int>{0, 1}));
    EXPECT_EQ(b.waiting(), 1u);
    leases.front().release();
    io.poll();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(b.available(), 20u);
}

TEST(memory_budget, a_small_request_does_not_overtake_a_large_one) {
    asio::io_context io;
    memory_budget b(100);
    auto held = b.try_acquire(50);
    std::vector<int> order;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { auto l = co_await b.acquire(80); order.push_back(80); }, asio::detached);
    io.poll();
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { auto l = co_await b.acquire(10); order.push_back(10); }, asio::detached);
    io.poll();
    EXPECT_TRUE(order.empty()) << "10 bytes were free, but the 80-byte request came first";
    held.release();
    io.run();
    EXPECT_EQ(order, (std::vector<int>{80, 10}));
}

TEST(memory_budget, an_oversized_request_takes_everything_instead_of_deadlocking) {
    asio::io_context io;
    memory_budget b(100);
    std::uint64_t got = 0;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { auto l = co_await b.acquire(1000); got = l.bytes(); }, asio::detached);
    io.run();
    EXPECT_EQ(got, 100u);
    EXPECT_EQ(b.available(), 100u);
}

TEST(memory_budget, cancelling_a_waiter_removes_it_and_unblocks_those_behind) {
    asio::io_context io;
    memory_budget b(100);
    auto held = b.try_acquire(60);
    asio::cancellation_signal cancel;
    bool aborted = false, small_got = false;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { auto l = co_await b.acquire(90); },
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) { aborted = e != nullptr; }));
    io.poll();
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { auto l = co_await b.acquire(30); small_got = true; }, asio::detached);
    io.poll();
    EXPECT_FALSE(small_got);
    cancel.emit(asio::cancellation_type::terminal);
    io.run();
    EXPECT_TRUE(aborted);
    EXPECT_TRUE(small_got);
    EXPECT_EQ(b.waiting(), 0u);
    EXPECT_EQ(b.available(), 40u);
}

TEST(memory_budget, growing_the_capacity_wakes_waiters) {
    asio::io_context io;
    memory_budget b(10);
    auto held = b.try_acquire(10);
    bool got = false;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { auto l = co_await b.acquire(10); got = true; }, asio::detached);
    io.poll();
    EXPECT_FALSE(got);
    b.set_capacity(20);
    io.run();
    EXPECT_TRUE(got);
}

TEST(memory_budget, never_overcommits_under_contention_across_threads) {
    asio::thread_pool pool(4);
    memory_budget b(64);
    std::atomic<std::uint64_t> in_use{0}, peak{0};
    std::atomic<int> finished{0};
    std::promise<void> all_done;
    constexpr int tasks = 400;
    for (int i = 0; i < tasks; ++i)
        asio::co_spawn(pool, [&, i]() -> asio::awaitable<void> {
            auto l = co_await b.acquire(1 + i % 32);
            const auto now = in_use += l.bytes();
            for (auto p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {}
            in_use -= l.bytes();
        }, [&](std::exception_ptr) { if (++finished == tasks) all_done.set_value(); });
    ASSERT_EQ(all_done.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
    pool.join();
    EXPECT_LE(peak.load(), 64u);
    EXPECT_EQ(b.available(), 64u);
}
