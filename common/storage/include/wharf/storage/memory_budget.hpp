// A process-wide budget of part-buffer memory: an async counting semaphore over bytes, so the sum
// of all uploads' parts in flight stays bounded however many uploads run at once.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

namespace wharf::storage {

class memory_budget {
public:
    // Bytes held until destroyed or release()d. Move-only.
    class lease {
    public:
        lease() = default;
        lease(lease&& other) noexcept;
        lease& operator=(lease&& other) noexcept;
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        ~lease() { release(); }

        std::uint64_t bytes() const noexcept { return bytes_; }
        explicit operator bool() const noexcept { return budget_ != nullptr; }
        void release() noexcept;

    private:
        friend class memory_budget;
        lease(memory_budget* budget, std::uint64_t bytes) noexcept : budget_(budget), bytes_(bytes) {}
        memory_budget* budget_ = nullptr;
        std::uint64_t bytes_ = 0;
    };

    explicit memory_budget(std::uint64_t capacity);
    ~memory_budget();
    memory_budget(const memory_budget&) = delete;
    memory_budget& operator=(const memory_budget&) = delete;

    // Waits (first come, first served) until `bytes` are free and takes them. A request larger
    // than the whole capacity waits until nothing else is held and then takes everything, so one
    // oversized part cannot deadlock. Thread-safe; the caller resumes on its own executor.
    // Cancellation (e.g. a job's timeout) removes the waiter and throws operation_aborted.
    boost::asio::awaitable<lease> acquire(std::uint64_t bytes);
    // Takes `bytes` now if they are free and nobody is queued before us.
    lease try_acquire(std::uint64_t bytes);

    std::uint64_t capacity() const;
    std::uint64_t available() const;
    std::size_t waiting() const;
    // Grows or shrinks the capacity; growing wakes waiters that now fit.
    void set_capacity(std::uint64_t capacity);

    // The process-wide budget (256 MiB until set_capacity() says otherwise).
    static memory_budget& process();

private:
    struct waiter;
    void give_back(std::uint64_t bytes) noexcept;
    void wake_locked(std::unique_lock<std::mutex>& lock) noexcept;
    std::uint64_t clamp(std::uint64_t bytes) const noexcept { return bytes < capacity_ ? bytes : capacity_; }

    mutable std::mutex mutex_;
    std::uint64_t capacity_;
    std::uint64_t used_ = 0;
    std::deque<std::shared_ptr<waiter>> queue_;
};

}  // namespace wharf::storage
