// A real nginx on free loopback ports for integration tests: the test writes the server blocks,
// the fixture the rest of the configuration (one process, logs and temp folders in its own
// folder, a document root the test fills), and an access log that records each request's Range
// and If-Range so a test can see what a client asked for.
#pragma once

#include "wharf/test/process.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::test {

struct nginx_options {
    // The server { } blocks. Placeholders: @PORT0@, @PORT1@, ... (the free ports), @ROOT@ (the
    // document root), @DIR@ (the server's folder: server.crt and server.key are there with tls).
    std::string servers;
    std::size_t ports = 1;
    bool tls = false;  // make a CA and a server certificate for 127.0.0.1 and localhost (ca_file())
};

class nginx_server {
public:
    // Starts /usr/sbin/nginx and waits until every port accepts connections (throws after 30 s,
    // with the error log).
    explicit nginx_server(nginx_options options);
    ~nginx_server();  // kills the server; its folder goes with it
    nginx_server(const nginx_server&) = delete;
    nginx_server& operator=(const nginx_server&) = delete;

    std::uint16_t port(std::size_t index = 0) const { return ports_.at(index); }
    // http://127.0.0.1:<port(index)><path>
    std::string url(std::string_view path, std::size_t index = 0) const;
    const std::filesystem::path& root() const noexcept { return root_; }
    const std::filesystem::path& dir() const noexcept { return dir_.path(); }
    std::filesystem::path ca_file() const { return dir_.path() / "ca.crt"; }
    // One line a request: `<port> <method> <uri> status=<s> range="<Range>" if_range="<If-Range>" sent=<body bytes>`.
    // nginx writes a line after the response's last byte has gone out, so a client can be done before its line is
    // there: this waits until the log has not grown for 100 ms (at most 5 s).
    std::string access_log() const;
    // The log once it holds `needle` (or after 5 s without it): for a request the test knows was made.
    std::string access_log_with(std::string_view needle) const;
    pid_t pid() const { return proc_ ? proc_->pid() : -1; }

private:
    temp_dir dir_;
    std::filesystem::path root_;
    std::vector<std::uint16_t> ports_;
    std::unique_ptr<process> proc_;
};

}  // namespace wharf::test
