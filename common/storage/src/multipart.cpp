// The parallel chunked upload engine (see multipart.hpp).
//
// Shape: N workers on one strand pull part numbers in order. In memory mode each takes its part's
// bytes from the memory budget (FIFO, so a part holding memory implies every earlier part of the
// same upload got memory first: the part whose read turn it is can always make progress). Then it
// reads the part on the blocking pool in cache-sized chunks, each feeding the part checksum and
// the object's SHA-256 -- parts take turns, in order, because the SHA-256 needs them in order;
// the next part is read while earlier ones upload. In file mode (a plain-TCP sink that sends parts
// with sendfile) the chunks pass through a small scratch buffer instead and the part never sits
// in memory. A failed attempt gives its buffer back during its backoff and re-reads the part
// afterwards, checking that its checksum did not change.
#include "wharf/storage/multipart.hpp"

#include "blocking.hpp"
#include "mapped_read.hpp"
#include "wharf/core/log.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/storage/sha256.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

namespace wharf::storage {
namespace asio = boost::asio;

namespace {

class file_handle {
public:
    file_handle() = default;  // co_spawn needs default-constructible results
    explicit file_handle(int fd) noexcept : fd_(fd) {}
    file_handle(file_handle&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    file_handle& operator=(file_handle&& o) noexcept {
        std::swap(fd_, o.fd_);
        return *this;
    }
    ~file_handle() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const noexcept { return fd_; }

private:
    int fd_ = -1;
};

// What must not change between the first read and complete.
struct file_stamp {
    std::uint64_t size = 0;
    std::int64_t mtime_sec = 0, mtime_nsec = 0;
    ino_t inode = 0;
    friend bool operator==(const file_stamp&, const file_stamp&) = default;
};

file_stamp stamp_of(int fd, const std::filesystem::path& path) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw error(errc::permanent, "cannot stat " + path.string() + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw error(errc::permanent, path.string() + " is not a regular file");
    return {static_cast<std::uint64_t>(st.st_size), st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ino};
}

void pread_full(int fd, char* buf, std::uint64_t len, std::uint64_t offset, const std::filesystem::path& path) {
    while (len > 0) {
        const ssize_t n = ::pread(fd, buf, len, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw error(errc::permanent, "cannot read " + path.string() + ": " + std::strerror(errno));
        }
        if (n == 0) throw error(errc::integrity, path.string() + " shrank while it was being uploaded");
        buf += n;
        len -= static_cast<std::uint64_t>(n);
        offset += static_cast<std::uint64_t>(n);
    }
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds delay) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::use_awaitable);
}

// Reads of a part go through chunks this big: each is hashed while it is still in the cache.
constexpr std::uint64_t read_chunk = 256u << 10;

struct upload_state {
    part_sink& sink;
    const std::string& key;
    const std::filesystem::path& path;
    int fd;
    part_plan plan;
    std::uint64_t size;
    memory_budget& budget;
    const backoff_policy& retry;
    const progress_fn& progress;
    checksum_kind checksum;
    bool file_mode;  // parts go to the sink as file regions, not buffers
    bool need_sha;
    // Everything below is touched only on the workers' strand.
    asio::steady_timer read_turn;  // never expires; cancel() wakes every worker waiting for its turn
    sha256 sha;
    std::uint32_t next_part = 1;
    std::uint32_t read_cursor = 1;  // with need_sha, the part whose turn it is to be read
    bool failed = false;
    std::uint64_t done = 0;
    std::vector<uploaded_part> parts;
};

struct part_buffer {
    memory_budget::lease lease;
    std::unique_ptr<char[]> bytes;  // memory mode only
};

// What the mapped walk feeds: the part checksum and, when set, the object's SHA-256.
struct digests {
    part_checksum* sum;
    sha256* sha;
    static void feed(void* self, const char* bytes, std::size_t n) {
        auto* d = static_cast<digests*>(self);
        const std::span<const char> chunk(bytes, n);
        d->sum->update(chunk);
        if (d->sha) d->sha->update(chunk);
    }
};

// Reads [offset, offset+len) of the source, feeding the part checksum and, when `sha` is set, the
// object's SHA-256. In memory mode the bytes land in `into`, read in cache-sized chunks each
// hashed at once. In file mode only the digests are wanted: the region is read through a mapping
// (no copy), or through a small scratch buffer where mapped reads are off. Blocking: on the pool.
std::string read_and_digest(const upload_state& s, char* into, std::uint64_t offset, std::uint64_t len, sha256* sha) {
    part_checksum sum(s.checksum);
    if (!into && detail::mapped_reads_available()) {
        digests d{&sum, sha};
        if (!detail::read_mapped(s.fd, offset, len, read_chunk, &digests::feed, &d))
            throw error(errc::integrity, s.path.string() + " shrank while it was being uploaded");
        return sum.finish_base64();
    }
    std::unique_ptr<char[]> scratch;
    if (!into) scratch = std::make_unique_for_overwrite<char[]>(read_chunk);
    for (std::uint64_t at = 0; at < len;) {
        const std::uint64_t n = std::min(read_chunk, len - at);
        char* chunk = into ? into + at : scratch.get();
        pread_full(s.fd, chunk, n, offset + at, s.path);
        const std::span<const char> bytes(chunk, n);
        sum.update(bytes);
        if (sha) sha->update(bytes);
        at += n;
    }
    return sum.finish_base64();
}

// Takes memory (memory mode), reads the part -- in part order when the object's SHA-256 is being
// computed, in parallel otherwise -- and returns its checksum; nullopt when the upload was
// abandoned (another part failed) while this one waited for its turn.
asio::awaitable<std::optional<std::string>> read_part(upload_state& s, std::uint32_t number, part_buffer& buf, std::uint64_t offset,
                                       std::uint64_t len, bool first_read) {
    char* data = nullptr;
    if (!s.file_mode) {
        // Before the read turn: memory is granted FIFO, so the part whose turn it is always got
        // its memory before any later part did, and can go on.
        buf.lease = co_await s.budget.acquire(len);
        buf.bytes = std::make_unique_for_overwrite<char[]>(std::max<std::uint64_t>(len, 1));
        data = buf.bytes.get();
    }
    if (!(first_read && s.need_sha)) {
        co_return co_await detail::offload([&s, data, offset, len] {
            return read_and_digest(s, data, offset, len, nullptr);
        });
    }
    while (s.read_cursor != number) {
        if (s.failed) co_return std::nullopt;
        co_await s.read_turn.async_wait(asio::as_tuple(asio::use_awaitable));  // woken by cancel()
    }
    std::string sum = co_await detail::offload([&s, data, offset, len] {
        return read_and_digest(s, data, offset, len, &s.sha);
    });
    ++s.read_cursor;
    s.read_turn.cancel();
    co_return sum;
}

asio::awaitable<void> run_part(upload_state& s, std::uint32_t number) {
    const std::uint64_t offset = std::uint64_t{number - 1} * s.plan.part_size;
    const std::uint64_t len = std::min(s.plan.part_size, s.size - offset);
    part_buffer buf;
    const std::optional<std::string> first = co_await read_part(s, number, buf, offset, len, true);
    if (!first) co_return;
    const std::string& sum = *first;

    for (std::uint32_t attempt = 1;; ++attempt) {
        std::string reason;
        try {
            part_body body;
            body.size = len;
            if (s.file_mode) {
                body.fd = s.fd;
                body.offset = offset;
            } else {
                body.bytes = std::span<const char>(buf.bytes.get(), len);
            }
            uploaded_part part = co_await s.sink.upload_part(number, body, sum);
            part.number = number;
            part.size = len;
            part.checksum = sum;
            s.parts[number - 1] = std::move(part);
            break;
        } catch (const error& e) {
            // integrity from the sink: the server refused the bytes it got (BadDigest...). The
            // re-read below tells a part damaged on the way (same checksum: send it again) from
            // a file that changed (integrity, final).
            const bool resend = e.retryable() || e.code() == errc::integrity;
            if (!resend || !s.retry.may_retry(attempt) || s.failed) throw;
            reason = e.what();
        }
        const auto delay = s.retry.delay(attempt, jitter_rng());
        spdlog::warn("storage: part {} of {} of '{}' failed (attempt {}): {}; retrying in {} ms", number,
                     s.plan.part_count, s.key, attempt, reason, delay.count());
        // Back off without holding the part's memory; the part is re-read afterwards, and its
        // checksum must not have changed (the SHA-256 already has these bytes).
        buf = part_buffer{};
        co_await sleep_for(delay);
        if (s.failed) co_return;
        const std::optional<std::string> again = co_await read_part(s, number, buf, offset, len, false);
        if (again != sum) throw error(errc::integrity, s.path.string() + " changed while it was being uploaded");
    }

    s.done += len;
    if (s.progress) s.progress(s.done, s.size);
}

asio::awaitable<void> worker(upload_state& s) {
    while (!s.failed && s.next_part <= s.plan.part_count) {
        const std::uint32_t number = s.next_part++;
        std::exception_ptr failure;
        try {
            co_await run_part(s, number);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            // Stop the other workers from starting parts and from waiting for a SHA turn that
            // may never come; parts already in flight finish (drain) before the abort.
            s.failed = true;
            s.read_turn.cancel();
            std::rethrow_exception(failure);
        }
    }
}

template <typename Op>
asio::awaitable<std::string> with_retries(const backoff_policy& retry, const std::string& what, Op op) {
    for (std::uint32_t attempt = 1;; ++attempt) {
        std::string reason;
        try {
            co_return co_await op();
        } catch (const error& e) {
            if (!e.retryable() || !retry.may_retry(attempt)) throw;
            reason = e.what();
        }
        const auto delay = retry.delay(attempt, jitter_rng());
        spdlog::warn("storage: {} failed (attempt {}): {}; retrying in {} ms", what, attempt, reason, delay.count());
        co_await sleep_for(delay);
    }
}

// After a failure: the server is owed an abort -- also by a cancelled caller (job timeout), or
// the parts linger -- and the caller's journal learns of it once it succeeded.
asio::awaitable<void> abort_upload(part_sink& sink, const std::string& key, const put_options& options,
                                   const std::string& upload_id) {
    co_await asio::this_coro::reset_cancellation_state();
    std::string abort_failure;
    try {
        co_await sink.abort();
    } catch (const std::exception& e) {
        abort_failure = e.what();
    }
    if (!abort_failure.empty()) {
        spdlog::error("storage: aborting the upload of '{}' failed too: {}", key, abort_failure);
    } else if (options.on_upload_aborted && !upload_id.empty()) {
        try {
            auto aborted = options.on_upload_aborted(upload_id);
            co_await std::move(aborted);
        } catch (const std::exception& e) {
            spdlog::warn("storage: upload of '{}' aborted, but on_upload_aborted failed: {}", key, redact(e.what()));
        }
    }
}

}  // namespace

