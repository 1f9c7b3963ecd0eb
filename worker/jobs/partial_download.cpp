// The partial file of a download and its one-pass SHA-256 (see partial_download.hpp).
#include "partial_download.hpp"

#include "wharf/storage/sha256.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

namespace fs = std::filesystem;

namespace wharf::worker {
namespace {

constexpr std::size_t block_bytes = std::size_t{1} << 20;
constexpr std::size_t block_count = 4;  // 4 MiB in flight between the writer and the hasher

[[noreturn]] void fail_errno(std::string_view what, const fs::path& path) {
    throw std::system_error(errno, std::generic_category(), fmt::format("{} {}", what, path.string()));
}

void write_all(int fd, const char* data, std::size_t n, std::uint64_t offset, const fs::path& path) {
    while (n > 0) {
        const auto wrote = ::pwrite(fd, data, n, static_cast<off_t>(offset));
        if (wrote < 0) {
            if (errno == EINTR) continue;
            fail_errno("writing", path);
        }
        data += wrote;
        n -= static_cast<std::size_t>(wrote);
        offset += static_cast<std::uint64_t>(wrote);
    }
}

}  // namespace

// Hashes, on a thread of its own, first the `prefix` bytes already in the file (read back), then
// every block the writer submits, in order. The writer takes free blocks from it (waiting while
// all are queued: backpressure) and gives them back full.
class partial_download::block_hasher {
public:
    block_hasher(int fd, std::uint64_t prefix, fs::path path) : path_(std::move(path)) {
        for (std::size_t i = 0; i < block_count; ++i) {
            blocks_[i] = std::make_unique<char[]>(block_bytes);
            free_.push_back(i);
        }
        thread_ = std::thread([this, fd, prefix] { run(fd, prefix); });
    }
    ~block_hasher() {
        {
            std::lock_guard lock(mutex_);
            closing_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    std::pair<std::size_t, char*> take_free() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return !free_.empty() || failure_; });
        if (failure_) std::rethrow_exception(failure_);
        const auto i = free_.front();
        free_.pop_front();
        return {i, blocks_[i].get()};
    }

    void submit(std::size_t index, std::size_t size) {
        {
            std::lock_guard lock(mutex_);
            full_.emplace_back(index, size);
        }
        cv_.notify_all();
    }

    // Waits until every submitted block is hashed; the digest, or what went wrong.
    std::string finish() {
        {
            std::lock_guard lock(mutex_);
            closing_ = true;
        }
        cv_.notify_all();
        thread_.join();
        if (failure_) std::rethrow_exception(failure_);
        return digest_;
    }

private:
    void run(int fd, std::uint64_t prefix) {
        storage::sha256 sha;
        try {
            auto buffer = std::make_unique<char[]>(block_bytes);
            for (std::uint64_t at = 0; at < prefix;) {
                const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(block_bytes, prefix - at));
                const auto got = ::pread(fd, buffer.get(), want, static_cast<off_t>(at));
                if (got < 0 && errno == EINTR) continue;
                if (got < 0) fail_errno("reading back", path_);
                if (got == 0) throw std::runtime_error(fmt::format("{} is shorter than the {} bytes it had", path_.string(), prefix));
                sha.update(std::span<const char>(buffer.get(), static_cast<std::size_t>(got)));
                at += static_cast<std::uint64_t>(got);
            }
            while (true) {
                std::unique_lock lock(mutex_);
                cv_.wait(lock, [&] { return !full_.empty() || closing_; });
                if (full_.empty()) break;  // closing, and everything hashed
                const auto [index, size] = full_.front();
                full_.pop_front();
                lock.unlock();
                sha.update(std::span<const char>(blocks_[index].get(), size));
                lock.lock();
                free_.push_back(index);
                cv_.notify_all();
            }
            digest_ = sha.finish_hex();
        } catch (...) {
            std::lock_guard lock(mutex_);
            failure_ = std::current_exception();
            cv_.notify_all();
        }
    }

    fs::path path_;
    std::array<std::unique_ptr<char[]>, block_count> blocks_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::size_t> free_;
    std::deque<std::pair<std::size_t, std::size_t>> full_;
    bool closing_ = false;
    std::exception_ptr failure_;
    std::string digest_;
    std::thread thread_;  // last: starts once everything above exists
};

partial_download::partial_download(fs::path file, fs::path sidecar, std::string url_digest)
    : file_(std::move(file)), sidecar_(std::move(sidecar)), url_digest_(std::move(url_digest)) {}

partial_download::~partial_download() {
    hasher_.reset();
    if (fd_ >= 0) ::close(fd_);  // releases the flock
}

