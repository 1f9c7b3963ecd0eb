// The interposed libc file calls of this test binary (see file_syscall_watch.hpp).
#include "file_syscall_watch.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <utility>

namespace wharf::test::file_syscalls {

namespace {

std::atomic<bool> watching{false};
std::mutex mutex;
std::thread::id io_thread_id;
std::string folder_prefix;
report recorded;
thread_local bool inside = false;  // the watch's own calls are not recorded

// The next definition of `name` after this binary's: libc's (or a sanitizer's interceptor).
template <typename F>
F next(const char* name) {
    return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

bool is_regular(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

void note(const char* call, const char* path, int fd) {
    if (!watching.load(std::memory_order_relaxed) || inside) return;
    inside = true;
    {
        std::lock_guard lock(mutex);
        const bool match = path ? std::string_view(path).starts_with(folder_prefix) : is_regular(fd);
        if (match) {
            if (std::this_thread::get_id() == io_thread_id)
                recorded.on_io_thread.push_back(std::string(call) + "(" + (path ? path : "a regular file") + ")");
            else
                ++recorded.elsewhere;
        }
    }
    inside = false;
}

mode_t mode_arg(int flags, va_list ap) {
    return (flags & (O_CREAT | O_TMPFILE)) ? static_cast<mode_t>(va_arg(ap, int)) : 0;
}

}  // namespace

void watch(std::thread::id io_thread, std::filesystem::path folder) {
    std::lock_guard lock(mutex);
    io_thread_id = io_thread;
    folder_prefix = folder.string();
    recorded = {};
    watching = true;
}

report take() {
    std::lock_guard lock(mutex);
    return std::exchange(recorded, report{});
}

}  // namespace wharf::test::file_syscalls

namespace watch = wharf::test::file_syscalls;

// Each hook takes a symbol name of its own (asm labels), so the header's large-file renames
// (_FILE_OFFSET_BITS=64 turns open into open64, pread into pread64, ...) cannot collide: both
// spellings are interposed and each forwards to its own next definition.
#define WHARF_WATCH_OPEN(fn, symbol)                                          \
    extern "C" int fn(const char* path, int flags, ...) __asm__(symbol);     \
    extern "C" int fn(const char* path, int flags, ...) {                    \
        va_list ap;                                                          \
        va_start(ap, flags);                                                 \
        const mode_t mode = watch::mode_arg(flags, ap);                      \
        va_end(ap);                                                          \
        watch::note("open", path, -1);                                       \
        static const auto real = watch::next<int (*)(const char*, int, ...)>(symbol); \
        return real(path, flags, mode);                                      \
    }
#define WHARF_WATCH_OPENAT(fn, symbol)                                             \
    extern "C" int fn(int dir, const char* path, int flags, ...) __asm__(symbol); \
    extern "C" int fn(int dir, const char* path, int flags, ...) {                \
        va_list ap;                                                               \
        va_start(ap, flags);                                                      \
        const mode_t mode = watch::mode_arg(flags, ap);                           \
        va_end(ap);                                                               \
        watch::note("openat", path, -1);                                          \
        static const auto real = watch::next<int (*)(int, const char*, int, ...)>(symbol); \
        return real(dir, path, flags, mode);                                      \
    }
// A call whose first argument is a path (`path_arg`) or a descriptor (`fd_arg`, path_arg nullptr).
#define WHARF_WATCH(ret, fn, symbol, params, args, path_arg, fd_arg)       \
    extern "C" ret fn params __asm__(symbol);                               \
    extern "C" ret fn params {                                              \
        watch::note(symbol, path_arg, fd_arg);                              \
        static const auto real = watch::next<ret(*) params>(symbol);        \
        return real args;                                                   \
    }

WHARF_WATCH_OPEN(watch_open, "open")
WHARF_WATCH_OPEN(watch_open64, "open64")
WHARF_WATCH_OPENAT(watch_openat, "openat")
WHARF_WATCH_OPENAT(watch_openat64, "openat64")
WHARF_WATCH(int, watch_stat, "stat", (const char* path, void* st), (path, st), path, -1)
WHARF_WATCH(int, watch_stat64, "stat64", (const char* path, void* st), (path, st), path, -1)
WHARF_WATCH(ssize_t, watch_read, "read", (int fd, void* buf, size_t n), (fd, buf, n), nullptr, fd)
WHARF_WATCH(ssize_t, watch_write, "write", (int fd, const void* buf, size_t n), (fd, buf, n), nullptr, fd)
WHARF_WATCH(ssize_t, watch_pread, "pread", (int fd, void* buf, size_t n, off_t at), (fd, buf, n, at), nullptr, fd)
WHARF_WATCH(ssize_t, watch_pread64, "pread64", (int fd, void* buf, size_t n, off_t at), (fd, buf, n, at), nullptr, fd)
WHARF_WATCH(ssize_t, watch_pwrite, "pwrite", (int fd, const void* buf, size_t n, off_t at), (fd, buf, n, at), nullptr, fd)
WHARF_WATCH(ssize_t, watch_pwrite64, "pwrite64", (int fd, const void* buf, size_t n, off_t at), (fd, buf, n, at), nullptr, fd)
WHARF_WATCH(int, watch_fsync, "fsync", (int fd), (fd), nullptr, fd)
WHARF_WATCH(int, watch_fdatasync, "fdatasync", (int fd), (fd), nullptr, fd)
WHARF_WATCH(int, watch_ftruncate, "ftruncate", (int fd, off_t length), (fd, length), nullptr, fd)
WHARF_WATCH(int, watch_ftruncate64, "ftruncate64", (int fd, off_t length), (fd, length), nullptr, fd)
WHARF_WATCH(int, watch_rename, "rename", (const char* from, const char* to), (from, to), to, -1)
WHARF_WATCH(int, watch_renameat, "renameat", (int fd, const char* from, int to_fd, const char* to), (fd, from, to_fd, to), to, -1)
WHARF_WATCH(int, watch_unlink, "unlink", (const char* path), (path), path, -1)
WHARF_WATCH(int, watch_unlinkat, "unlinkat", (int dir, const char* path, int flags), (dir, path, flags), path, -1)
