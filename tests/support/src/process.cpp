// Child processes, free ports and temporary folders for tests.
#include "wharf/test/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace wharf::test {
namespace fs = std::filesystem;

std::uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        throw std::runtime_error("bind() failed");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

void wait_for_port(std::uint16_t port, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(port);
        const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        if (ok) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("nothing listens on 127.0.0.1:" + std::to_string(port));
}

temp_dir::temp_dir(const std::string& prefix) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
    path_ = buf.data();
}

temp_dir::~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

process::process(std::vector<std::string> argv, process_options options) : group_(options.new_process_group) {
    if (argv.empty()) throw std::invalid_argument("process: empty argv");
    std::optional<passwd> pw;
    if (options.run_as_user) {
        passwd* p = ::getpwnam(options.run_as_user->c_str());
        if (!p) throw std::runtime_error("no such user: " + *options.run_as_user);
        pw = *p;
    }
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
        std::string entry{*e};
        auto eq = entry.find('=');
        if (eq != std::string::npos && options.env.count(entry.substr(0, eq))) continue;
        env_strings.push_back(std::move(entry));
    }
    for (auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp, args;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    for (auto& s : argv) args.push_back(s.data());
    args.push_back(nullptr);
    const std::string out_path = options.output ? options.output->string() : "/dev/null";

    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        if (options.new_process_group) ::setpgid(0, 0);
        int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        int in = ::open("/dev/null", O_RDONLY);
        if (out >= 0) { ::dup2(out, 1); ::dup2(out, 2); }
        if (in >= 0) ::dup2(in, 0);
        if (options.cwd && ::chdir(options.cwd->c_str()) != 0) _exit(126);
        if (pw) {
            if (::setgid(pw->pw_gid) != 0 || ::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0)
                _exit(126);
        }
        ::execvpe(args[0], args.data(), envp.data());
        _exit(127);
    }
    if (options.new_process_group) ::setpgid(pid_, pid_);
}

process::process(process&& other) noexcept : pid_(other.pid_), status_(other.status_), group_(other.group_) {
    other.pid_ = -1;
}

process::~process() {
    if (pid_ > 0 && !status_) kill_hard();
}

bool process::running() {
    if (pid_ <= 0 || status_) return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return false;
    }
    return true;
}

void process::signal(int sig) {
    if (pid_ > 0 && !status_) ::kill(group_ ? -pid_ : pid_, sig);
}

std::optional<int> process::wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return status_;
}

void process::kill_hard() {
    if (pid_ <= 0 || status_) return;
    ::kill(group_ ? -pid_ : pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

run_result run(const std::vector<std::string>& argv, const process_options& options,
               std::chrono::milliseconds timeout) {
    temp_dir dir("wharf-run");
    process_options opts = options;
    opts.output = dir.path() / "out.txt";
    process p(argv, opts);
    run_result r;
    auto st = p.wait(timeout);
    if (!st) {
        p.kill_hard();
        r.status = -1;
    } else {
        r.status = *st;
    }
    std::ifstream in(*opts.output);
    std::stringstream ss;
    ss << in.rdbuf();
    r.output = ss.str();
    return r;
}

std::string read_proc_file(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;  // the end, or the process went away meanwhile
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > (1u << 20)) break;
    }
    ::close(fd);
    return out;
}

fs::path source_dir() {
    const char* s = std::getenv("WHARF_SOURCE_DIR");
    if (!s) throw std::runtime_error("WHARF_SOURCE_DIR is not set (run the tests through ctest)");
    return s;
}

fs::path binary_dir() {
    const char* s = std::getenv("WHARF_BINARY_DIR");
    if (!s) throw std::runtime_error("WHARF_BINARY_DIR is not set (run the tests through ctest)");
    return s;
}

}  // namespace wharf::test
