// nginx_server: an nginx child process on loopback for integration tests.
#include "wharf/test/nginx_server.hpp"

#include "wharf/test/redis_server.hpp"
#include "wharf/test/storage_data.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace wharf::test {
namespace fs = std::filesystem;

namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

}  // namespace

nginx_server::nginx_server(nginx_options options) : dir_("wharf-nginx"), root_(dir_.path() / "www") {
    fs::create_directories(root_);
    fs::create_directories(dir_.path() / "tmp");
    if (options.tls) make_test_server_cert(dir_.path());
    std::string servers = options.servers;
    for (std::size_t i = 0; i < options.ports; ++i) {
        std::uint16_t p = free_port();
        while (std::find(ports_.begin(), ports_.end(), p) != ports_.end()) p = free_port();
        ports_.push_back(p);
        servers = replace_all(servers, "@PORT" + std::to_string(i) + "@", std::to_string(p));
    }
    servers = replace_all(servers, "@ROOT@", root_.string());
    servers = replace_all(servers, "@DIR@", dir_.path().string());
    const auto d = dir_.path().string();
    std::ofstream(dir_.path() / "nginx.conf")
        << "daemon off;\nmaster_process off;\nworker_processes 1;\npid " << d << "/nginx.pid;\nerror_log " << d
        << "/error.log info;\nevents { worker_connections 256; }\nhttp {\n"
        << "  types { video/mp4 mp4; text/plain txt; text/html html; application/octet-stream bin; }\n"
        << "  default_type application/octet-stream;\n"
        << "  log_format wharf '$server_port $request_method $uri status=$status range=\"$http_range\" "
           "if_range=\"$http_if_range\" sent=$body_bytes_sent';\n"
        << "  access_log " << d << "/access.log wharf;\n"
        << "  client_body_temp_path " << d << "/tmp/body;\n  proxy_temp_path " << d << "/tmp/proxy;\n"
        << "  fastcgi_temp_path " << d << "/tmp/fastcgi;\n  uwsgi_temp_path " << d << "/tmp/uwsgi;\n"
        << "  scgi_temp_path " << d << "/tmp/scgi;\n  sendfile on;\n"
        << servers << "\n}\n";
    // setpriv --pdeathsig: the server dies with the test even when a crash skips the destructor.
    process_options opts;
    opts.cwd = dir_.path();
    opts.output = dir_.path() / "nginx.out";
    proc_ = std::make_unique<process>(
        std::vector<std::string>{"setpriv", "--pdeathsig", "KILL", "--", "/usr/sbin/nginx", "-p", d, "-c",
                                 d + "/nginx.conf", "-e", d + "/error.log"},
        opts);
    try {
        for (auto p : ports_) {
            if (!proc_->running()) throw std::runtime_error("nginx exited at start");
            wait_for_port(p, std::chrono::seconds(30));
        }
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string(e.what()) + ": " + slurp(dir_.path() / "error.log") +
                                 slurp(dir_.path() / "nginx.out"));
    }
}

nginx_server::~nginx_server() {
    if (proc_) proc_->kill_hard();
}

std::string nginx_server::url(std::string_view path, std::size_t index) const {
    return "http://127.0.0.1:" + std::to_string(port(index)) + std::string(path);
}

std::string nginx_server::access_log() const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::string log = slurp(dir_.path() / "access.log");
    while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        std::string again = slurp(dir_.path() / "access.log");
        if (again == log) break;
        log = std::move(again);
    }
    return log;
}

std::string nginx_server::access_log_with(std::string_view needle) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::string log = slurp(dir_.path() / "access.log");
    while (log.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        log = slurp(dir_.path() / "access.log");
    }
    return log;
}

}  // namespace wharf::test
