// A real redis-server on a free loopback port for integration tests (optionally with a password,
// an append-only file that survives restart(), or TLS with a throwaway CA).
#pragma once

#include "wharf/test/process.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace wharf::test {

struct redis_server_options {
    bool appendonly = false;   // appendonly yes: data survives restart()
    // With appendonly: "always" (every write fsync'ed before the reply) or "everysec" (as most
    // deployments run it; a kill -9 loses nothing written, an OS crash up to a second).
    std::string appendfsync = "always";
    std::string requirepass;   // non-empty: clients must AUTH
    bool tls = false;          // also listen with TLS (certificate made by the openssl CLI)
};

class redis_server {
public:
    // Starts /usr/bin/redis-server and waits until it answers PING (throws after 30 s).
    explicit redis_server(redis_server_options options = {});
    ~redis_server();  // kills the server; the data folder goes with it
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    // The plain TCP port (also with tls: the fixture itself talks to it).
    std::uint16_t port() const noexcept { return port_; }
    // The TLS port (0 without tls).
    std::uint16_t tls_port() const noexcept { return tls_port_; }
    // redis://[:password@]127.0.0.1:port/0, or with tls rediss://...:tls_port?ca=<ca_file()>.
    std::string url() const;
    // The unix socket the server also listens on (unix:// URLs).
    std::filesystem::path unix_socket() const { return dir_.path() / "redis.sock"; }
    // The CA that signed the server certificate (tls only).
    std::filesystem::path ca_file() const;
    const std::filesystem::path& dir() const noexcept { return dir_.path(); }

    // SIGTERM (Redis saves the AOF on a clean shutdown) and wait; start() again on the same port.
    // The server dies with the thread that called start() (setpriv --pdeathsig follows the
    // starting thread): start it from a thread that outlives its use.
    void stop();
    void start();
    void restart();
    // kill -9 (no shutdown, no final AOF rewrite: a crash) and reap; start() again brings it back
    // on the same port and data folder, replaying the AOF.
    void kill();
    // Sends a signal to the server process (SIGSTOP / SIGCONT to simulate a stalled server).
    void signal(int sig);
    bool running() const noexcept { return proc_ != nullptr; }

private:
    void wait_until_ready();

    redis_server_options options_;
    temp_dir dir_;
    std::uint16_t port_ = 0;
    std::uint16_t tls_port_ = 0;
    std::unique_ptr<process> proc_;
};

// Makes a self-signed CA (ca.key, ca.crt) in `dir` with the openssl CLI; returns the cert path.
std::filesystem::path make_test_ca(const std::filesystem::path& dir, const std::string& name = "wharf test CA");
// Makes that CA and a server certificate it signed (server.key, server.crt) for both ways a test
// reaches a loopback server: IP 127.0.0.1 and DNS localhost. Returns the CA's cert path.
std::filesystem::path make_test_server_cert(const std::filesystem::path& dir);

}  // namespace wharf::test
