// Child processes, free loopback ports and temporary folders for tests.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace wharf::test {

// A TCP port on 127.0.0.1 that nothing listened on a moment ago.
std::uint16_t free_port();

// Blocks until something accepts TCP connections on 127.0.0.1:port, or throws after timeout.
void wait_for_port(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A folder under $TMPDIR removed (recursively) on destruction.
class temp_dir {
public:
    explicit temp_dir(const std::string& prefix = "wharf-test");
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

struct process_options {
    std::map<std::string, std::string> env;  // added to the inherited environment
    std::optional<std::filesystem::path> cwd;
    std::optional<std::filesystem::path> output;  // stdout+stderr go here (default: /dev/null)
    std::optional<std::string> run_as_user;  // e.g. "postgres" when the tests run as root
    bool new_process_group = true;
};

// A child process; killed (SIGKILL to its process group) on destruction if still running.
class process {
public:
    process(std::vector<std::string> argv, process_options options = {});
    ~process();
    process(process&& other) noexcept;
    process& operator=(process&&) = delete;
    process(const process&) = delete;

    pid_t pid() const noexcept { return pid_; }
    bool running();
    void signal(int sig);
    // Waits for exit; returns the exit status (128+signal when killed), or nullopt on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
    void kill_hard();  // SIGKILL and reap

private:
    pid_t pid_ = -1;
    std::optional<int> status_;
    bool group_ = true;
};

// Runs a command to completion and returns its exit status and combined output.
struct run_result {
    int status = -1;
    std::string output;
};
run_result run(const std::vector<std::string>& argv, const process_options& options = {},
               std::chrono::milliseconds timeout = std::chrono::seconds(60));

// The repository root and build folder (from WHARF_SOURCE_DIR / WHARF_BINARY_DIR set by ctest).
// The whole of a small file such as /proc/<pid>/cmdline, or "" when it cannot be read -- the
// process may end while it is being read (a stream would throw "No such process" then).
std::string read_proc_file(const std::filesystem::path& path);

std::filesystem::path source_dir();
std::filesystem::path binary_dir();

}  // namespace wharf::test
