// A real Ceph RADOS Gateway (Debian 12's radosgw 16.2) on free loopback ports, for integration
// tests: a throwaway single-node cluster (1 mon, 1 memstore OSD, no mgr, auth none) and radosgw
// (beast), all state in its own temporary folder, so parallel test binaries do not collide.
// tests/servers/rgw-start.sh does the bring-up (~15-20 s): start one per test binary (e.g. from
// a gtest Environment), not one per test.
#pragma once

#include "wharf/test/process.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

namespace wharf::test {

class rgw_server {
public:
    // Starts the cluster and radosgw, creates the S3 user (access_key()/secret_key(), which RGW
    // checks with SigV4) and the bucket `bucket`. Throws std::runtime_error, with the script's
    // output, when it cannot (the daemons it did start are stopped).
    explicit rgw_server(std::string bucket = "wharf");
    // Stops the daemons by their PIDs (TERM, then KILL) and removes the folder.
    ~rgw_server();
    rgw_server(const rgw_server&) = delete;
    rgw_server& operator=(const rgw_server&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
    const std::string& bucket() const noexcept { return bucket_; }
    std::string access_key() const { return "wharf-ak"; }
    std::string secret_key() const { return "wharf-sk"; }
    const std::filesystem::path& dir() const noexcept { return dir_.path(); }

private:
    void stop() noexcept;

    temp_dir dir_;
    std::string bucket_;
    std::uint16_t port_ = 0;
    std::vector<pid_t> pids_;
};

}  // namespace wharf::test
