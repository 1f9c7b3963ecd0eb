// The owned child process (see child.hpp).
#include "wharf/process/child.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

extern char** environ;

namespace wharf::process {

namespace asio = boost::asio;

namespace {

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

[[noreturn]] void throw_errno(int err, const std::string& what) {
    throw std::system_error(err, std::generic_category(), what);
}

// An fd closed on scope exit unless released.
struct fd_guard {
    int fd = -1;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
    int release() { return std::exchange(fd, -1); }
};

// argv[0] as execve needs it: a path, or the first executable of that name in PATH.
std::string resolve(const std::string& name) {
    if (name.find('/') != std::string::npos) {
        if (::access(name.c_str(), X_OK) != 0) throw_errno(errno, name);
        return name;
    }
    const char* env = std::getenv("PATH");
    const std::string path = env && *env ? env : "/usr/local/bin:/usr/bin:/bin";
    std::size_t at = 0;
    while (at <= path.size()) {
        auto colon = path.find(':', at);
        if (colon == std::string::npos) colon = path.size();
        std::string dir = path.substr(at, colon - at);
        at = colon + 1;
        if (dir.empty()) dir = ".";
        const std::string candidate = dir + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    throw_errno(ENOENT, name + ": not found in PATH");
}

// Only async-signal-safe calls from here to execve: the parent may have other threads, and one of
// them may have held the allocator's lock when we forked.
[[noreturn]] void exec_child(const char* exe, char* const* argv, char* const* envp, const char* cwd, int nice, pid_t parent, int in_fd,
                             int out_fd, int err_fd, int report_fd) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before the line above
    // A clean signal state: the parent may ignore SIGPIPE, and handlers do not survive exec.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
    if (nice > 0) {
        errno = 0;
        const int now = ::getpriority(PRIO_PROCESS, 0);
        if (errno == 0) ::setpriority(PRIO_PROCESS, 0, std::min(19, now + nice));
    }
    int err = 0;
    if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) err = errno;
    if (!err && cwd && ::chdir(cwd) != 0) err = errno;
    if (!err) {
        // Nothing of the parent's (sockets, files) leaks into the child; report_fd is CLOEXEC
        // already and closes when execve succeeds.
        if (::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0) {
            for (int fd = 3; fd < 4096; ++fd)
                if (fd != report_fd) ::close(fd);
        }
        ::execve(exe, argv, envp);
        err = errno;
    }
    ssize_t ignored = ::write(report_fd, &err, sizeof err);
    (void)ignored;
    ::_exit(127);
}

}  // namespace

std::string exit_status::describe() const {
    if (signal != 0) {
        const char* abbrev = ::sigabbrev_np(signal);
        return abbrev ? std::string("killed by SIG") + abbrev : "killed by signal " + std::to_string(signal);
    }
    return "exit code " + std::to_string(code);
}

child::child(asio::any_io_executor executor, spawn_options options)
    : stdout_(executor), stderr_(executor), stdin_(executor), pidfd_(executor), tail_(options.stderr_lines, options.stderr_line_bytes) {
    if (options.argv.empty()) throw std::invalid_argument("child: empty argv");
    const std::string exe = resolve(options.argv.front());
    std::vector<char*> argv;
    for (auto& a : options.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string cwd = options.cwd.string();
    // The environment, built before fork (nothing may allocate in the child): ours, minus the
    // names options.env sets, plus options.env.
    std::vector<std::string> env_entries;
    for (char** e = environ; *e; ++e) {
        const std::string_view entry(*e);
        const std::string_view name = entry.substr(0, entry.find('='));
        const bool replaced = std::any_of(options.env.begin(), options.env.end(), [name](const std::string& o) {
            return std::string_view(o).substr(0, o.find('=')) == name;
        });
        if (!replaced) env_entries.emplace_back(entry);
    }
    for (const auto& e : options.env) {
        if (e.find('=') == std::string::npos) throw std::invalid_argument("child: env entry without '='");
        env_entries.push_back(e);
    }
    std::vector<char*> envp;
    for (auto& e : env_entries) envp.push_back(e.data());
    envp.push_back(nullptr);

    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw_errno(errno, "pipe2");
    fd_guard err_r{p[0]}, err_w{p[1]};
    fd_guard out_r, out_w;
    if (options.capture_stdout) {
        if (::pipe2(p, O_CLOEXEC) != 0) throw_errno(errno, "pipe2");
        out_r.fd = p[0];
        out_w.fd = p[1];
    } else {
        out_w.fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (out_w.fd < 0) throw_errno(errno, "/dev/null");
    }
    if (::pipe2(p, O_CLOEXEC) != 0) throw_errno(errno, "pipe2");
    fd_guard report_r{p[0]}, report_w{p[1]};
    fd_guard in, in_w;
    if (options.capture_stdin) {
        if (::pipe2(p, O_CLOEXEC) != 0) throw_errno(errno, "pipe2");
        in.fd = p[0];
        in_w.fd = p[1];
    } else {
        in.fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (in.fd < 0) throw_errno(errno, "/dev/null");
    }

    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw_errno(errno, "fork");
    if (pid == 0)
        exec_child(exe.c_str(), argv.data(), envp.data(), cwd.empty() ? nullptr : cwd.c_str(), options.nice, parent, in.fd, out_w.fd,
                   err_w.fd, report_w.fd);
    pid_ = pid;
    ::setpgid(pid, pid);  // also here, so no signal to the group can come before the child's own call
    ::close(report_w.release());
    ::close(out_w.release());
    ::close(err_w.release());
    ::close(in.release());
    // From here on a failure must not leave the child behind: no destructor runs for an object
    // whose constructor threw.
    try {
        // Blocks only until execve succeeds (the CLOEXEC pipe closes: 0 bytes) or fails (its
        // errno): a fork and an exec, well under a millisecond of this thread.
        int exec_errno = 0;
        ssize_t n;
        do {
            n = ::read(report_r.fd, &exec_errno, sizeof exec_errno);
        } while (n < 0 && errno == EINTR);
        if (n == static_cast<ssize_t>(sizeof exec_errno)) throw_errno(exec_errno, "cannot run " + options.argv.front());

        fd_guard pidfd{static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))};
        if (pidfd.fd < 0) throw_errno(errno, "pidfd_open");
        pidfd_.assign(pidfd.fd);
        pidfd.release();
        if (options.capture_stdout) {
            stdout_.assign(out_r.fd);
            out_r.release();
        }
        stderr_.assign(err_r.fd);
        err_r.release();
        if (options.capture_stdin) {
            stdin_.assign(in_w.fd);
            in_w.release();
        }
    } catch (...) {
        signal_group(SIGKILL);
        reap();
        throw;
    }
}

