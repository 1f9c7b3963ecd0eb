// A real moto S3 server (python3 -m moto.server) on a free loopback port, for integration tests.
#pragma once

#include "wharf/test/process.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace wharf::test {

class moto_server {
public:
    // Starts moto with its spool directory (TMPDIR) in a temporary folder and waits for its port.
    moto_server();
    ~moto_server();
    moto_server(const moto_server&) = delete;
    moto_server& operator=(const moto_server&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

    // Default mode accepts any credentials; buckets are created unsigned.
    void create_bucket(const std::string& name) const;

    // Switches moto to IAM mode (header signatures checked from then on: see
    // ../shared/peers/storage/RESULTS.md) and returns the access key of a user allowed s3:*.
    // Create the buckets first: after this, every request must be signed by a known key.
    struct access_key {
        std::string id, secret;
    };
    access_key enable_iam() const;

private:
    temp_dir dir_;
    std::uint16_t port_ = 0;
    std::optional<process> server_;
};

}  // namespace wharf::test
