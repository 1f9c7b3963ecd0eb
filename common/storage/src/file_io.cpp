// Request bodies read from files and downloads written to files, off the I/O threads (see file_io.hpp).
#include "file_io.hpp"

#include "wharf/storage/checksum.hpp"

#include "blocking.hpp"
#include "wharf/core/log.hpp"
#include "wharf/storage/error.hpp"
#include "wharf/storage/provider.hpp"
#include "wharf/storage/sha256.hpp"

#include <boost/asio/post.hpp>

#include <openssl/evp.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

namespace wharf::storage::detail {

namespace asio = boost::asio;

namespace {

constexpr std::size_t chunk_size = 1u << 20;

// "<what> <path>: <strerror(err)>". Callers pass errno as read right after the failed call:
// nothing that could change it (an allocation building the message) runs before.
[[noreturn]] void fail(errc code, std::string_view what, const std::filesystem::path& path, int err) {
    throw error(code, std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

// Fills [data, data+len) from `offset`; a file that ends early shrank since it was stat'ed.
void pread_full(int fd, char* data, std::size_t len, std::uint64_t offset, const std::filesystem::path& path) {
    while (len > 0) {
        const ssize_t n = ::pread(fd, data, len, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            fail(errc::permanent, "cannot read", path, errno);
        }
        if (n == 0) throw error(errc::integrity, path.string() + " shrank while it was being uploaded");
        data += n;
        offset += static_cast<std::uint64_t>(n);
        len -= static_cast<std::size_t>(n);
    }
}

void pwrite_full(int fd, const char* data, std::size_t len, std::uint64_t offset, const std::filesystem::path& path) {
    while (len > 0) {
        const ssize_t n = ::pwrite(fd, data, len, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            fail(errc::permanent, "cannot write", path, errno);
        }
        data += n;
        offset += static_cast<std::uint64_t>(n);
        len -= static_cast<std::size_t>(n);
    }
}

// Streaming MD5 (Content-MD5 of a whole single-PUT body).
class md5_stream {
public:
    md5_stream() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
        if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_md5(), nullptr) != 1) throw std::bad_alloc();
    }
    void update(std::span<const char> bytes) { EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()); }
    std::string finish_base64() {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        EVP_DigestFinal_ex(ctx_.get(), digest, &len);
        return base64_encode(std::string_view(reinterpret_cast<const char*>(digest), len));
    }

private:
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

}  // namespace

}  // namespace wharf::storage::detail

namespace wharf::storage {

bool is_download_temp_of(std::string_view file_name, std::string_view destination_leaf) noexcept {
    using detail::temp_overhead;
    using detail::temp_prefix;
    const std::string_view leaf = destination_leaf.substr(0, 255 - temp_overhead);  // as get_to_file cuts it
    if (file_name.size() != temp_overhead + leaf.size() || !file_name.starts_with(temp_prefix)) return false;
    const std::string_view random = file_name.substr(temp_prefix.size(), 12);
    return random.find_first_not_of("0123456789abcdef") == std::string_view::npos &&
           file_name[temp_prefix.size() + 12] == '-' && file_name.substr(temp_overhead) == leaf;
}

}  // namespace wharf::storage

namespace wharf::storage::detail {

std::string temp_file_name(std::string_view leaf) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char digits[] = "0123456789abcdef";
    std::string name(temp_prefix);
    auto v = rng();
    for (int i = 0; i < 12; ++i, v >>= 4) name.push_back(digits[v & 0xf]);
    name += '-';
    name += leaf;
    return name;
}

// ---- source_file ----

struct source_file::state {
    std::filesystem::path path;
    int fd = -1;
    std::uint64_t size = 0;

    state() = default;
    state(const state&) = delete;
    state& operator=(const state&) = delete;
    ~state() {
        if (fd >= 0) ::close(fd);
    }
};

source_file::source_file(source_file&&) noexcept = default;
source_file& source_file::operator=(source_file&& o) noexcept {
    if (this != &o) {
        source_file gone(std::move(*this));  // closed on the pool by its destructor
        s_ = std::move(o.s_);
    }
    return *this;
}

