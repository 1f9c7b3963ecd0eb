// gzip (RFC 1952) through zlib: the content encoding of objects the `compress` job recompressed.
// gzip rather than zstd because every HTTP client decodes it (browsers and HTTP libraries on
// their own, curl with --compressed), so a presigned URL still hands out the original bytes.
// Pure (no I/O).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace wharf::storage {

// The gzip encoding of `data` (one member, level 1..9). Throws std::invalid_argument for a level
// out of range.
std::string gzip_compress(std::string_view data, int level = 9);

// Decodes a gzip stream fed in pieces (bytes from a provider: outside input). Concatenated
// members are decoded one after the other, as HTTP clients do. Refuses, with storage::error
// (errc::integrity), a stream that is not gzip, is corrupt or truncated or empty (finish()), has bytes
// after its last member that are not a member, or decodes to more than `max_output` bytes.
class gzip_decoder {
public:
    using sink = std::function<void(std::span<const char>)>;
    gzip_decoder(std::uint64_t max_output, sink out);
    ~gzip_decoder();
    gzip_decoder(const gzip_decoder&) = delete;
    gzip_decoder& operator=(const gzip_decoder&) = delete;

    void feed(std::span<const char> bytes);
    void finish();  // the stream must end at the end of a member
    std::uint64_t decoded() const noexcept { return decoded_; }

private:
    struct state;
    std::unique_ptr<state> z_;
    std::uint64_t max_output_;
    std::uint64_t decoded_ = 0;
    std::uint64_t members_ = 0;
    bool in_member_ = false;  // bytes of a member were fed and its end not seen yet
    sink out_;
};

// The whole of `data` decoded (at most `max_output` bytes); errors as gzip_decoder's.
std::string gunzip(std::string_view data, std::uint64_t max_output);

}  // namespace wharf::storage
