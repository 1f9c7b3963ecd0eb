// A real moto S3 server (python3 -m moto.server) on a free loopback port, for integration tests.
#pragma once

#include "wharf/test/process.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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

    // Asked of moto directly (curl, unsigned), not through wharf's S3 client:
    // starts a multipart upload of `key`, sends a first part of `first_part_bytes` when not 0,
    // and returns the UploadId -- an upload as a crashed client leaves it;
    // PUTs `bytes` bytes as bucket/key (moto takes unsigned requests).
    void put_object(const std::string& bucket, const std::string& key, std::uint64_t bytes) const;
    std::string begin_upload(const std::string& bucket, const std::string& key, std::uint64_t first_part_bytes = 0) const;
    // the UploadIds of the bucket's incomplete multipart uploads (ListMultipartUploads).
    std::vector<std::string> open_uploads(const std::string& bucket) const;
    // The same, with each upload's key: {key, upload id} in the order moto lists them.
    std::vector<std::pair<std::string, std::string>> open_uploads_by_key(const std::string& bucket) const;
    // Every object of the bucket (ListObjectsV2, all pages, by boto3): key and size.
    struct listed_object {
        std::string key;
        std::uint64_t size = 0;
    };
    std::vector<listed_object> list_objects(const std::string& bucket) const;

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
