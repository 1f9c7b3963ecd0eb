// The local filesystem backend (see local.hpp for the layout and guarantees).
#include "wharf/storage/local.hpp"
#include "wharf/storage/multipart.hpp"

#include "blocking.hpp"
#include "file_io.hpp"
#include "wharf/core/log.hpp"
#include "wharf/storage/sha256.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <stdexcept>
#include <atomic>
#include <cerrno>
#include <cstring>

namespace wharf::storage {

namespace {

using detail::temp_overhead;
using detail::temp_prefix;
constexpr const char* sha_xattr = "user.wharf.sha256";
constexpr std::size_t copy_chunk = 4 << 20;

[[noreturn]] void fail(int err, const std::string& what) {
    const std::string text = what + ": " + std::strerror(err);
    switch (err) {
    case ENOENT: throw error(errc::not_found, text);
    case EACCES:
    case EPERM: throw error(errc::access_denied, text);
    case ELOOP: throw error(errc::invalid_key, what + ": a symlink is in the way (symlinks under the root are not followed)");
    default: throw error(errc::permanent, text);
    }
}

class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~unique_fd() { reset(); }
    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    void reset() noexcept {
        if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    }

private:
    int fd_ = -1;
};

std::vector<std::string> split_key(std::string_view key) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const auto slash = key.find('/', start);
        out.emplace_back(key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
        if (slash == std::string_view::npos) return out;
        start = slash + 1;
    }
}

std::vector<std::string> checked_segments(std::string_view key) {
    if (auto reason = invalid_key_reason(key)) throw error(errc::invalid_key, "invalid key: " + *reason);
    auto segments = split_key(key);
    for (const auto& s : segments) {
        if (s.starts_with(temp_prefix)) throw error(errc::invalid_key, "invalid key: segments starting with .wharf-tmp- are reserved");
        if (s.size() > 255) throw error(errc::invalid_key, "invalid key: a path segment is longer than 255 bytes");
    }
    if (segments.back().size() + temp_overhead > 255)
        throw error(errc::invalid_key, "invalid key: the last path segment is longer than " +
                                           std::to_string(255 - temp_overhead) + " bytes");
    return segments;
}