asio::awaitable<put_result> upload_file_in_parts(part_sink& sink, std::string key, std::filesystem::path source,
                                                 put_options options, engine_limits limits) {
    auto ex = co_await asio::this_coro::executor;
    auto [file, stamp] = co_await detail::offload([&source] {
        const int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            throw error(errno == ENOENT ? errc::not_found : errc::permanent,
                        "cannot open " + source.string() + ": " + std::strerror(errno));
        file_handle handle(fd);
        const file_stamp st = stamp_of(fd, source);
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        return std::pair{std::move(handle), st};
    });
    if (options.sha256 && !is_sha256_hex(*options.sha256))
        throw error(errc::permanent, "put_options.sha256 is not 64 lowercase hex characters");
    const part_plan plan = plan_parts(stamp.size, options.part_size, sink.min_part_size());

    co_await sink.begin(key, options);

    // From here on the upload exists on the server: any failure ends in abort().
    auto strand = asio::make_strand(ex);
    upload_state s{sink, key, source, file.get(), plan, stamp.size,
                   limits.budget ? *limits.budget : memory_budget::process(), limits.retry, options.progress,
                   sink.checksum(), sink.accepts_file_parts(), !options.sha256,
                   asio::steady_timer(strand, asio::steady_timer::time_point::max()), sha256{}};
    s.parts.resize(plan.part_count);

    std::exception_ptr failure;
    std::string etag, sha_hex;
    const std::string upload_id = sink.upload_id();
    try {
        if (options.on_upload_created && !upload_id.empty()) {
            auto created = options.on_upload_created(upload_id);  // before any part is sent
            co_await std::move(created);
        }
        const std::size_t workers = std::clamp<std::size_t>(options.parts_in_flight, 1, plan.part_count);
        using op_type = decltype(asio::co_spawn(strand, worker(s), asio::deferred));
        std::vector<op_type> ops;
        for (std::size_t i = 0; i < workers; ++i) ops.push_back(asio::co_spawn(strand, worker(s), asio::deferred));
        // wait_for_all: in-flight parts drain before we decide anything.
        auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(ops))
                                   .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
        for (const std::size_t i : order)
            if (errors[i]) {
                failure = errors[i];
                break;
            }
        if (!failure) {
            std::uint64_t total = 0;
            for (const auto& p : s.parts) total += p.size;
            const file_stamp now = co_await detail::offload([&] { return stamp_of(file.get(), source); });
            if (total != stamp.size || now != stamp)
                throw error(errc::integrity, source.string() + " changed while it was being uploaded (" +
                                                 std::to_string(total) + " bytes sent, " + std::to_string(now.size) +
                                                 " now)");
            sha_hex = options.sha256 ? *options.sha256 : s.sha.finish_hex();
            etag = co_await with_retries(limits.retry, "completing '" + key + "'",
                                         [&]() { return sink.complete(s.parts, sha_hex); });
        }
    } catch (...) {
        failure = std::current_exception();
    }

    if (failure) {
        co_await abort_upload(sink, key, options, upload_id);
        std::rethrow_exception(failure);
    }

    co_return put_result{std::move(key), stamp.size, std::move(etag), std::move(sha_hex), plan.part_count};
}

