// Mapped reads with a SIGBUS guard (see mapped_read.hpp).
#include "mapped_read.hpp"

#include "wharf/storage/error.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <csignal>
#include <cstring>
#include <mutex>
#include <string>

namespace wharf::storage::detail {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
#else
constexpr bool sanitized = false;
#endif

// The faulting thread's guard. Touched by that thread before it maps, so reading it in the
// handler allocates nothing.
struct guard {
    sigjmp_buf jump;
    const char* begin = nullptr;
    const char* end = nullptr;
    volatile sig_atomic_t active = 0;
};
thread_local guard tls_guard;

struct sigaction previous_action {};

void on_sigbus(int sig, siginfo_t* info, void* context) {
    guard& g = tls_guard;
    const char* at = static_cast<const char*>(info->si_addr);
    if (g.active && at >= g.begin && at < g.end) {
        g.active = 0;
        siglongjmp(g.jump, 1);
    }
    // Not a read of ours: the handler from before takes this one. Restored, then the faulting
    // instruction runs again and faults into it (a default SIGBUS ends the process, as it would have).
    (void)context;
    sigaction(sig, &previous_action, nullptr);
}

void install_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction action {};
        action.sa_sigaction = on_sigbus;
        action.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&action.sa_mask);
        if (sigaction(SIGBUS, &action, &previous_action) != 0)
            throw error(errc::permanent, std::string("cannot install the SIGBUS handler: ") + std::strerror(errno));
    });
}

// The guarded walk. Nothing with a destructor lives in this frame across feed().
bool walk(const char* base, std::size_t skip, std::uint64_t length, std::size_t slice, feed_fn feed, void* context) {
    guard& g = tls_guard;
    g.begin = base;
    g.end = base + skip + length;
    if (sigsetjmp(g.jump, 1) != 0) return false;  // SIGBUS: the file shrank under us
    g.active = 1;
    try {
        for (std::uint64_t at = 0; at < length;) {
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(slice, length - at));
            feed(context, base + skip + at, n);
            at += n;
        }
    } catch (...) {
        g.active = 0;
        throw;
    }
    g.active = 0;
    return true;
}

}  // namespace

bool mapped_reads_available() noexcept { return !sanitized; }

bool read_mapped(int fd, std::uint64_t offset, std::uint64_t length, std::size_t slice, feed_fn feed, void* context) {
    if (length == 0) return true;
    install_handler();
    static const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    const std::uint64_t start = offset - offset % page;
    const std::size_t skip = static_cast<std::size_t>(offset - start);
    const std::size_t span = skip + static_cast<std::size_t>(length);
    // MAP_POPULATE maps the cached pages in one go (cheaper than a fault per 64 KiB); a page it
    // could not map (the file shrank) faults later, into the guard.
    void* m = ::mmap(nullptr, span, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, static_cast<off_t>(start));
    if (m == MAP_FAILED) throw error(errc::permanent, std::string("cannot map the file: ") + std::strerror(errno));
    bool whole = false;
    try {
        whole = walk(static_cast<const char*>(m), skip, length, std::max<std::size_t>(slice, 1), feed, context);
    } catch (...) {
        ::munmap(m, span);
        throw;
    }
    ::munmap(m, span);
    return whole;
}

}  // namespace wharf::storage::detail