// Opens the folder that holds the last segment, one component at a time with O_NOFOLLOW from the
// root, so nothing (not "..", not a symlink planted at any depth) leads outside the root.
unique_fd open_parent(int root_fd, const std::vector<std::string>& segments, bool create, std::size_t depth) {
    unique_fd cur(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
    if (!cur) fail(errno, "dup");
    for (std::size_t i = 0; i < depth; ++i) {
        int fd = ::openat(cur.get(), segments[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && create) {
            if (::mkdirat(cur.get(), segments[i].c_str(), 0755) != 0 && errno != EEXIST) fail(errno, "mkdir " + segments[i]);
            fd = ::openat(cur.get(), segments[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0) {
            // O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR (or ELOOP): say which it was.
            struct stat st {};
            if ((errno == ENOTDIR || errno == ELOOP) &&
                ::fstatat(cur.get(), segments[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                throw error(errc::invalid_key, "'" + segments[i] + "' is a symlink (symlinks under the root are not followed)");
            if (errno == ENOTDIR) throw error(errc::permanent, "'" + segments[i] + "' is a file, not a folder");
            fail(errno, "open folder '" + segments[i] + "'");
        }
        cur = unique_fd(fd);
    }
    return cur;
}

unique_fd open_parent(int root_fd, const std::vector<std::string>& segments, bool create) {
    return open_parent(root_fd, segments, create, segments.size() - 1);
}

struct opened_object {
    unique_fd fd;
    struct stat st {};
};

std::optional<opened_object> open_object(int root_fd, const std::vector<std::string>& segments) {
    unique_fd parent;
    try {
        parent = open_parent(root_fd, segments, false);
    } catch (const error& e) {
        if (e.code() == errc::not_found) return std::nullopt;
        throw;
    }
    opened_object o;
    o.fd = unique_fd(::openat(parent.get(), segments.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!o.fd) {
        if (errno == ENOENT) return std::nullopt;
        fail(errno, "open '" + segments.back() + "'");
    }
    if (::fstat(o.fd.get(), &o.st) != 0) fail(errno, "stat");
    if (!S_ISREG(o.st.st_mode)) return std::nullopt;  // a folder is not an object
    return o;
}

std::optional<std::string> read_sha(int fd) {
    char buf[80];
    const ssize_t n = ::fgetxattr(fd, sha_xattr, buf, sizeof buf);
    if (n < 0) {
        if (errno == ENODATA || errno == ENOTSUP) return std::nullopt;
        fail(errno, "read xattr");
    }
    std::string v(buf, static_cast<std::size_t>(n));
    return is_sha256_hex(v) ? std::optional(v) : std::nullopt;
}

void write_sha(int fd, const std::string& sha) {
    if (::fsetxattr(fd, sha_xattr, sha.data(), sha.size(), 0) == 0) return;
    if (errno == ENOTSUP) {
        static std::atomic<bool> warned{false};
        if (!warned.exchange(true))
            spdlog::warn("storage: the local root's filesystem has no user xattrs; objects are stored without SHA-256");
        return;
    }
    fail(errno, "write xattr");
}

void write_all(int fd, const char* data, std::size_t len) {
    while (len > 0) {
        const ssize_t n = ::write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail(errno, "write");
        }
        data += n;
        len -= static_cast<std::size_t>(n);
    }
}

// Copies [offset, offset+len) of `in` to `out`, hashing when `hash` is set.
void copy_range(int in, int out, std::uint64_t offset, std::uint64_t len, sha256* hash) {
    if (!hash) {
        // In-kernel copy (reflink on filesystems that can): no bytes through user space.
        loff_t off_in = static_cast<loff_t>(offset);
        while (len > 0) {
            const ssize_t n = ::copy_file_range(in, &off_in, out, nullptr, std::min<std::uint64_t>(len, 1u << 30), 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) break;  // fall back
                fail(errno, "copy");
            }
            if (n == 0) throw error(errc::integrity, "the source shrank while it was being copied");
            len -= static_cast<std::uint64_t>(n);
        }
        offset = static_cast<std::uint64_t>(off_in);
        if (len == 0) return;
    }
    std::vector<char> buf(std::min<std::uint64_t>(copy_chunk, std::max<std::uint64_t>(len, 1)));
    while (len > 0) {
        const ssize_t n = ::pread(in, buf.data(), std::min<std::uint64_t>(buf.size(), len), static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            fail(errno, "read");
        }
        if (n == 0) throw error(errc::integrity, "the source shrank while it was being copied");
        if (hash) hash->update(std::span<const char>(buf.data(), static_cast<std::size_t>(n)));
        write_all(out, buf.data(), static_cast<std::size_t>(n));
        offset += static_cast<std::uint64_t>(n);
        len -= static_cast<std::uint64_t>(n);
    }
}

std::string etag_of(const struct stat& st) {
    return std::to_string(st.st_size) + "-" + std::to_string(st.st_mtim.tv_sec * 1'000'000'000ll + st.st_mtim.tv_nsec);
}

std::chrono::system_clock::time_point mtime_of(const struct stat& st) {
    return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

// A temp file next to `leaf` in `dir`, unlinked on destruction unless committed.
class temp_file {
public:
    temp_file(int dir, const std::string& leaf) : dir_(dir), name_(detail::temp_file_name(leaf)) {
        fd_ = unique_fd(::openat(dir, name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (!fd_) fail(errno, "create temp file in the target folder");
    }
    ~temp_file() {
        if (!committed_) ::unlinkat(dir_, name_.c_str(), 0);
    }
    int fd() const noexcept { return fd_.get(); }

    // fsync, rename over `leaf`, fsync the folder: the object appears whole or not at all.
    void commit(const std::string& leaf, bool sync) {
        if (sync && ::fsync(fd_.get()) != 0) fail(errno, "fsync");
        fd_.reset();
        if (::renameat(dir_, name_.c_str(), dir_, leaf.c_str()) != 0) {
            if (errno == EISDIR || errno == ENOTEMPTY) throw error(errc::permanent, "'" + leaf + "' is a folder");
            fail(errno, "rename");
        }
        committed_ = true;
        if (sync && ::fsync(dir_) != 0) fail(errno, "fsync folder");
    }

private:
    int dir_;
    std::string name_;
    unique_fd fd_;
    bool committed_ = false;
};

void remove_blocking(int root_fd, const std::string& key);  // below, with the other removals

}  // namespace

struct local_provider::state {
    std::filesystem::path root;
    unique_fd root_fd;
    local_options options;
    std::filesystem::path cold_root;  // empty: no cold tier
    unique_fd cold_fd;

    // The object in the root, else in the cold root (a move cut short leaves both: the same bytes).
    std::optional<std::pair<opened_object, bool>> locate(const std::vector<std::string>& segments) const {
        if (auto o = open_object(root_fd.get(), segments)) return std::pair{std::move(*o), false};
        if (cold_fd)
            if (auto o = open_object(cold_fd.get(), segments)) return std::pair{std::move(*o), true};
        return std::nullopt;
    }

    // Writes an object atomically. `fill` writes the content into the temp file's fd and
    // returns (size, sha256 hex).
    template <typename Fill>
    put_result put(const std::string& key, Fill fill) {
        const auto segments = checked_segments(key);
        // A concurrent remove() may prune a folder between our open and our create; start over.
        for (int attempt = 1;; ++attempt) {
            try {
                const unique_fd parent = open_parent(root_fd.get(), segments, true);
                temp_file tmp(parent.get(), segments.back());
                auto [size, sha] = fill(tmp.fd());
                write_sha(tmp.fd(), sha);
                tmp.commit(segments.back(), options.fsync);
                if (cold_fd) remove_blocking(cold_fd.get(), key);  // a new object is hot
                return put_result{key, size, sha, sha, 1};
            } catch (const error& e) {
                if (e.code() != errc::not_found || attempt == 3) throw;
            }
        }
    }
};

local_provider::local_provider(std::string name, std::filesystem::path root, local_options options)
    : name_(std::move(name)), state_(std::make_shared<state>()) {
    std::error_code ec;
    std::filesystem::create_directories(root, ec);
    if (ec) throw error(errc::permanent, "cannot create the local storage root " + root.string() + ": " + ec.message());
    state_->root = std::filesystem::canonical(root);
    state_->root_fd = unique_fd(::open(state_->root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!state_->root_fd) fail(errno, "open local storage root " + state_->root.string());
    state_->options = options;
    root_string_ = state_->root.string();
    if (options.cold_root) {
        std::filesystem::create_directories(*options.cold_root, ec);
        if (ec)
            throw error(errc::permanent, "cannot create the local cold_root " + options.cold_root->string() + ": " + ec.message());
        state_->cold_root = std::filesystem::canonical(*options.cold_root);
        const auto inside = [](const std::filesystem::path& a, const std::filesystem::path& b) {
            const auto rel = a.lexically_relative(b);
            return !rel.empty() && *rel.begin() != "..";
        };
        if (inside(state_->cold_root, state_->root) || inside(state_->root, state_->cold_root))
            throw error(errc::permanent, "local provider '" + name_ + "': cold_root " + state_->cold_root.string() +
                                             " and root " + state_->root.string() + " must not hold one another");
        state_->cold_fd = unique_fd(::open(state_->cold_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!state_->cold_fd) fail(errno, "open local cold_root " + state_->cold_root.string());
    }
}

local_provider::~local_provider() = default;

namespace {

// A file keeps no content encoding, and a file:// URL cannot tell a reader to decode: the local
// provider stores bytes as their readers get them.
void refuse_content_encoding(const put_options& o) {
    if (!o.content_encoding.empty())
        throw error(errc::permanent, "the local provider keeps no content encoding ('" + o.content_encoding + "')");
}

}  // namespace

boost::asio::awaitable<put_result> local_provider::put_file(std::string key, std::filesystem::path source,
                                                            put_options options) {
    const auto st = state_;
    co_return co_await detail::offload([&] {
        const auto& carried = options.sha256;
        const auto& progress = options.progress;
        if (carried && !is_sha256_hex(*carried)) throw error(errc::permanent, "put_options.sha256 is not 64 lowercase hex characters");
        refuse_content_encoding(options);
        const unique_fd in(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
        if (!in) fail(errno, "open " + source.string());
        struct stat st_in {};
        if (::fstat(in.get(), &st_in) != 0) fail(errno, "stat " + source.string());
        if (!S_ISREG(st_in.st_mode)) throw error(errc::permanent, source.string() + " is not a regular file");
        const auto size = static_cast<std::uint64_t>(st_in.st_size);
        auto result = st->put(key, [&](int out) {
            if (carried) {
                copy_range(in.get(), out, 0, size, nullptr);
                return std::pair{size, *carried};
            }
            sha256 h;
            copy_range(in.get(), out, 0, size, &h);
            return std::pair{size, h.finish_hex()};
        });
        if (progress) progress(size, size);
        return result;
    });
}

boost::asio::awaitable<put_result> local_provider::put_bytes(std::string key, std::string data, put_options options) {
    const auto st = state_;
    co_return co_await detail::offload([&] {
        const auto& carried = options.sha256;
        if (carried && !is_sha256_hex(*carried)) throw error(errc::permanent, "put_options.sha256 is not 64 lowercase hex characters");
        refuse_content_encoding(options);
        return st->put(key, [&](int out) {
            write_all(out, data.data(), data.size());
            return std::pair{std::uint64_t{data.size()}, carried ? *carried : sha256_hex(data)};
        });
    });
}

boost::asio::awaitable<object_info> local_provider::get_to_file(std::string key, std::filesystem::path destination,
                                                                std::optional<byte_range> range) {
    const auto st = state_;
    co_return co_await detail::offload([&] {
        const auto segments = checked_segments(key);
        auto located = st->locate(segments);
        if (!located) throw error(errc::not_found, "no object '" + key + "'");
        auto obj = std::optional<opened_object>(std::move(located->first));
        const auto size = static_cast<std::uint64_t>(obj->st.st_size);
        std::uint64_t first = 0, last = size == 0 ? 0 : size - 1;
        if (range) {
            first = range->first;
            if (range->last) last = std::min(*range->last, last);
            if (first >= size || first > last)
                throw error(errc::permanent, "range " + std::to_string(first) + "- is outside the object of " +
                                                 std::to_string(size) + " bytes");
        }
        const std::uint64_t len = size == 0 ? 0 : last - first + 1;
        const auto stored = read_sha(obj->fd.get());
        const bool whole = first == 0 && len == size;

        // The destination is the caller's path (not under the root): an ordinary atomic write.
        const auto dir_path = destination.has_parent_path() ? destination.parent_path() : std::filesystem::path(".");
        const unique_fd dir(::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir) fail(errno, "open " + dir_path.string());
        temp_file tmp(dir.get(), destination.filename().string());
        // A whole read is hashed as it is copied, checked against the stored digest when there is
        // one, and carried (as S3's get does): the caller has the file's SHA-256 without a re-read.
        std::optional<sha256> h;
        if (whole) h.emplace();
        copy_range(obj->fd.get(), tmp.fd(), first, len, h ? &*h : nullptr);
        std::optional<std::string> digest = stored;
        if (h) {
            digest = h->finish_hex();
            if (stored && *digest != *stored)
                throw error(errc::integrity, "object '" + key + "' is corrupt: SHA-256 " + *digest + ", stored " + *stored);
        }
        tmp.commit(destination.filename().string(), st->options.fsync);
        return object_info{key, size, stored ? *stored : etag_of(obj->st), digest, mtime_of(obj->st)};
    });
}

boost::asio::awaitable<std::optional<object_info>> local_provider::head(std::string key) {
    const auto st = state_;
    co_return co_await detail::offload([&]() -> std::optional<object_info> {
        auto located = st->locate(checked_segments(key));
        if (!located) return std::nullopt;
        const auto& obj = located->first;
        const auto sha = read_sha(obj.fd.get());
        object_info info{key, static_cast<std::uint64_t>(obj.st.st_size), sha ? *sha : etag_of(obj.st), sha,
                         mtime_of(obj.st)};
        info.storage_class = located->second ? "cold_root" : "root";
        return info;
    });
}

namespace {

// Removes the folders of `segments` (a key's) left empty, deepest first; stops at the first one
// still in use.
// Best effort, never an error: the object's own change is done by then. Another thread may be
// pruning the same folders (two objects of one folder moved or removed at once): a folder already
// gone ends the walk.
void prune_empty_folders(int root_fd, const std::vector<std::string>& segments) noexcept {
    for (std::size_t depth = segments.size() - 1; depth > 0; --depth) {
        unique_fd up;
        try {
            up = open_parent(root_fd, segments, false, depth - 1);
        } catch (const std::exception&) {
            return;
        }
        if (::unlinkat(up.get(), segments[depth - 1].c_str(), AT_REMOVEDIR) != 0) return;
    }
}

// Unlinks the key's file in its folder (`parent`); false when it was not there.
bool unlink_object(int parent_fd, const std::string& key, const std::vector<std::string>& segments) {
    if (::unlinkat(parent_fd, segments.back().c_str(), 0) == 0) return true;
    if (errno == ENOENT) return false;
    if (errno == EISDIR) throw error(errc::permanent, "'" + key + "' is a folder, not an object");
    fail(errno, "remove '" + key + "'");
}

void remove_blocking(int root_fd, const std::string& key) {
    const auto segments = checked_segments(key);
    unique_fd parent;
    try {
        parent = open_parent(root_fd, segments, false);
    } catch (const error& e) {
        if (e.code() == errc::not_found) return;
        throw;
    }
    if (unlink_object(parent.get(), key, segments)) prune_empty_folders(root_fd, segments);
}

struct walk_entry {
    std::string rel;  // path under the root, '/'-separated
    struct stat st {};
};

// A directory stream over a duplicate of `dir`: closing the stream leaves `dir` open.
std::unique_ptr<DIR, int (*)(DIR*)> open_dir_stream(int dir) {
    const int fd = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) fail(errno, "dup");
    DIR* d = ::fdopendir(fd);
    if (!d) {
        ::close(fd);
        fail(errno, "opendir");
    }
    return {d, ::closedir};
}

// Visits regular files (and temp files when `temps`) under `dir` whose path could match `prefix`.
void walk(int dir_fd, const std::string& rel, const std::string& prefix, bool temps, std::vector<walk_entry>& out) {
    const auto guard = open_dir_stream(dir_fd);
    DIR* d = guard.get();
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        const bool is_temp = name.starts_with(temp_prefix);
        walk_entry w{rel + name, {}};
        if (::fstatat(dir_fd, name.c_str(), &w.st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // raced with a remove
        if (S_ISDIR(w.st.st_mode) && !is_temp) {
            const std::string sub = w.rel + "/";
            if (!(sub.starts_with(prefix) || prefix.starts_with(sub))) continue;
            const unique_fd child(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (child) walk(child.get(), sub, prefix, temps, out);
        } else if (S_ISREG(w.st.st_mode) && is_temp == temps) {  // symlinks and devices are not objects
            out.push_back(std::move(w));
        }
    }
}

// The folder to start a walk from: the complete segments of the prefix.
std::optional<std::pair<unique_fd, std::string>> walk_start(int root_fd, const std::string& prefix) {
    if (prefix.find('\0') != std::string::npos || prefix.find('\\') != std::string::npos || prefix.starts_with("/"))
        throw error(errc::invalid_key, "invalid prefix");
    const auto slash = prefix.rfind('/');
    if (slash == std::string::npos) return std::pair{unique_fd(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0)), std::string()};
    const std::string dir = prefix.substr(0, slash);
    if (auto reason = invalid_key_reason(dir)) throw error(errc::invalid_key, "invalid prefix: " + *reason);
    auto segments = split_key(dir);
    segments.emplace_back();  // open_parent opens all but the last
    try {
        return std::pair{open_parent(root_fd, segments, false), dir + "/"};
    } catch (const error& e) {
        if (e.code() == errc::not_found || e.code() == errc::permanent) return std::nullopt;
        throw;
    }
}

}  // namespace

boost::asio::awaitable<void> local_provider::remove(std::string key) {
    const auto st = state_;
    co_await detail::offload([&] {
        remove_blocking(st->root_fd.get(), key);
        if (st->cold_fd) remove_blocking(st->cold_fd.get(), key);
    });
}

namespace {

// remove_many under one root folder (the root, or the cold root); returns the keys that failed.
std::vector<std::string> remove_many_under(int root_fd, const std::vector<std::string>& keys) {
        // A batch is mostly keys of a few folders (a pipeline's temp/<id>/...): in key order, one
        // open of each folder for its keys, and the empty folders pruned once per folder at the end.
        std::vector<std::string> failed;
        std::vector<std::string> sorted = keys;
        std::sort(sorted.begin(), sorted.end());
        std::string open_folder;  // the key prefix `folder` belongs to
        unique_fd folder;
        std::map<std::string, std::vector<std::string>> touched;  // folder -> a key's segments there
        for (const auto& key : sorted) {
            try {
                const auto segments = checked_segments(key);
                const std::string prefix = key.substr(0, key.size() - segments.back().size());
                if (!folder || prefix != open_folder) {
                    folder = unique_fd{};
                    open_folder = prefix;
                    try {
                        folder = open_parent(root_fd, segments, false);
                    } catch (const error& e) {
                        if (e.code() == errc::not_found) continue;  // the folder is gone: so is the key
                        throw;
                    }
                }
                if (unlink_object(folder.get(), key, segments) && segments.size() > 1) touched.try_emplace(prefix, segments);
            } catch (const error& e) {
                spdlog::warn("storage: local remove of '{}' failed: {}", key, e.what());
                failed.push_back(key);
            }
        }
        folder = unique_fd{};
        for (auto it = touched.rbegin(); it != touched.rend(); ++it) {  // deeper folders sort after their parents
            try {
                prune_empty_folders(root_fd, it->second);
            } catch (const error&) {
                // A folder that cannot be pruned now is pruned by a later remove or left empty.
            }
        }
        return failed;
}

}  // namespace

boost::asio::awaitable<std::vector<std::string>> local_provider::remove_many(std::vector<std::string> keys) {
    const auto st = state_;
    co_return co_await detail::offload([&] {
        auto failed = remove_many_under(st->root_fd.get(), keys);
        if (st->cold_fd) {
            auto cold_failed = remove_many_under(st->cold_fd.get(), keys);
            failed.insert(failed.end(), cold_failed.begin(), cold_failed.end());
            std::sort(failed.begin(), failed.end());
            failed.erase(std::unique(failed.begin(), failed.end()), failed.end());
        }
        return failed;
    });
}

boost::asio::awaitable<list_page> local_provider::list(std::string prefix, std::optional<std::string> continuation,
                                                       std::size_t max_keys) {
    const auto st = state_;
    co_return co_await detail::offload([&] {
        list_page page;
        std::vector<walk_entry> entries;
        for (const int root : {st->root_fd.get(), st->cold_fd.get()}) {  // the root's entries first
            if (root < 0) continue;
            auto start = walk_start(root, prefix);
            if (start) walk(start->first.get(), start->second, prefix, false, entries);
        }
        std::erase_if(entries, [&](const walk_entry& e) {
            return !e.rel.starts_with(prefix) || (continuation && e.rel <= *continuation);
        });
        // Byte order of the whole key, like S3 (a folder walk alone would put "a/b" before "a-c").
        // A key in both folders (a move to or from the cold root cut short) is listed once, the root's.
        std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.rel < b.rel; });
        entries.erase(std::unique(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.rel == b.rel; }),
                      entries.end());
        const std::size_t n = std::min(entries.size(), std::max<std::size_t>(max_keys, 1));
        for (std::size_t i = 0; i < n; ++i)
            page.objects.push_back(object_info{entries[i].rel, static_cast<std::uint64_t>(entries[i].st.st_size),
                                               etag_of(entries[i].st), std::nullopt, mtime_of(entries[i].st)});
        if (n < entries.size()) page.next = page.objects.back().key;
        return page;
    });
}

boost::asio::awaitable<void> local_provider::copy(std::string source_key, std::string destination_key) {
    const auto st = state_;
    co_await detail::offload([&] {
        auto located = st->locate(checked_segments(source_key));
        if (!located) throw error(errc::not_found, "no object '" + source_key + "'");
        auto src = std::optional<opened_object>(std::move(located->first));
        const auto size = static_cast<std::uint64_t>(src->st.st_size);
        const auto sha = read_sha(src->fd.get());
        st->put(destination_key, [&](int out) {
            if (sha) {
                copy_range(src->fd.get(), out, 0, size, nullptr);
                return std::pair{size, *sha};
            }
            sha256 h;
            copy_range(src->fd.get(), out, 0, size, &h);
            return std::pair{size, h.finish_hex()};
        });
    });
}

std::string local_provider::presign(http_method method, const std::string& key, std::chrono::seconds) const {
    if (method != http_method::get)
        throw error(errc::permanent, "the local provider cannot presign PUT: write through put_file/put_bytes");
    // The folder the object is in now (a stat: the local provider's presign reads the disk).
    const auto segments = checked_segments(key);
    const bool cold = state_->cold_fd && !open_object(state_->root_fd.get(), segments) &&
                      open_object(state_->cold_fd.get(), segments);
    const std::string path = ((cold ? state_->cold_root : state_->root) / key).string();
    std::string url = "file://";
    static constexpr char digits[] = "0123456789ABCDEF";
    for (const unsigned char c : path) {
        if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
            url.push_back(static_cast<char>(c));
        } else {
            url.push_back('%');
            url.push_back(digits[c >> 4]);
            url.push_back(digits[c & 0xf]);
        }
    }
    return url;
}

boost::asio::awaitable<std::vector<incomplete_upload>> local_provider::list_incomplete(std::string prefix) {
    const auto st = state_;
    co_return co_await detail::offload([&] {
        std::vector<incomplete_upload> out;
        auto start = walk_start(st->root_fd.get(), prefix);
        if (!start) return out;
        std::vector<walk_entry> temps;
        walk(start->first.get(), start->second, prefix, true, temps);
        const auto cutoff = std::chrono::system_clock::now() - st->options.stale_temp_after;
        for (auto& t : temps) {
            const auto slash = t.rel.rfind('/');
            const std::string dir = slash == std::string::npos ? "" : t.rel.substr(0, slash + 1);
            const std::string name = t.rel.substr(dir.size());
            if (name.size() <= temp_overhead) continue;
            std::string key = dir + name.substr(temp_overhead);
            if (!key.starts_with(prefix) || mtime_of(t.st) > cutoff) continue;
            out.push_back(incomplete_upload{std::move(key), t.rel, mtime_of(t.st)});
        }
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.upload_id < b.upload_id; });
        return out;
    });
}

boost::asio::awaitable<void> local_provider::abort_incomplete(std::string key, std::string upload_id) {
    const auto st = state_;
    co_await detail::offload([&] {
        auto segments = checked_segments(key);
        // The upload id must name a temp file of this key, in this key's folder.
        const auto slash = upload_id.rfind('/');
        const std::string id_dir = slash == std::string::npos ? "" : upload_id.substr(0, slash + 1);
        const std::string id_name = upload_id.substr(id_dir.size());
        const std::string key_dir = key.substr(0, key.size() - segments.back().size());
        if (id_dir != key_dir || !id_name.starts_with(temp_prefix) || id_name.size() <= temp_overhead ||
            id_name.substr(temp_overhead) != segments.back() || id_name.find('/') != std::string::npos)
            throw error(errc::invalid_key, "'" + upload_id + "' is not an incomplete upload of '" + key + "'");
        unique_fd parent;
        try {
            parent = open_parent(st->root_fd.get(), segments, false);
        } catch (const error& e) {
            if (e.code() == errc::not_found) return;
            throw;
        }
        if (::unlinkat(parent.get(), id_name.c_str(), 0) != 0 && errno != ENOENT) fail(errno, "remove " + upload_id);
    });
}

namespace {

// Parts appended in order to one temp file beside the key, committed (SHA-256 in its xattr, fsync,
// rename) by complete(): what a stream upload to the local provider needs. The engine must send
// parts one at a time, in order (parts_in_flight 1); a part out of order is a programming error.
class local_part_sink final : public part_sink {
public:
    local_part_sink(std::shared_ptr<local_provider::state> st, std::string key) : st_(std::move(st)), key_(std::move(key)) {}

    boost::asio::awaitable<void> begin(const std::string&, const put_options& options) override {
        refuse_content_encoding(options);
        co_await detail::offload([this] {
            segments_ = checked_segments(key_);
            parent_ = open_parent(st_->root_fd.get(), segments_, true);
            tmp_.emplace(parent_.get(), segments_.back());
        });
    }
    boost::asio::awaitable<uploaded_part> upload_part(std::uint32_t number, const part_body& body,
                                                      const std::string&) override {
        if (number != next_ || body.in_file()) throw std::logic_error("local_part_sink: parts must come in order, in memory");
        co_await detail::offload([this, &body] { write_all(tmp_->fd(), body.bytes.data(), body.bytes.size()); });
        ++next_;
        co_return uploaded_part{number, body.size, {}, {}, true};
    }
    boost::asio::awaitable<std::string> complete(const std::vector<uploaded_part>&, const std::string& sha256_hex) override {
        co_return co_await detail::offload([this, &sha256_hex] {
            write_sha(tmp_->fd(), sha256_hex);
            tmp_->commit(segments_.back(), st_->options.fsync);
            tmp_.reset();
            if (st_->cold_fd) remove_blocking(st_->cold_fd.get(), key_);  // a new object is hot, as put() has it
            return sha256_hex;  // the etag local puts report
        });
    }
    boost::asio::awaitable<void> abort() override {
        co_await detail::offload([this] { tmp_.reset(); });  // unlinks the temp file
    }
    checksum_kind checksum() const override { return checksum_kind::none; }
    std::uint64_t min_part_size() const override { return 0; }
    bool sequential_parts() const override { return true; }

private:
    std::shared_ptr<local_provider::state> st_;
    std::string key_;
    std::vector<std::string> segments_;
    unique_fd parent_;
    std::optional<temp_file> tmp_;
    std::uint32_t next_ = 1;
};

}  // namespace

std::unique_ptr<part_sink> local_provider::stream_sink(std::string key) {
    return std::make_unique<local_part_sink>(state_, std::move(key));
}

std::optional<std::string> local_provider::tier_class(storage::tier t) const {
    if (!state_->cold_fd) return std::nullopt;
    return std::string(t == storage::tier::cold ? "cold_root" : "root");
}

namespace {

// Removes what a move killed mid-copy left in `dir`: temp files of `leaf` (only moves write into
// the cold root, so none of them belongs to a live writer there).
void remove_temps_of(int dir, const std::string& leaf) {
    const auto guard = open_dir_stream(dir);
    DIR* d = guard.get();
    std::vector<std::string> stale;
    while (const dirent* e = ::readdir(d))
        if (is_download_temp_of(e->d_name, leaf)) stale.emplace_back(e->d_name);
    for (const auto& name : stale) ::unlinkat(dir, name.c_str(), 0);
}

// Moves the key's file from one root to the other: a rename within one filesystem; across two,
// a copy (hashed, checked against the stored SHA-256) into a temp file, fsync, rename, and only
// then the unlink of the source. Either way a crash leaves the object whole in one folder or both.
void move_between(int from_root, int to_root, const std::vector<std::string>& segments, const std::string& key,
                  bool into_cold, bool sync) {
    const std::string& leaf = segments.back();
    const unique_fd from_parent = open_parent(from_root, segments, false);
    const unique_fd to_parent = open_parent(to_root, segments, true);
    if (into_cold) remove_temps_of(to_parent.get(), leaf);
    if (::renameat(from_parent.get(), leaf.c_str(), to_parent.get(), leaf.c_str()) == 0) {
        if (sync && (::fsync(to_parent.get()) != 0 || ::fsync(from_parent.get()) != 0)) fail(errno, "fsync folder");
        prune_empty_folders(from_root, segments);
        return;
    }
    if (errno != EXDEV) fail(errno, "move '" + key + "'");
    auto src = open_object(from_root, segments);
    if (!src) throw error(errc::not_found, "no object '" + key + "'");
    const auto size = static_cast<std::uint64_t>(src->st.st_size);
    const auto stored = read_sha(src->fd.get());
    temp_file tmp(to_parent.get(), leaf);
    sha256 h;
    copy_range(src->fd.get(), tmp.fd(), 0, size, &h);
    const std::string digest = h.finish_hex();
    if (stored && digest != *stored)
        throw error(errc::integrity, "object '" + key + "' is corrupt: SHA-256 " + digest + ", stored " + *stored);
    write_sha(tmp.fd(), digest);
    tmp.commit(leaf, sync);
    if (unlink_object(from_parent.get(), key, segments)) prune_empty_folders(from_root, segments);
}

}  // namespace

boost::asio::awaitable<void> local_provider::set_tier(std::string key, storage::tier t) {
    if (!tier_class(t))
        throw error(errc::permanent, "local provider '" + name_ + "' has no cold_root: it does not place objects by tier");
    const auto st = state_;
    co_await detail::offload([&] {
        const auto segments = checked_segments(key);
        const bool into_cold = t == storage::tier::cold;
        const int from = into_cold ? st->root_fd.get() : st->cold_fd.get();
        const int to = into_cold ? st->cold_fd.get() : st->root_fd.get();
        if (!open_object(from, segments)) {
            if (open_object(to, segments)) return;  // already there (a rerun)
            throw error(errc::not_found, "no object '" + key + "'");
        }
        move_between(from, to, segments, key, into_cold, st->options.fsync);
    });
}

}  // namespace wharf::storage