namespace {

// The stream engine's state, touched only on its strand.
struct stream_state {
    part_sink& sink;
    const std::string& key;
    const backoff_policy& retry;
    const progress_fn& progress;
    std::vector<uploaded_part> parts;
    std::uint64_t done = 0;
    std::size_t running = 0;           // parts being sent
    asio::steady_timer part_finished;  // never expires; cancel() wakes the filler
    std::exception_ptr failure;        // the first part that failed for good
};

// Sends one part from its buffer; a failed attempt is resent from the same bytes (a refusal of
// the bytes -- integrity -- means they were damaged on the way: memory still holds them whole).
asio::awaitable<void> send_stream_part(stream_state& s, std::uint32_t number, std::shared_ptr<std::vector<char>> bytes,
                                       std::string sum) {
    for (std::uint32_t attempt = 1;; ++attempt) {
        std::string reason;
        try {
            part_body body;
            body.bytes = std::span<const char>(bytes->data(), bytes->size());
            body.size = bytes->size();
            uploaded_part part = co_await s.sink.upload_part(number, body, sum);
            part.number = number;
            part.size = bytes->size();
            part.checksum = sum;
            s.parts[number - 1] = std::move(part);
            break;
        } catch (const error& e) {
            const bool resend = e.retryable() || e.code() == errc::integrity;
            if (!resend || !s.retry.may_retry(attempt) || s.failure) throw;
            reason = e.what();
        }
        const auto delay = s.retry.delay(attempt, jitter_rng());
        spdlog::warn("storage: part {} of the stream '{}' failed (attempt {}): {}; retrying in {} ms", number, s.key,
                     attempt, reason, delay.count());
        co_await sleep_for(delay);
        if (s.failure) co_return;
    }
    s.done += bytes->size();
    if (s.progress) s.progress(s.done, 0);
}

asio::awaitable<put_result> run_stream_upload(part_sink& sink, std::string key, stream_reader read,
                                              put_options options, engine_limits limits) {
    const std::uint64_t part_size =
        std::max<std::uint64_t>({options.part_size ? options.part_size : default_part_size, sink.min_part_size(), 1});
    if (part_size > max_part_size) throw error(errc::permanent, "part size above 5 GiB");
    const std::size_t in_flight = std::max<std::size_t>(options.parts_in_flight, 1);
    auto ex = co_await asio::this_coro::executor;  // a strand: see upload_stream_in_parts

    co_await sink.begin(key, options);
    // From here on the upload exists on the server: any failure ends in abort().
    stream_state s{sink, key, limits.retry, options.progress, {}, 0, 0,
                   asio::steady_timer(ex, asio::steady_timer::time_point::max()), nullptr};
    const std::string upload_id = sink.upload_id();
    std::exception_ptr failure;
    sha256 sha;
    std::uint64_t total = 0;
    std::uint32_t count = 0;
    std::string etag, sha_hex;
    try {
        if (options.on_upload_created && !upload_id.empty()) {
            auto created = options.on_upload_created(upload_id);  // before any part is sent
            co_await std::move(created);
        }
        for (bool ended = false; !ended && !s.failure;) {
            // Fill one part from the stream (the only copy of those bytes from here on).
            auto bytes = std::make_shared<std::vector<char>>();
            bytes->resize(part_size);
            std::size_t filled = 0;
            while (filled < part_size) {
                const std::size_t n = co_await read(std::span<char>(bytes->data() + filled, part_size - filled));
                if (n == 0) {
                    ended = true;
                    break;
                }
                filled += n;
            }
            bytes->resize(filled);
            if (filled == 0 && count > 0) break;  // the stream ended on a part boundary
            if (count == max_parts)
                throw error(errc::permanent, "the stream is longer than 10,000 parts of " + std::to_string(part_size) +
                                                 " bytes: raise the part size");
            const checksum_kind kind = sink.checksum();
            std::string sum = co_await detail::offload([&sha, &bytes, kind] {
                const std::span<const char> view(bytes->data(), bytes->size());
                sha.update(view);
                part_checksum c(kind);
                c.update(view);
                return c.finish_base64();
            });
            total += filled;
            const std::uint32_t number = ++count;
            s.parts.resize(count);
            // Hold at most in_flight parts in flight: wait for a slot.
            while (s.running >= in_flight && !s.failure)
                co_await s.part_finished.async_wait(asio::as_tuple(asio::use_awaitable));
            if (s.failure) break;
            ++s.running;
            auto send = send_stream_part(s, number, std::move(bytes), std::move(sum));
            asio::co_spawn(ex, std::move(send), [&s](std::exception_ptr e) {
                if (e && !s.failure) s.failure = e;
                --s.running;
                s.part_finished.cancel();
            });
        }
    } catch (...) {
        failure = std::current_exception();
    }
    // In-flight parts drain before anything is decided (they reference `s`); a cancelled caller
    // waits for them too.
    if (failure) co_await asio::this_coro::reset_cancellation_state();
    while (s.running > 0) co_await s.part_finished.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!failure && s.failure) failure = s.failure;
    if (!failure) {
        try {
            sha_hex = sha.finish_hex();
            etag = co_await with_retries(limits.retry, "completing '" + key + "'",
                                         [&]() { return sink.complete(s.parts, sha_hex); });
        } catch (...) {
            failure = std::current_exception();
        }
    }
    if (failure) {
        co_await abort_upload(sink, key, options, upload_id);
        std::rethrow_exception(failure);
    }
    co_return put_result{std::move(key), total, std::move(etag), std::move(sha_hex), count};
}

}  // namespace

asio::awaitable<put_result> upload_stream_in_parts(part_sink& sink, std::string key, stream_reader read,
                                                   put_options options, engine_limits limits) {
    // On a strand of its own: the parts' sends and the filler share stream_state, and the
    // caller's executor may be a multi-threaded io_context.
    auto strand = asio::make_strand(co_await asio::this_coro::executor);
    auto run = run_stream_upload(sink, std::move(key), std::move(read), std::move(options), limits);
    co_return co_await asio::co_spawn(strand, std::move(run), asio::use_awaitable);
}

}  // namespace wharf::storage
