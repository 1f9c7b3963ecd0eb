// The file a download writes: <scratch_dir>/download-<queue>-<id>.part, kept across the attempts
// of one job on one host, so a retry (or the take-over of a worker killed with -9) continues where
// the last attempt stopped. Next to it, <...>.part.json (the sidecar) holds the validator of the
// response that began the file, its total length and a digest of the URL (fetch/resume.hpp).
//
// It is the fetch client's sink: each chunk libcurl hands over is written to the file at once, on
// the transfer thread, while it is still in cache (so a kill -9 loses nothing written), and copied
// into 1 MiB blocks that a second thread hashes (SHA-256, the storage library's hasher) in the same
// order, so the hash is ready when the last byte is and costs no second read. A continued file's
// earlier bytes are read back once, on that second thread, while the rest arrives.
#pragma once

#include "wharf/fetch/client.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

namespace wharf::worker {

// Thrown from begin() when the server's answer cannot continue the partial file (a 206 for
// another range, a 416 for another length: resume_action::restart). The caller calls
// start_over() and asks again without Range.
class restart_download : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct download_progress {
    std::uint64_t done = 0;                // bytes in the file
    std::optional<std::uint64_t> total;    // when the server told it
    std::uint64_t bytes_per_second = 0;    // this attempt's rate so far
    std::uint64_t resumed = 0;             // bytes kept from an earlier attempt
};

class partial_download final : public fetch::sink {
public:
    // `file` and `sidecar` are the job's scratch paths; `url_digest` (64 hex) ties them to a URL.
    partial_download(std::filesystem::path file, std::filesystem::path sidecar, std::string url_digest);
    ~partial_download() override;
    partial_download(const partial_download&) = delete;
    partial_download& operator=(const partial_download&) = delete;

    // Called with the total length as soon as the response tells it, before any of its body (the
    // job checks the expected size and the quota there); an exception stops the transfer.
    std::function<void(std::uint64_t total)> check_total;
    // Progress while the bytes arrive, at most every 100 ms and once at the end (transfer thread).
    std::function<void(const download_progress&)> on_progress;

    // Blocking (run it off the I/O threads). Opens the file and locks it (flock: a second worker of
    // this host on the same job fails its attempt, retryable), and returns what to ask for: a
    // Range when an earlier attempt of this URL left bytes and a usable validator; otherwise the
    // file is emptied and nothing is asked.
    std::optional<fetch::range_request> open();
    // Blocking: empties the file and forgets its validator (after restart_download).
    void start_over();

    // fetch::sink, on the transfer thread.
    std::optional<std::uint64_t> begin(const fetch::response_head& head) override;
    void write(std::span<const char> bytes) override;
    void finish() override;

    // After finish():
    std::uint64_t size() const noexcept { return size_; }
    const std::string& sha256() const noexcept { return sha256_; }
    std::uint64_t resumed_bytes() const noexcept { return resumed_; }
    const std::string& content_type() const noexcept { return content_type_; }

private:
    class block_hasher;
    void empty_file();
    void write_sidecar(const fetch::response_head& head, std::optional<std::uint64_t> total);
    void hash_block();
    void report(bool last);

    std::filesystem::path file_, sidecar_;
    std::string url_digest_;
    int fd_ = -1;
    std::optional<fetch::range_request> asked_;
    std::unique_ptr<block_hasher> hasher_;
    char* block_ = nullptr;  // the block being filled (owned by hasher_)
    std::size_t block_index_ = 0, block_fill_ = 0;
    std::uint64_t offset_ = 0;  // bytes in the file
    std::uint64_t received_ = 0;  // body bytes of this attempt
    std::optional<std::uint64_t> total_;
    std::chrono::steady_clock::time_point began_{}, reported_{};
    std::uint64_t size_ = 0, resumed_ = 0;
    std::string sha256_, content_type_;
};

}  // namespace wharf::worker
