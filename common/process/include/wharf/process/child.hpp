// An owned child process (ffmpeg, ffprobe, pg_dump): started in its own process group, niced,
// killed by the kernel if the thread that started it dies (PR_SET_PDEATHSIG), its stdout an Asio
// pipe, its stderr's last lines kept for error messages, its exit observed through a pidfd
// without blocking an I/O thread -- and an owner that ends the whole group on every exit path.
//
// The rule for callers: run the work with run_owned() (or call stop() yourself on every path).
// stop() sends SIGTERM (and SIGCONT, so a stopped child can act on it) to the group, SIGKILL
// after the grace period, SIGKILL again to whatever is left in the group, and reaps the child.
// The destructor is the last line of defence when a coroutine is destroyed without finishing
// (io_context stopped): SIGKILL to the group and a reap, synchronously.
//
// PR_SET_PDEATHSIG follows the *thread* that forked: the child gets SIGKILL when that thread
// exits, not only when the process does. Start children from threads that live as long as their
// children should (wharf-worker's I/O threads run until the process ends); never from a
// short-lived thread.
//
// Linux only (pidfd_open: 5.3+, close_range: 5.9+).
#pragma once

#include "wharf/process/line_tail.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/this_coro.hpp>

#include <chrono>
#include <csignal>
#include <exception>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace wharf::process {

struct spawn_options {
    std::vector<std::string> argv;  // argv[0]: a path, or a name looked up in PATH
    std::filesystem::path cwd;      // empty: the caller's
    int nice = 0;                   // added to the child's niceness, 0..19
    bool capture_stdout = true;     // else stdout goes to /dev/null
    bool capture_stdin = false;     // else stdin is /dev/null
    // "NAME=value" entries set in the child's environment (over the caller's): how a secret such
    // as PGPASSWORD reaches a child without showing in its argv (ps).
    std::vector<std::string> env;
    std::size_t stderr_lines = 20;
    std::size_t stderr_line_bytes = 1000;
};

struct exit_status {
    int code = -1;   // the exit code; -1 when a signal ended it
    int signal = 0;  // the signal that ended it; 0 when it exited
    bool success() const noexcept { return signal == 0 && code == 0; }
    std::string describe() const;  // "exit code 1", "killed by SIGKILL"
};

inline constexpr std::chrono::milliseconds default_kill_grace{10'000};

class child {
public:
    // Starts the process. Throws std::system_error when it cannot (argv[0] not found or not
    // executable: std::errc::no_such_file_or_directory / permission_denied; fork or pipe failed).
    child(boost::asio::any_io_executor executor, spawn_options options);
    ~child();
    child(const child&) = delete;
    child& operator=(const child&) = delete;

    pid_t pid() const noexcept { return pid_; }

    // The child's stdout (capture_stdout); a read ends with boost::asio::error::eof.
    boost::asio::posix::stream_descriptor& stdout_pipe() noexcept { return stdout_; }
    // The child's stdin (capture_stdin); close it (close_stdin) to give the child its EOF.
    boost::asio::posix::stream_descriptor& stdin_pipe() noexcept { return stdin_; }
    void close_stdin() noexcept {
        boost::system::error_code ignored;
        stdin_.close(ignored);
    }

    // Reads stderr into the tail until the child closes it.
    boost::asio::awaitable<void> read_stderr();
    // Waits until the child has exited (it is not reaped: stop() does that).
    boost::asio::awaitable<void> wait_exit();
    // Ends the child and its group (see the top of this file) and returns how the child ended.
    // Never throws. It awaits, so a caller that was cancelled must first
    // `co_await boost::asio::this_coro::reset_cancellation_state()` (run_owned does); a second
    // cancellation during stop() skips the rest of the grace period.
    boost::asio::awaitable<exit_status> stop(std::chrono::milliseconds grace = default_kill_grace);

    // SIGKILL to the group now, for a caller that must end it from a non-coroutine context (it
    // still needs stop(), which then finds it exited and reaps it).
    void kill() noexcept {
        signalled_ = true;
        signal_group(SIGKILL);
    }

    // The last lines of stderr so far. Safe to call from another thread than read_stderr's (a
    // caller reading the child's stdout on a strand of its own).
    std::vector<std::string> stderr_tail() const {
        std::lock_guard lock(tail_mutex_);
        return tail_.lines();
    }
    std::string stderr_text() const {
        std::lock_guard lock(tail_mutex_);
        return tail_.joined();
    }
    // Whether stop() had to signal it (it had not exited by itself).
    bool signalled_by_owner() const noexcept { return signalled_; }
    std::optional<exit_status> status() const noexcept { return status_; }

private:
    bool exited_now();  // the pidfd is readable (non-blocking check)
    boost::asio::awaitable<void> wait_exit_for(std::chrono::milliseconds d);
    void signal_group(int sig) const noexcept;
    exit_status reap() noexcept;

    pid_t pid_ = -1;
    boost::asio::posix::stream_descriptor stdout_, stderr_, stdin_, pidfd_;
    mutable std::mutex tail_mutex_;
    line_tail tail_;
    std::optional<exit_status> status_;
    bool signalled_ = false;
};

// Runs `work` (which uses `c`), then stops `c` whatever happened -- `work` returned, threw, or
// the coroutine was cancelled (the cancellation state is reset first, so the SIGTERM / grace /
// SIGKILL sequence runs even then) -- and rethrows what `work` threw. `status` (may be null)
// gets how the child ended.
template <class T>
boost::asio::awaitable<T> run_owned(child& c, boost::asio::awaitable<T> work, std::chrono::milliseconds grace,
                                    exit_status* status = nullptr) {
    std::exception_ptr failure;
    std::optional<T> value;
    try {
        value.emplace(co_await std::move(work));
    } catch (...) {
        failure = std::current_exception();
    }
    co_await boost::asio::this_coro::reset_cancellation_state();
    auto stopping = c.stop(grace);
    const exit_status ended = co_await std::move(stopping);
    if (status) *status = ended;
    if (failure) std::rethrow_exception(failure);
    co_return std::move(*value);
}

}  // namespace wharf::process
