// The RGW fixture (see rgw_server.hpp).
#include "wharf/test/rgw_server.hpp"

#include <chrono>
#include <csignal>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace wharf::test {

namespace {

std::vector<pid_t> read_pids(const std::filesystem::path& file) {
    std::vector<pid_t> out;
    std::ifstream in(file);
    for (long pid = 0; in >> pid;)
        if (pid > 1) out.push_back(static_cast<pid_t>(pid));
    return out;
}

bool alive(pid_t pid) {
    return ::kill(pid, 0) == 0;
}

}  // namespace

rgw_server::rgw_server(std::string bucket) : dir_("wharf-rgw"), bucket_(std::move(bucket)) {
    // Three distinct free ports: the mon's msgr2 and msgr1 addresses, and radosgw's.
    std::uint16_t mon2 = free_port(), mon1 = free_port(), rgw = free_port();
    while (mon1 == mon2) mon1 = free_port();
    while (rgw == mon2 || rgw == mon1) rgw = free_port();
    port_ = rgw;
    const auto script = source_dir() / "tests" / "servers" / "rgw-start.sh";
    process_options o;
    o.env["CEPH_CONF"] = (dir_.path() / "ceph.conf").string();
    auto r = run({"bash", script.string(), dir_.path().string(), std::to_string(mon2), std::to_string(mon1),
                  std::to_string(rgw), bucket_, access_key(), secret_key(), std::to_string(::getpid())},
                 o, std::chrono::seconds(180));
    pids_ = read_pids(dir_.path() / "pids");
    if (r.status != 0 || r.output.find("ready") == std::string::npos) {
        stop();
        throw std::runtime_error("starting RGW failed (exit " + std::to_string(r.status) + "): " + r.output);
    }
}

rgw_server::~rgw_server() {
    stop();
}

void rgw_server::stop() noexcept {
    // The daemons fork into the background; their pid files name them.
    for (const pid_t pid : pids_) ::kill(pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (const pid_t pid : pids_)
        while (alive(pid) && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (const pid_t pid : pids_)
        if (alive(pid)) ::kill(pid, SIGKILL);
    pids_.clear();
}

}  // namespace wharf::test
