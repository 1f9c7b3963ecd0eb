// A real PostgreSQL 15 on a free loopback port for integration tests: initdb in a temporary
// folder (trust authentication, no fsync), one database created, restart() for outage tests.
#pragma once

#include "wharf/test/process.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace wharf::test {

struct postgres_server_options {
    std::string database = "wharf";
    // A password for the `postgres` role; non-empty switches authentication to scram-sha-256
    // (for tests of refused connections). Empty: trust.
    std::string password;
    // synchronous_commit=on: a COMMIT returns once its WAL is written, so a crash of the server
    // (stop_immediate()) loses no committed transaction. Off by default (faster tests), where an
    // immediate stop may lose the last commits, which no real deployment accepts.
    bool synchronous_commit = false;
};

class postgres_server {
public:
    // initdb (as user postgres when running as root, since PostgreSQL refuses root), start, wait
    // until it accepts sessions, create the database. Throws with the server log on failure.
    explicit postgres_server(postgres_server_options options = {});
    ~postgres_server();  // stops the server; the data folder goes with it
    postgres_server(const postgres_server&) = delete;
    postgres_server& operator=(const postgres_server&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    // postgresql://postgres[:password]@127.0.0.1:port/<database>
    std::string url() const;
    std::string url(const std::string& database) const;

    // Fast shutdown (SIGINT: sessions are terminated, as in a real restart) and wait; start()
    // again on the same port and data folder.
    void stop();
    void start();
    void restart();
    // Immediate shutdown (SIGQUIT: no checkpoint, crash recovery at the next start()), as a
    // crashed server; wait.
    void stop_immediate();
    bool running() const noexcept { return proc_ != nullptr; }
    // The server log (for failure messages).
    std::string log() const;

private:
    void wait_until_ready();

    postgres_server_options options_;
    temp_dir dir_;
    std::filesystem::path data_;
    std::uint16_t port_ = 0;
    std::unique_ptr<process> proc_;
};

}  // namespace wharf::test
