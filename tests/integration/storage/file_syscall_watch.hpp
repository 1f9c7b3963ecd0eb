// Which thread touches files: this test binary interposes the libc file calls (open, openat,
// stat, pread, pwrite, read, write, fsync, fdatasync, ftruncate, rename, renameat, unlink,
// unlinkat) and records those made on one watched thread -- an io_context's -- that touch a
// regular file or a path under a watched folder. Calls on other threads are only counted. Code
// linked into the binary (the storage library, libstdc++'s std::filesystem) goes through the
// interposed symbols; socket and eventfd traffic is not a regular file and is ignored.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace wharf::test::file_syscalls {

// Starts recording: calls on `io_thread`, and path calls under `folder` on any thread.
void watch(std::thread::id io_thread, std::filesystem::path folder);

struct report {
    std::vector<std::string> on_io_thread;  // "fsync(regular file)", "open(/tmp/x/.wharf-tmp-...)"
    std::size_t elsewhere = 0;              // matching calls made on other threads
};
// What was recorded since watch() (or the last take()), and starts over.
report take();

}  // namespace wharf::test::file_syscalls
