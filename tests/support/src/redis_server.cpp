// redis_server: a redis-server child process on loopback for integration tests.
#include "wharf/test/redis_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <thread>

namespace wharf::test {
namespace fs = std::filesystem;

namespace {

void must_run(const std::vector<std::string>& argv, const fs::path& cwd) {
    process_options opts;
    opts.cwd = cwd;
    auto r = run(argv, opts);
    if (r.status != 0) throw std::runtime_error("`" + argv[0] + " " + argv[1] + "` failed: " + r.output);
}

// One blocking request/response on a fresh TCP connection (the fixture runs off any event loop).
// Returns the first line of the answer, or "" when nothing answered.
std::string ask(std::uint16_t port, const std::string& request) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return {};
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    std::string answer;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
        char buf[512];
        while (answer.find('\n') == std::string::npos) {
            const auto n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            answer.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return answer.substr(0, answer.find('\r'));
}

}  // namespace

fs::path make_test_ca(const fs::path& dir, const std::string& name) {
    must_run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=" + name},
             dir);
    return dir / "ca.crt";
}

fs::path make_test_server_cert(const fs::path& dir) {
    const auto ca = make_test_ca(dir);
    // The server certificate names both ways a test may reach it.
    std::ofstream(dir / "san.cnf") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    must_run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
              "server.key", "-out", "server.csr", "-subj", "/CN=localhost"},
             dir);
    must_run({"openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
              "-out", "server.crt", "-days", "2", "-extfile", "san.cnf"},
             dir);
    return ca;
}

redis_server::redis_server(redis_server_options options) : options_(std::move(options)), dir_("wharf-redis") {
    port_ = free_port();
    if (options_.tls) {
        tls_port_ = free_port();
        while (tls_port_ == port_) tls_port_ = free_port();
        make_test_server_cert(dir_.path());
    }
    start();
}

redis_server::~redis_server() {
    if (proc_) proc_->kill_hard();
}

std::string redis_server::url() const {
    std::string auth = options_.requirepass.empty() ? "" : ":" + options_.requirepass + "@";
    if (options_.tls)
        return "rediss://" + auth + "127.0.0.1:" + std::to_string(tls_port_) + "/0?ca=" + ca_file().string();
    return "redis://" + auth + "127.0.0.1:" + std::to_string(port_) + "/0";
}

fs::path redis_server::ca_file() const { return dir_.path() / "ca.crt"; }

void redis_server::start() {
    if (proc_) return;
    // setpriv --pdeathsig: the server dies with the test process even when a crash or a ctest
    // timeout skips the destructor (it execs redis-server, so pid() and signals still reach it).
    std::vector<std::string> argv = {"setpriv", "--pdeathsig", "KILL", "--",
                                     "/usr/bin/redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                     "--save", "", "--dir", dir_.path().string(), "--daemonize", "no",
                                     "--unixsocket", unix_socket().string(), "--unixsocketperm", "700",
                                     "--appendonly", options_.appendonly ? "yes" : "no"};
    if (options_.appendonly) argv.insert(argv.end(), {"--appendfsync", options_.appendfsync});
    if (!options_.requirepass.empty()) argv.insert(argv.end(), {"--requirepass", options_.requirepass});
    if (options_.tls) {
        argv.insert(argv.end(), {"--tls-port", std::to_string(tls_port_), "--tls-cert-file",
                                 (dir_.path() / "server.crt").string(), "--tls-key-file",
                                 (dir_.path() / "server.key").string(), "--tls-ca-cert-file", ca_file().string(),
                                 "--tls-auth-clients", "no"});
    }
    process_options opts;
    opts.cwd = dir_.path();
    opts.output = dir_.path() / "redis.log";
    proc_ = std::make_unique<process>(argv, opts);
    wait_until_ready();
}

void redis_server::wait_until_ready() {
    const std::string request =
        (options_.requirepass.empty() ? "" : "AUTH " + options_.requirepass + "\r\n") + "PING\r\n";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
        if (!proc_->running()) {
            std::ifstream log(dir_.path() / "redis.log");
            std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
            proc_.reset();
            throw std::runtime_error("redis-server exited at start: " + text);
        }
        // With a password the first line answers AUTH; +OK there means PING follows.
        const auto first = ask(port_, request);
        if (first == "+PONG" || first == "+OK") return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("redis-server on port " + std::to_string(port_) + " did not answer PING within 30 s");
}

void redis_server::stop() {
    if (!proc_) return;
    proc_->signal(SIGCONT);  // a stopped server cannot shut down
    proc_->signal(SIGTERM);
    if (!proc_->wait(std::chrono::seconds(15))) proc_->kill_hard();
    proc_.reset();
}

void redis_server::kill() {
    if (!proc_) return;
    proc_->kill_hard();
    proc_.reset();
}

void redis_server::restart() {
    stop();
    start();
}

void redis_server::signal(int sig) {
    if (proc_) proc_->signal(sig);
}

}  // namespace wharf::test
