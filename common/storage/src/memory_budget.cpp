// The memory budget: FIFO waiters, each parked on its own one-slot channel. A grant is a
// try_send() into that channel, which is thread-safe and is kept until the waiter receives it, so
// a grant made on another thread before the waiter has even begun to wait is never lost. (A timer
// cancelled from give_back() was not: cancel() posted to a thread pool could run before the
// waiter's async_wait started, and that waiter then slept for ever.)
#include "wharf/storage/memory_budget.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <vector>

namespace wharf::storage {
namespace asio = boost::asio;

struct memory_budget::waiter {
    explicit waiter(asio::any_io_executor ex, std::uint64_t n) : wake(std::move(ex), 1), bytes(n) {}
    asio::experimental::concurrent_channel<void(boost::system::error_code)> wake;
    std::uint64_t bytes;
    bool granted = false;  // guarded by the budget's mutex
};

memory_budget::lease::lease(lease&& other) noexcept : budget_(other.budget_), bytes_(other.bytes_) {
    other.budget_ = nullptr;
    other.bytes_ = 0;
}

memory_budget::lease& memory_budget::lease::operator=(lease&& other) noexcept {
    if (this != &other) {
        release();
        budget_ = std::exchange(other.budget_, nullptr);
        bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
}

void memory_budget::lease::release() noexcept {
    if (budget_) std::exchange(budget_, nullptr)->give_back(std::exchange(bytes_, 0));
}

memory_budget::memory_budget(std::uint64_t capacity) : capacity_(std::max<std::uint64_t>(capacity, 1)) {}
memory_budget::~memory_budget() = default;

memory_budget& memory_budget::process() {
    static memory_budget budget(256ull << 20);
    return budget;
}

std::uint64_t memory_budget::capacity() const {
    std::lock_guard lock(mutex_);
    return capacity_;
}
std::uint64_t memory_budget::available() const {
    std::lock_guard lock(mutex_);
    return used_ >= capacity_ ? 0 : capacity_ - used_;
}
std::size_t memory_budget::waiting() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

void memory_budget::set_capacity(std::uint64_t capacity) {
    std::unique_lock lock(mutex_);
    capacity_ = std::max<std::uint64_t>(capacity, 1);
    wake_locked(lock);
}

memory_budget::lease memory_budget::try_acquire(std::uint64_t bytes) {
    std::lock_guard lock(mutex_);
    const std::uint64_t n = clamp(bytes);
    if (!queue_.empty() || used_ + n > capacity_) return {};
    used_ += n;
    return lease(this, n);
}

asio::awaitable<memory_budget::lease> memory_budget::acquire(std::uint64_t bytes) {
    auto w = std::make_shared<waiter>(co_await asio::this_coro::executor, bytes);
    {
        std::lock_guard lock(mutex_);
        w->bytes = clamp(bytes);
        if (queue_.empty() && used_ + w->bytes <= capacity_) {
            used_ += w->bytes;
            co_return lease(this, w->bytes);
        }
        queue_.push_back(w);
    }
    // The wait ends with a grant or with the caller's cancellation; a grant racing a cancellation
    // wins (the bytes are already counted as ours), so only the flag decides, hence as_tuple.
    co_await w->wake.async_receive(asio::as_tuple(asio::use_awaitable));
    std::unique_lock lock(mutex_);
    if (w->granted) co_return lease(this, w->bytes);
    queue_.erase(std::remove(queue_.begin(), queue_.end(), w), queue_.end());
    // Our place at the head may have been what blocked smaller requests behind us.
    wake_locked(lock);
    throw boost::system::system_error(asio::error::operation_aborted, "memory_budget::acquire cancelled");
}

void memory_budget::give_back(std::uint64_t bytes) noexcept {
    std::unique_lock lock(mutex_);
    used_ -= std::min(used_, bytes);
    wake_locked(lock);
}

void memory_budget::wake_locked(std::unique_lock<std::mutex>& lock) noexcept {
    std::vector<std::shared_ptr<waiter>> woken;
    // Strict FIFO: the head is served first, so a large part is never starved by small ones.
    while (!queue_.empty() && used_ + clamp(queue_.front()->bytes) <= capacity_) {
        auto w = std::move(queue_.front());
        queue_.pop_front();
        w->bytes = clamp(w->bytes);
        used_ += w->bytes;
        w->granted = true;
        woken.push_back(std::move(w));
    }
    lock.unlock();
    // Outside the lock: a waiter already receiving resumes on its own executor.
    for (auto& w : woken) w->wake.try_send(boost::system::error_code{});
    lock.lock();
}

}  // namespace wharf::storage
