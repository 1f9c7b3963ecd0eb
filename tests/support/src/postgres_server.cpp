// postgres_server: initdb + postgres child process on loopback for integration tests.
#include "wharf/test/postgres_server.hpp"

#include <pqxx/pqxx>

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace wharf::test {
namespace fs = std::filesystem;
namespace {

const fs::path pg_bin = "/usr/lib/postgresql/15/bin";

// PostgreSQL refuses to run as root; the tests do run as root (CI), so the server runs as the
// `postgres` system user and owns its folder.
std::optional<std::string> server_user() {
    if (::geteuid() != 0) return std::nullopt;
    return std::string{"postgres"};
}

void chown_to(const fs::path& path, const std::string& user) {
    passwd* pw = ::getpwnam(user.c_str());
    if (!pw) throw std::runtime_error("postgres_server: no user " + user);
    if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0)
        throw std::runtime_error("postgres_server: chown " + path.string() + " failed");
}

std::string tail(const std::string& text, std::size_t n = 3000) {
    return text.size() <= n ? text : text.substr(text.size() - n);
}

}  // namespace

postgres_server::postgres_server(postgres_server_options options)
    : options_(std::move(options)), dir_("wharf-pg"), data_(dir_.path() / "data") {
    const auto user = server_user();
    if (user) chown_to(dir_.path(), *user);
    port_ = free_port();

    process_options opts;
    opts.cwd = dir_.path();
    opts.run_as_user = user;
    std::vector<std::string> argv = {(pg_bin / "initdb").string(), "-D", data_.string(), "-U", "postgres",
                                     "-E", "UTF8", "--locale=C", "--no-sync"};
    if (options_.password.empty()) {
        argv.insert(argv.end(), {"-A", "trust"});
    } else {
        const auto pwfile = dir_.path() / "pwfile";
        std::ofstream(pwfile) << options_.password << "\n";
        if (user) chown_to(pwfile, *user);
        argv.insert(argv.end(), {"-A", "scram-sha-256", "--pwfile", pwfile.string()});
    }
    auto r = run(argv, opts, std::chrono::seconds(120));
    if (r.status != 0) throw std::runtime_error("initdb failed: " + tail(r.output));

    start();
    try {
        pqxx::connection c(url("postgres"));
        pqxx::nontransaction tx(c);
        tx.exec0("CREATE DATABASE " + tx.quote_name(options_.database));
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("postgres_server: CREATE DATABASE failed: ") + e.what());
    }
}

postgres_server::~postgres_server() {
    try {
        stop();
    } catch (...) {
        // A destructor must not throw; the process destructor kills whatever is left.
    }
}

std::string postgres_server::url() const { return url(options_.database); }

std::string postgres_server::url(const std::string& database) const {
    std::string auth = "postgres";
    if (!options_.password.empty()) auth += ":" + options_.password;
    return "postgresql://" + auth + "@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

void postgres_server::start() {
    if (proc_) return;
    process_options opts;
    opts.cwd = dir_.path();
    opts.run_as_user = server_user();
    opts.output = dir_.path() / "postgres.log";
    proc_ = std::make_unique<process>(
        std::vector<std::string>{(pg_bin / "postgres").string(), "-D", data_.string(), "-p", std::to_string(port_),
                                 "-k", dir_.path().string(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                                 "-c", "full_page_writes=off", "-c",
                                 std::string("synchronous_commit=") + (options_.synchronous_commit ? "on" : "off"),
                                 "-c", "max_connections=200"},
        opts);
    wait_until_ready();
}

void postgres_server::wait_until_ready() {
    // The port opens before recovery ends ("the database system is starting up"), so wait for
    // a real session.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!proc_->running()) throw std::runtime_error("postgres exited during start-up: " + tail(log()));
        try {
            pqxx::connection c(url("postgres") + "?connect_timeout=2");
            return;
        } catch (const std::exception& e) {
            last = e.what();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("postgres did not accept sessions within 60 s: " + last + "\n" + tail(log()));
}

void postgres_server::stop() {
    if (!proc_) return;
    proc_->signal(SIGINT);  // fast shutdown
    if (!proc_->wait(std::chrono::seconds(30))) proc_->kill_hard();
    proc_.reset();
}

void postgres_server::stop_immediate() {
    if (!proc_) return;
    proc_->signal(SIGQUIT);
    if (!proc_->wait(std::chrono::seconds(30))) proc_->kill_hard();
    proc_.reset();
}

void postgres_server::restart() {
    stop();
    start();
}

std::string postgres_server::log() const {
    std::ifstream in(dir_.path() / "postgres.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace wharf::test