source_file::~source_file() {
    if (s_) asio::post(blocking_pool(), [st = s_.release()] { delete st; });
}

std::uint64_t source_file::size() const noexcept { return s_ ? s_->size : 0; }

const std::filesystem::path& source_file::path() const noexcept {
    static const std::filesystem::path none;
    return s_ ? s_->path : none;
}

asio::awaitable<source_file> source_file::open(std::filesystem::path path) {
    source_file f;
    f.s_ = co_await offload([&] {
        auto st = std::make_unique<state>();
        st->path = path;
        st->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (st->fd < 0) fail(errno == ENOENT ? errc::not_found : errc::permanent, "cannot open", path, errno);
        struct stat info {};
        if (::fstat(st->fd, &info) != 0) fail(errc::permanent, "cannot stat", path, errno);
        if (!S_ISREG(info.st_mode)) throw error(errc::permanent, path.string() + " is not a regular file");
        st->size = static_cast<std::uint64_t>(info.st_size);
        return st;
    });
    co_return std::move(f);
}

asio::awaitable<source_file::digests> source_file::digest(std::optional<std::string> carried_sha256, bool md5,
                                                         checksum_kind crc) const {
    const state& st = *s_;
    co_return co_await offload([&] {
        std::optional<sha256> sha;
        if (!carried_sha256) sha.emplace();
        std::optional<md5_stream> md;
        if (md5) md.emplace();
        std::optional<part_checksum> cs;
        if (crc == checksum_kind::crc32 || crc == checksum_kind::crc32c) cs.emplace(crc);
        std::vector<char> buf(static_cast<std::size_t>(std::clamp<std::uint64_t>(st.size, 1, chunk_size)));
        for (std::uint64_t offset = 0; offset < st.size && (sha || md || cs);) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), st.size - offset));
            pread_full(st.fd, buf.data(), n, offset, st.path);
            const std::span<const char> bytes(buf.data(), n);
            if (sha) sha->update(bytes);
            if (md) md->update(bytes);
            if (cs) cs->update(bytes);
            offset += n;
        }
        return digests{carried_sha256 ? *carried_sha256 : sha->finish_hex(), md ? md->finish_base64() : std::string(),
                       cs ? cs->finish_base64() : std::string()};
    });
}

namespace {

asio::awaitable<void> read_chunk(int fd, const std::filesystem::path& path, std::uint64_t offset, std::span<char> buffer) {
    co_await offload([&] { pread_full(fd, buffer.data(), buffer.size(), offset, path); });
}

}  // namespace

http::body_source source_file::body() const {
    const state* st = s_.get();
    http::body_source b;
    b.size = st->size;
    b.read = [st](std::uint64_t offset, std::span<char> buffer) { return read_chunk(st->fd, st->path, offset, buffer); };
    return b;
}

// ---- download_file ----

struct download_file::state {
    std::filesystem::path destination, temp;
    int fd = -1;
    bool finished = false;  // committed or discarded: the temp file is no longer ours to remove
    std::uint64_t size = 0;
    sha256 hash;
    std::uint32_t crc = 0;  // CRC32C, for providers that state one (GCS's x-goog-hash): ~0.03 s/GiB
    std::optional<std::string> digest;

    state() = default;
    state(const state&) = delete;
    state& operator=(const state&) = delete;
    ~state() {
        if (fd >= 0) ::close(fd);
        if (!finished && !temp.empty()) ::unlink(temp.c_str());
    }
};

download_file::download_file(download_file&&) noexcept = default;
download_file& download_file::operator=(download_file&& o) noexcept {
    if (this != &o) {
        download_file gone(std::move(*this));  // cleaned up on the pool by its destructor
        s_ = std::move(o.s_);
    }
    return *this;
}

download_file::~download_file() {
    if (s_) asio::post(blocking_pool(), [st = s_.release()] { delete st; });
}

