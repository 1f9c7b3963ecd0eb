// See wharf/storage/gzip.hpp.
#include "wharf/storage/gzip.hpp"

#include "wharf/storage/error.hpp"

#include <zlib.h>

#include <algorithm>
#include <stdexcept>

namespace wharf::storage {

std::string gzip_compress(std::string_view data, int level) {
    if (level < 1 || level > 9) throw std::invalid_argument("gzip level must be 1..9");
    z_stream z{};
    // windowBits 15 + 16: a gzip wrapper (RFC 1952) around the deflate stream.
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("gzip: deflateInit2 failed");
    std::string out;
    char buffer[64 * 1024];
    // zlib's counters are 32-bit: feed at most 1 GiB a call.
    std::string_view rest = data;
    int rc = Z_OK;
    do {
        const std::size_t chunk = std::min<std::size_t>(rest.size(), 1u << 30);
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(rest.data()));
        z.avail_in = static_cast<uInt>(chunk);
        const bool last = chunk == rest.size();
        do {
            z.next_out = reinterpret_cast<Bytef*>(buffer);
            z.avail_out = sizeof buffer;
            rc = deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
            if (rc == Z_STREAM_ERROR) {
                deflateEnd(&z);
                throw std::runtime_error("gzip: deflate failed");
            }
            out.append(buffer, sizeof buffer - z.avail_out);
        } while (z.avail_out == 0);
        rest.remove_prefix(chunk - z.avail_in);
    } while (rc != Z_STREAM_END);
    deflateEnd(&z);
    return out;
}

struct gzip_decoder::state {
    z_stream z{};
    state() {
        if (inflateInit2(&z, 15 + 16) != Z_OK) throw std::runtime_error("gzip: inflateInit2 failed");
    }
    ~state() { inflateEnd(&z); }
};

gzip_decoder::gzip_decoder(std::uint64_t max_output, sink out)
    : z_(std::make_unique<state>()), max_output_(max_output), out_(std::move(out)) {}

gzip_decoder::~gzip_decoder() = default;

void gzip_decoder::feed(std::span<const char> bytes) {
    auto& z = z_->z;
    char buffer[64 * 1024];
    while (!bytes.empty()) {
        const std::size_t chunk = std::min<std::size_t>(bytes.size(), 1u << 30);
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
        z.avail_in = static_cast<uInt>(chunk);
        in_member_ = true;
        int rc = Z_OK;
        for (;;) {
            z.next_out = reinterpret_cast<Bytef*>(buffer);
            z.avail_out = sizeof buffer;
            rc = inflate(&z, Z_NO_FLUSH);
            if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR)
                throw error(errc::integrity, std::string("gzip: corrupt stream (") + (z.msg ? z.msg : "inflate") + ")");
            const std::size_t produced = sizeof buffer - z.avail_out;
            if (produced > max_output_ - decoded_)
                throw error(errc::integrity, "gzip: decodes to more than " + std::to_string(max_output_) + " bytes");
            decoded_ += produced;
            if (produced) out_(std::span<const char>(buffer, produced));
            // A member's end, or all input taken (output to spare: nothing is pending).
            if (rc == Z_STREAM_END || z.avail_out != 0) break;
        }
        bytes = bytes.subspan(chunk - z.avail_in);
        if (rc == Z_STREAM_END) {  // a member ended; more bytes must be another member
            in_member_ = false;
            ++members_;
            if (inflateReset(&z) != Z_OK) throw std::runtime_error("gzip: inflateReset failed");
        }
    }
}

void gzip_decoder::finish() {
    if (in_member_) throw error(errc::integrity, "gzip: the stream is truncated");
    if (members_ == 0) throw error(errc::integrity, "gzip: the stream is empty");
}

std::string gunzip(std::string_view data, std::uint64_t max_output) {
    std::string out;
    gzip_decoder d(max_output, [&out](std::span<const char> b) { out.append(b.data(), b.size()); });
    d.feed(std::span<const char>(data.data(), data.size()));
    d.finish();
    return out;
}

}  // namespace wharf::storage