child::~child() {
    if (pid_ > 0 && !status_) {
        signal_group(SIGKILL);
        reap();
    }
}

void child::signal_group(int sig) const noexcept {
    // Only while the child is not reaped: until then its pid (and so the group id) cannot be reused.
    if (pid_ > 0 && !status_) ::kill(-pid_, sig);
}

bool child::exited_now() {
    if (status_) return true;
    pollfd p{pidfd_.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP)) != 0;
}

exit_status child::reap() noexcept {
    if (status_) return *status_;
    int st = 0;
    pid_t r;
    do {
        r = ::waitpid(pid_, &st, 0);
    } while (r < 0 && errno == EINTR);
    exit_status s;
    if (r == pid_) {
        if (WIFEXITED(st)) s.code = WEXITSTATUS(st);
        else if (WIFSIGNALED(st)) s.signal = WTERMSIG(st);
    }
    status_ = s;
    return s;
}

asio::awaitable<void> child::read_stderr() {
    std::array<char, 4096> buf;
    for (;;) {
        // EOF is how the child says it is done with stderr: branched on, not thrown.
        auto [ec, n] = co_await stderr_.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        {
            std::lock_guard lock(tail_mutex_);
            tail_.feed(std::string_view(buf.data(), n));
        }
        if (ec == asio::error::eof) co_return;
        if (ec) throw boost::system::system_error(ec, "reading the stderr of pid " + std::to_string(pid_));
    }
}

asio::awaitable<void> child::wait_exit() {
    if (exited_now()) co_return;
    co_await pidfd_.async_wait(asio::posix::descriptor_base::wait_read, asio::use_awaitable);
}

// The exit, or the time running out, or a cancellation: whichever comes first; never throws.
asio::awaitable<void> child::wait_exit_for(std::chrono::milliseconds d) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(pidfd_.get_executor(), d);
    auto race = (pidfd_.async_wait(asio::posix::descriptor_base::wait_read, asio::as_tuple(asio::use_awaitable)) ||
                 timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    co_await std::move(race);
}

asio::awaitable<exit_status> child::stop(std::chrono::milliseconds grace) {
    if (status_) co_return *status_;
    // Nothing here may throw, also not when the caller is cancelled again meanwhile.
    const bool threw_before = co_await asio::this_coro::throw_if_cancelled();
    co_await asio::this_coro::throw_if_cancelled(false);
    if (!exited_now()) {
        signalled_ = true;
        signal_group(SIGTERM);
        signal_group(SIGCONT);  // a stopped process acts on SIGTERM only once continued
        auto waiting = wait_exit_for(grace);
        co_await std::move(waiting);
        if (!exited_now()) {
            signal_group(SIGKILL);
            auto dying = wait_exit_for(std::chrono::seconds(5));
            co_await std::move(dying);
        }
    }
    // Whatever else is still in the group (the leader is a zombie now, so its group id is still
    // ours), then the leader's exit status.
    signal_group(SIGKILL);
    const exit_status s = reap();
    co_await asio::this_coro::throw_if_cancelled(threw_before);
    co_return s;
}

}  // namespace wharf::process