asio::awaitable<download_file> download_file::create(std::filesystem::path destination) {
    if (!destination.has_filename()) throw error(errc::permanent, "download destination '" + destination.string() + "' names no file");
    download_file f;
    f.s_ = co_await offload([&] {
        auto st = std::make_unique<state>();
        st->destination = destination;
        const auto dir = destination.has_parent_path() ? destination.parent_path() : std::filesystem::path(".");
        // Cut so that the temp name fits in 255 bytes whatever the destination's name.
        const std::string leaf = destination.filename().string().substr(0, 255 - temp_overhead);
        for (int attempt = 1;; ++attempt) {
            st->temp = dir / temp_file_name(leaf);
            st->fd = ::open(st->temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (st->fd >= 0) break;
            if (errno != EEXIST || attempt == 3) {
                const int err = errno;
                st->temp.clear();
                fail(errc::permanent, "cannot create the download's temp file in", dir, err);
            }
        }
        return st;
    });
    co_return std::move(f);
}

namespace {

asio::awaitable<void> append_chunk(int fd, const std::filesystem::path& temp, std::uint64_t& size, sha256& hash,
                                   std::uint32_t& crc, std::span<const char> chunk) {
    co_await offload([&] {
        pwrite_full(fd, chunk.data(), chunk.size(), size, temp);
        hash.update(chunk);
        crc = crc32c(crc, chunk);
        size += chunk.size();
    });
}

}  // namespace

std::function<asio::awaitable<void>(std::span<const char>)> download_file::sink() {
    state* st = s_.get();
    return [st](std::span<const char> chunk) {
        return append_chunk(st->fd, st->temp, st->size, st->hash, st->crc, chunk);
    };
}

asio::awaitable<void> download_file::restart() {
    state& st = *s_;
    st.digest.reset();
    st.hash = sha256{};
    st.crc = 0;
    if (st.size == 0) co_return;  // nothing written yet: no trip to the pool
    co_await offload([&] {
        if (::ftruncate(st.fd, 0) != 0) fail(errc::permanent, "cannot truncate", st.temp, errno);
        st.size = 0;
    });
}

std::uint64_t download_file::size() const noexcept { return s_ ? s_->size : 0; }
std::uint32_t download_file::crc32c() const noexcept { return s_ ? s_->crc : 0; }

std::string download_file::sha256_hex() {
    if (!s_->digest) s_->digest = s_->hash.finish_hex();
    return *s_->digest;
}

asio::awaitable<void> download_file::commit() {
    state& st = *s_;
    co_await offload([&] {
        if (::fsync(st.fd) != 0) fail(errc::permanent, "cannot sync", st.temp, errno);
        const int fd = std::exchange(st.fd, -1);
        if (::close(fd) != 0) fail(errc::permanent, "cannot close", st.temp, errno);
        if (::rename(st.temp.c_str(), st.destination.c_str()) != 0) {
            if (errno == EISDIR) throw error(errc::permanent, "download destination " + st.destination.string() + " is a folder");
            fail(errc::permanent, "cannot rename the download into", st.destination, errno);
        }
        st.finished = true;
        // The rename is durable once the folder is synced.
        const auto dir = st.destination.has_parent_path() ? st.destination.parent_path() : std::filesystem::path(".");
        const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) fail(errc::permanent, "cannot open", dir, errno);
        const int synced = ::fsync(dir_fd);
        const int err = errno;
        ::close(dir_fd);
        if (synced != 0) fail(errc::permanent, "cannot sync", dir, err);
    });
}

asio::awaitable<void> download_file::discard() {
    if (!s_ || s_->finished) co_return;
    state& st = *s_;
    co_await offload([&] {
        if (st.fd >= 0) ::close(std::exchange(st.fd, -1));
        if (::unlink(st.temp.c_str()) != 0 && errno != ENOENT)
            spdlog::warn("storage: cannot remove the temp file {} of a failed download: {}", st.temp.string(),
                         std::strerror(errno));
        st.finished = true;
    });
}

}  // namespace wharf::storage::detail