std::optional<fetch::range_request> partial_download::open() {
    std::error_code ec;
    fs::create_directories(file_.parent_path(), ec);
    fd_ = ::open(file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) fail_errno("opening", file_);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            throw std::runtime_error("another worker on this host is downloading this job right now");
        fail_errno("locking", file_);
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail_errno("reading the size of", file_);

    std::string text;
    if (std::ifstream in{sidecar_, std::ios::binary}) {
        text.resize(fetch::max_sidecar_bytes + 1);
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<std::size_t>(in.gcount()));
    }
    const auto kept = fetch::decode_sidecar(text);
    if (kept && kept->url_digest == url_digest_) {
        asked_ = fetch::plan_resume({static_cast<std::uint64_t>(st.st_size), kept->v, kept->total});
        if (asked_) return asked_;
    }
    start_over();
    return std::nullopt;
}

void partial_download::start_over() {
    asked_.reset();
    hasher_.reset();
    block_ = nullptr;
    block_fill_ = 0;
    empty_file();
    std::error_code ec;
    fs::remove(sidecar_, ec);
}

// Truncates only a file that has bytes: ext4 writes back a file truncated to zero when it is
// closed (auto_da_alloc), which costs ~0.4 s per GiB in close() -- a fresh download must not pay it.
void partial_download::empty_file() {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail_errno("reading the size of", file_);
    if (st.st_size > 0 && ::ftruncate(fd_, 0) != 0) fail_errno("emptying", file_);
}

void partial_download::write_sidecar(const fetch::response_head& head, std::optional<std::uint64_t> total) {
    std::error_code ec;
    fetch::validator v{head.etag, head.last_modified};
    const bool identity = head.content_encoding.empty() || head.content_encoding == "identity";
    if (!identity || !fetch::if_range_value(v)) {  // nothing a retry could continue with
        fs::remove(sidecar_, ec);
        return;
    }
    if (v.etag && !fetch::is_safe_validator(*v.etag)) v.etag.reset();
    if (v.last_modified && !fetch::is_safe_validator(*v.last_modified)) v.last_modified.reset();
    const auto temp = fs::path(sidecar_).concat(".tmp");
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out << fetch::encode_sidecar({url_digest_, v, total});
        if (!out.flush()) throw std::runtime_error("writing " + temp.string() + " failed");
    }
    fs::rename(temp, sidecar_, ec);
    if (ec) throw std::system_error(ec, "renaming " + temp.string());
}

std::optional<std::uint64_t> partial_download::begin(const fetch::response_head& head) {
    const auto d = fetch::decide_resume(asked_, head.status, head.content_range, head.content_length,
                                        head.content_encoding);
    using fetch::resume_action;
    if (d.action == resume_action::restart) throw restart_download(d.reason);
    content_type_ = head.content_type;
    total_ = d.total;
    if (total_ && check_total) check_total(*total_);
    if (d.action == resume_action::write_from_zero) {
        empty_file();
        write_sidecar(head, d.total);
    }
    resumed_ = d.offset;
    offset_ = d.offset;
    received_ = 0;
    block_ = nullptr;
    block_fill_ = 0;
    began_ = std::chrono::steady_clock::now();
    hasher_ = std::make_unique<block_hasher>(fd_, d.offset, file_);
    if (d.action == resume_action::verify_existing) return std::nullopt;
    return d.offset;
}

// The bytes go to the file at once, from libcurl's buffer while it is still in cache (a kill -9
// loses nothing written), and are copied into the block the hasher takes next.
void partial_download::write(std::span<const char> bytes) {
    write_all(fd_, bytes.data(), bytes.size(), offset_, file_);
    offset_ += bytes.size();
    received_ += bytes.size();
    while (!bytes.empty()) {
        if (!block_) std::tie(block_index_, block_) = hasher_->take_free();
        const auto n = std::min(bytes.size(), block_bytes - block_fill_);
        std::memcpy(block_ + block_fill_, bytes.data(), n);
        block_fill_ += n;
        bytes = bytes.subspan(n);
        if (block_fill_ == block_bytes) hash_block();
    }
    report(false);
}

void partial_download::hash_block() {
    hasher_->submit(block_index_, block_fill_);
    block_ = nullptr;
    block_fill_ = 0;
}

void partial_download::finish() {
    if (!hasher_) throw std::logic_error("partial_download::finish before begin");
    if (block_) hash_block();
    sha256_ = hasher_->finish();
    size_ = offset_;
    report(true);
}

void partial_download::report(bool last) {
    if (!on_progress) return;
    const auto now = std::chrono::steady_clock::now();
    if (!last && now - reported_ < std::chrono::milliseconds(100)) return;
    reported_ = now;
    const double seconds = std::chrono::duration<double>(now - began_).count();
    on_progress({.done = offset_,
                 .total = total_,
                 .bytes_per_second = seconds > 0 ? static_cast<std::uint64_t>(static_cast<double>(received_) / seconds) : 0,
                 .resumed = resumed_});
}

}  // namespace wharf::worker
