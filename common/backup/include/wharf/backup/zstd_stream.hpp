// zstd streaming compression and decompression (libzstd), as a backup's bytes pass through: a
// pg_dump stream is compressed on its way to storage and decompressed on its way to pg_restore.
// The stored object is a standard zstd stream, so `zstd -d < backup | pg_restore` restores it
// without wharf. Pure (no I/O); not thread-safe (one stream per object).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

namespace wharf::backup {

// A damaged or truncated stream.
class corrupt_stream : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class zstd_compressor {
public:
    // level 1..19; workers > 0 compresses in that many background threads (libzstd's own).
    explicit zstd_compressor(int level = 3, int workers = 0);
    ~zstd_compressor();
    zstd_compressor(const zstd_compressor&) = delete;
    zstd_compressor& operator=(const zstd_compressor&) = delete;

    // Appends what `in` compresses to so far (possibly nothing) to `out`.
    void compress(std::span<const char> in, std::string& out);
    // Ends the stream: appends the rest to `out`. No compress() after it.
    void finish(std::string& out);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

class zstd_decompressor {
public:
    // Frames may use at most 2^window_log_max bytes of window (a hostile header cannot make the
    // decoder allocate more).
    explicit zstd_decompressor(int window_log_max = 27);
    ~zstd_decompressor();
    zstd_decompressor(const zstd_decompressor&) = delete;
    zstd_decompressor& operator=(const zstd_decompressor&) = delete;

    // Appends the bytes `in` decompresses to, about max_out at most (a small hostile input can
    // stand for gigabytes), and returns how much of `in` it consumed. Call again with the rest,
    // and while pending() also with an empty rest. Throws corrupt_stream.
    std::size_t decompress(std::span<const char> in, std::string& out, std::size_t max_out = 4u << 20);
    // The last call stopped at max_out: there may be output left for the same input.
    bool pending() const noexcept;
    // Whether the input so far ends exactly at the end of a frame (a stream cut short does not).
    bool at_frame_end() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace wharf::backup
