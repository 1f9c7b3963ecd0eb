// The multipart engine against an in-memory part_sink: ordering, SHA-256 while streaming, retries,
// drain-then-abort, never abort after complete, byte-count check, memory budget, progress.
// (The real backends are exercised against moto and Azurite in tests/integration.)
#include "wharf/storage/multipart.hpp"
#include "wharf/storage/sha256.hpp"
#include "wharf/test/process.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>

#include <unistd.h>

namespace asio = boost::asio;
using namespace wharf::storage;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t MiB = 1ull << 20;

class memory_sink : public part_sink {
public:
    // Return an error code to fail this attempt of this part.
    std::function<std::optional<errc>(std::uint32_t number, int attempt)> fail_part;
    std::function<std::optional<errc>(int attempt)> fail_complete;
    std::function<void(std::uint32_t number)> on_part;

    asio::awaitable<void> begin(const std::string& key, const put_options&) override {
        key_ = key;
        begun = true;
        co_return;
    }
    asio::awaitable<uploaded_part> upload_part(std::uint32_t number, const part_body& body,
                                               const std::string& sum) override {
        const int attempt = ++attempts[number];
        peak_in_flight = std::max(peak_in_flight, ++in_flight);
        if (on_part) on_part(number);
        // File mode: read the region as a sendfile() would, now.
        std::string from_file;
        if (body.in_file()) {
            EXPECT_TRUE(file_parts) << "file mode was not asked for";
            from_file.resize(body.size);
            EXPECT_EQ(::pread(body.fd, from_file.data(), body.size, static_cast<off_t>(body.offset)),
                      static_cast<ssize_t>(body.size));
        } else {
            EXPECT_FALSE(file_parts) << "memory mode in a file-mode sink";
            EXPECT_EQ(body.bytes.size(), body.size);
        }
        const std::span<const char> bytes =
            body.in_file() ? std::span<const char>(from_file.data(), from_file.size()) : body.bytes;
        part_checksum expected(kind);
        expected.update(bytes);
        if (sum != expected.finish_base64()) throw error(errc::integrity, "the part checksum does not match the bytes");
        // Let other parts start, as a network round trip would. Part 1 waits (up to 5 s) for a
        // second part to arrive, so the parallelism check does not depend on how fast this
        // machine (or a sanitizer build) reads and hashes the next part.
        asio::steady_timer t(co_await asio::this_coro::executor, 2ms);
        co_await t.async_wait(asio::use_awaitable);
        for (int waited = 0; number == 1 && in_flight < 2 && waited < 2500 && wait_for_company; ++waited) {
            t.expires_after(2ms);
            co_await t.async_wait(asio::use_awaitable);
        }
        --in_flight;
        if (fail_part)
            if (auto code = fail_part(number, attempt)) throw error(*code, "injected failure");
        std::lock_guard lock(mutex_);
        stored[number] = std::string(bytes.begin(), bytes.end());
        co_return uploaded_part{number, bytes.size(), "etag-" + std::to_string(number)};
    }
    asio::awaitable<std::string> complete(const std::vector<uploaded_part>& parts, const std::string& sha) override {
        ++complete_calls;
        if (fail_complete)
            if (auto code = fail_complete(complete_calls)) throw error(*code, "injected complete failure");
        for (const auto& p : parts) {
            EXPECT_EQ(p.etag, "etag-" + std::to_string(p.number));
            object += stored.at(p.number);
        }
        sha_seen = sha;
        completed = true;
        co_return "final-etag";
    }
    asio::awaitable<void> abort() override {
        in_flight_at_abort = in_flight;
        aborted = true;
        co_return;
    }
    checksum_kind checksum() const override { return kind; }
    bool accepts_file_parts() const override { return file_parts; }

    checksum_kind kind = checksum_kind::md5;
    bool file_parts = false;

    std::string key_, object, sha_seen;
    bool wait_for_company = false;
    bool begun = false, completed = false, aborted = false;
    int complete_calls = 0, in_flight = 0, peak_in_flight = 0, in_flight_at_abort = -1;
    std::map<std::uint32_t, int> attempts;
    std::map<std::uint32_t, std::string> stored;
    std::mutex mutex_;
};

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
        const auto v = rng();
        std::memcpy(s.data() + i, &v, std::min<std::size_t>(8, n - i));
    }
    return s;
}

struct fixture {
    wharf::test::temp_dir dir{"wharf-engine"};
    std::filesystem::path file;
    std::string content;
    explicit fixture(std::size_t size) : file(dir.path() / "src.bin"), content(random_bytes(size, 42)) {
        std::ofstream(file, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
    }
};

engine_limits fast_retries(memory_budget* budget = nullptr) {
    engine_limits l;
    l.budget = budget;
    l.retry = wharf::backoff_policy{1ms, 5ms, 4};
    return l;
}

put_result run(memory_sink& sink, const fixture& f, put_options opts, engine_limits limits = fast_retries()) {
    asio::io_context io;
    auto fut = asio::co_spawn(io, upload_file_in_parts(sink, "obj", f.file, std::move(opts), limits), asio::use_future);
    io.run();
    return fut.get();
}

put_options options(std::size_t in_flight = 3) {
    put_options o;
    o.part_size = 5 * MiB;
    o.parts_in_flight = in_flight;
    return o;
}

}  // namespace

TEST(multipart_engine, uploads_parts_in_parallel_with_the_streamed_sha256_and_progress) {
    fixture f(23 * MiB + 17);
    memory_sink sink;
    sink.wait_for_company = true;
    std::vector<std::uint64_t> progress;
    auto opts = options(3);
    opts.progress = [&](std::uint64_t done, std::uint64_t total) {
        EXPECT_EQ(total, f.content.size());
        progress.push_back(done);
    };
    const auto r = run(sink, f, opts);
    EXPECT_EQ(r.parts, 5u);
    EXPECT_EQ(r.size, f.content.size());
    EXPECT_EQ(r.etag, "final-etag");
    EXPECT_EQ(r.sha256, sha256_hex(f.content));
    EXPECT_EQ(sink.sha_seen, r.sha256);
    EXPECT_TRUE(sink.object == f.content);
    EXPECT_FALSE(sink.aborted);
    EXPECT_GT(sink.peak_in_flight, 1);
    EXPECT_LE(sink.peak_in_flight, 3);
    ASSERT_EQ(progress.size(), 5u);
    EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
    EXPECT_EQ(progress.back(), f.content.size());
}

TEST(multipart_engine, an_empty_file_is_one_empty_part) {
    fixture f(0);
    memory_sink sink;
    const auto r = run(sink, f, options());
    EXPECT_EQ(r.parts, 1u);
    EXPECT_EQ(r.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_TRUE(sink.completed);
}

TEST(multipart_engine, a_carried_sha256_is_used_not_recomputed) {
    fixture f(11 * MiB);
    memory_sink sink;
    auto opts = options();
    const std::string carried(64, 'a');
    opts.sha256 = carried;
    EXPECT_EQ(run(sink, f, opts).sha256, carried);
    EXPECT_EQ(sink.sha_seen, carried);
}

TEST(multipart_engine, transient_part_failures_are_retried_and_the_part_re_read) {
    fixture f(16 * MiB);
    memory_sink sink;
    sink.fail_part = [](std::uint32_t n, int attempt) -> std::optional<errc> {
        if (n == 2 && attempt <= 2) return errc::transient;
        return std::nullopt;
    };
    const auto r = run(sink, f, options());
    EXPECT_EQ(sink.attempts[2], 3);
    EXPECT_EQ(sink.attempts[1], 1);
    EXPECT_TRUE(sink.object == f.content);
    EXPECT_EQ(r.sha256, sha256_hex(f.content));
    EXPECT_FALSE(sink.aborted);
}

// The server refused a part's bytes (S3 BadDigest: damaged on the way). The file still reads the
// same, so the part is sent again, within the retry bound; a part refused every time fails the
// upload as integrity once the bound is spent.
TEST(multipart_engine, a_part_the_server_refused_is_resent_while_it_reads_the_same) {
    for (const bool file_parts : {false, true}) {
        SCOPED_TRACE(file_parts ? "file mode" : "memory mode");
        fixture f(16 * MiB);
        memory_sink sink;
        sink.kind = checksum_kind::crc32;
        sink.file_parts = file_parts;
        sink.fail_part = [](std::uint32_t n, int attempt) -> std::optional<errc> {
            if (n == 2 && attempt == 1) return errc::integrity;
            return std::nullopt;
        };
        const auto r = run(sink, f, options());
        EXPECT_EQ(sink.attempts[2], 2);
        EXPECT_TRUE(sink.object == f.content);
        EXPECT_EQ(r.sha256, sha256_hex(f.content));
        EXPECT_FALSE(sink.aborted);

        memory_sink always;
        always.file_parts = file_parts;
        always.fail_part = [](std::uint32_t n, int) -> std::optional<errc> {
            if (n == 2) return errc::integrity;
            return std::nullopt;
        };
        try {
            run(always, f, options());
            FAIL() << "expected an integrity error";
        } catch (const error& e) {
            EXPECT_EQ(e.code(), errc::integrity) << e.what();
        }
        EXPECT_EQ(always.attempts[2], 4);  // fast_retries(): 4 attempts
        EXPECT_TRUE(always.aborted);
        EXPECT_EQ(always.complete_calls, 0);
    }
}

TEST(multipart_engine, a_permanent_failure_aborts_after_in_flight_parts_drain) {
    fixture f(40 * MiB);
    memory_sink sink;
    sink.fail_part = [](std::uint32_t n, int) -> std::optional<errc> {
        if (n == 3) return errc::access_denied;
        return std::nullopt;
    };
    try {
        run(sink, f, options(4));
        FAIL() << "expected an error";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::access_denied);
    }
    EXPECT_TRUE(sink.aborted);
    EXPECT_EQ(sink.in_flight_at_abort, 0);
    EXPECT_FALSE(sink.completed);
    EXPECT_EQ(sink.attempts[3], 1) << "a permanent error is not retried";
    EXPECT_LT(sink.attempts.size(), 8u) << "no new parts start after a failure";
}

TEST(multipart_engine, retries_are_bounded_then_the_upload_is_aborted) {
    fixture f(12 * MiB);
    memory_sink sink;
    sink.fail_part = [](std::uint32_t n, int) -> std::optional<errc> {
        if (n == 1) return errc::transient;
        return std::nullopt;
    };
    EXPECT_THROW(run(sink, f, options()), error);
    EXPECT_EQ(sink.attempts[1], 4);
    EXPECT_TRUE(sink.aborted);
    EXPECT_EQ(sink.complete_calls, 0);
}

TEST(multipart_engine, a_transient_complete_failure_is_retried_and_never_aborted_after_success) {
    fixture f(6 * MiB);
    memory_sink sink;
    sink.fail_complete = [](int attempt) -> std::optional<errc> {
        if (attempt == 1) return errc::transient;  // e.g. S3's "200 OK with an <Error> body"
        return std::nullopt;
    };
    const auto r = run(sink, f, options());
    EXPECT_EQ(sink.complete_calls, 2);
    EXPECT_EQ(r.etag, "final-etag");
    EXPECT_FALSE(sink.aborted);
}

TEST(multipart_engine, a_file_that_changes_during_the_upload_fails_the_byte_count_check) {
    fixture f(12 * MiB);
    memory_sink sink;
    sink.on_part = [&](std::uint32_t n) {
        if (n == 1) std::ofstream(f.file, std::ios::binary | std::ios::app) << "more";
    };
    try {
        run(sink, f, options());
        FAIL() << "expected an integrity error";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::integrity) << e.what();
    }
    EXPECT_TRUE(sink.aborted);
    EXPECT_EQ(sink.complete_calls, 0);
}

TEST(multipart_engine, the_memory_budget_bounds_parts_in_flight) {
    fixture f(30 * MiB);
    memory_sink sink;
    memory_budget budget(10 * MiB);  // room for two 5 MiB parts although 6 may be in flight
    const auto r = run(sink, f, options(6), fast_retries(&budget));
    EXPECT_LE(sink.peak_in_flight, 2);
    EXPECT_EQ(r.sha256, sha256_hex(f.content));
    EXPECT_EQ(budget.available(), 10 * MiB);
}

TEST(multipart_engine, a_missing_source_is_not_found_before_anything_starts) {
    memory_sink sink;
    asio::io_context io;
    auto fut = asio::co_spawn(io, upload_file_in_parts(sink, "k", "/nonexistent/file", put_options{}), asio::use_future);
    io.run();
    try {
        fut.get();
        FAIL();
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::not_found);
    }
    EXPECT_FALSE(sink.begun);
}

// Every part checksum a backend may ask for, with parts as buffers or as file regions (what a
// plain-TCP S3 sink sends with sendfile): the bytes, the checksums and the SHA-256 agree, retried
// parts included.
TEST(multipart_engine, every_checksum_kind_in_memory_and_file_mode) {
    fixture f(17 * MiB + 3);
    for (const bool file_parts : {false, true}) {
        for (const auto kind : {checksum_kind::none, checksum_kind::md5, checksum_kind::crc32, checksum_kind::crc32c}) {
            SCOPED_TRACE(std::string(to_string(kind)) + (file_parts ? " file" : " memory"));
            memory_sink sink;
            sink.kind = kind;
            sink.file_parts = file_parts;
            sink.fail_part = [](std::uint32_t n, int attempt) -> std::optional<errc> {
                if (n == 2 && attempt == 1) return errc::transient;
                return std::nullopt;
            };
            const auto r = run(sink, f, options(3));
            EXPECT_EQ(r.parts, 4u);
            EXPECT_EQ(r.sha256, sha256_hex(f.content));
            EXPECT_TRUE(sink.object == f.content);
            EXPECT_EQ(sink.attempts[2], 2);
            EXPECT_FALSE(sink.aborted);
        }
    }
}

// A part rewritten in place (same size, so the byte count cannot tell) between a failed attempt
// and its retry: the re-read part's checksum differs from the one the SHA-256 was fed with.
TEST(multipart_engine, a_part_rewritten_before_its_retry_is_an_integrity_error) {
    for (const bool file_parts : {false, true}) {
        SCOPED_TRACE(file_parts ? "file mode" : "memory mode");
        fixture f(12 * MiB);
        memory_sink sink;
        sink.kind = checksum_kind::crc32c;
        sink.file_parts = file_parts;
        sink.fail_part = [&](std::uint32_t n, int attempt) -> std::optional<errc> {
            if (n != 1 || attempt != 1) return std::nullopt;
            std::fstream out(f.file, std::ios::binary | std::ios::in | std::ios::out);
            out.seekp(100);
            out << "rewritten";
            return errc::transient;
        };
        try {
            run(sink, f, options(1));
            FAIL() << "expected an integrity error";
        } catch (const error& e) {
            EXPECT_EQ(e.code(), errc::integrity) << e.what();
        }
        EXPECT_TRUE(sink.aborted);
        EXPECT_EQ(sink.complete_calls, 0);
    }
}

// ---- the upload callbacks (put_options::on_upload_created / on_upload_aborted) ----

namespace {

// A sink with an upload id whose abort can be made to fail, logging what happened in order.
class journaled_sink : public memory_sink {
public:
    std::vector<std::string>* log;
    bool fail_abort = false;
    explicit journaled_sink(std::vector<std::string>& l) : log(&l) {
        on_part = [this](std::uint32_t number) { log->push_back("part " + std::to_string(number)); };
    }
    std::string upload_id() const override { return begun ? "upload-7" : ""; }
    asio::awaitable<void> abort() override {
        co_await memory_sink::abort();
        log->push_back("abort");
        if (fail_abort) throw error(errc::transient, "abort failed too");
    }
};

// Callbacks that log their calls; on_upload_created suspends once (a database round trip).
put_options journaled_options(std::vector<std::string>& log, bool fail_created = false) {
    auto o = options(3);
    o.on_upload_created = [&log, fail_created](std::string id) -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, 5ms);
        co_await t.async_wait(asio::use_awaitable);
        log.push_back("created " + id);
        if (fail_created) throw error(errc::transient, "the journal is down");
    };
    o.on_upload_aborted = [&log](std::string id) -> asio::awaitable<void> {
        log.push_back("aborted " + id);
        co_return;
    };
    return o;
}

}  // namespace

TEST(multipart_engine, the_upload_id_is_reported_after_begin_and_before_any_part) {
    fixture f(12 * MiB);
    std::vector<std::string> log;
    journaled_sink sink(log);
    run(sink, f, journaled_options(log));
    ASSERT_EQ(log.size(), 4u);  // created, then the three parts; a completed upload is not "aborted"
    EXPECT_EQ(log[0], "created upload-7");
    for (std::size_t i = 1; i < log.size(); ++i) EXPECT_TRUE(log[i].starts_with("part ")) << log[i];
    EXPECT_TRUE(sink.completed);
}

TEST(multipart_engine, a_failing_created_callback_aborts_the_upload_before_any_part) {
    fixture f(12 * MiB);
    std::vector<std::string> log;
    journaled_sink sink(log);
    EXPECT_THROW(run(sink, f, journaled_options(log, true)), error);
    EXPECT_EQ(log, (std::vector<std::string>{"created upload-7", "abort", "aborted upload-7"}));
    EXPECT_TRUE(sink.attempts.empty());
    EXPECT_FALSE(sink.completed);
}

TEST(multipart_engine, a_failed_upload_reports_its_abort_only_when_the_abort_succeeded) {
    fixture f(12 * MiB);
    const auto fail_part_2 = [](std::uint32_t n, int) -> std::optional<errc> {
        if (n == 2) return errc::access_denied;
        return std::nullopt;
    };
    {
        std::vector<std::string> log;
        journaled_sink sink(log);
        sink.fail_part = fail_part_2;
        EXPECT_THROW(run(sink, f, journaled_options(log)), error);
        ASSERT_GE(log.size(), 2u);
        EXPECT_EQ(log[log.size() - 2], "abort");
        EXPECT_EQ(log.back(), "aborted upload-7");
    }
    {
        std::vector<std::string> log;
        journaled_sink sink(log);
        sink.fail_part = fail_part_2;
        sink.fail_abort = true;  // the upload may still be open: its record must stay
        try {
            run(sink, f, journaled_options(log));
            FAIL() << "expected the part's error";
        } catch (const error& e) {
            EXPECT_EQ(e.code(), errc::access_denied) << "the first failure is what the caller sees";
        }
        EXPECT_EQ(log.back(), "abort") << "no aborted callback after a failed abort";
    }
}

TEST(multipart_engine, a_sink_without_an_upload_id_calls_no_callback) {
    fixture f(12 * MiB);
    std::vector<std::string> log;
    memory_sink sink;
    run(sink, f, journaled_options(log));
    EXPECT_TRUE(log.empty());
    EXPECT_TRUE(sink.completed);
}

// --- The stream engine (upload_stream_in_parts): a stream of unknown length, no file. ---

namespace {

// Serves `content` in reads of at most `chunk` bytes; throws at `fail_at` bytes when set.
struct stream_source {
    std::string content;
    std::size_t chunk = 100'000, at = 0;
    std::optional<std::size_t> fail_at;
    int reads_after_end = 0;
    stream_reader reader() {
        return [this](std::span<char> into) -> asio::awaitable<std::size_t> {
            if (fail_at && at >= *fail_at) throw std::runtime_error("the producer died");
            if (at == content.size()) ++reads_after_end;
            const std::size_t n = std::min({into.size(), chunk, content.size() - at});
            std::memcpy(into.data(), content.data() + at, n);
            at += n;
            co_return n;
        };
    }
};

put_result run_stream(memory_sink& sink, stream_source& src, put_options opts, engine_limits limits = fast_retries()) {
    asio::io_context io;
    auto fut = asio::co_spawn(io, upload_stream_in_parts(sink, "obj", src.reader(), std::move(opts), limits), asio::use_future);
    io.run();
    return fut.get();
}

}  // namespace

TEST(stream_engine, a_stream_is_cut_into_parts_sent_in_parallel_with_its_sha256) {
    stream_source src{random_bytes(23 * MiB + 17, 7)};
    memory_sink sink;
    sink.wait_for_company = true;
    std::uint64_t last_progress = 0;
    auto opts = options(3);
    opts.progress = [&](std::uint64_t done, std::uint64_t total) {
        EXPECT_EQ(total, 0u) << "unknown";
        last_progress = done;
    };
    const auto r = run_stream(sink, src, opts);
    EXPECT_EQ(r.parts, 5u);
    EXPECT_EQ(r.size, src.content.size());
    EXPECT_EQ(r.sha256, sha256_hex(src.content));
    EXPECT_EQ(sink.sha_seen, r.sha256);
    EXPECT_TRUE(sink.object == src.content);
    EXPECT_GT(sink.peak_in_flight, 1);
    EXPECT_LE(sink.peak_in_flight, 3);
    EXPECT_EQ(last_progress, src.content.size());
    EXPECT_FALSE(sink.aborted);
}

TEST(stream_engine, an_empty_stream_is_one_empty_part_and_a_stream_ending_on_a_boundary_has_no_empty_tail) {
    {
        stream_source src{""};
        memory_sink sink;
        const auto r = run_stream(sink, src, options());
        EXPECT_EQ(r.parts, 1u);
        EXPECT_EQ(r.size, 0u);
        EXPECT_TRUE(sink.completed);
    }
    {
        stream_source src{random_bytes(10 * MiB, 8)};
        memory_sink sink;
        const auto r = run_stream(sink, src, options());
        EXPECT_EQ(r.parts, 2u);
        EXPECT_TRUE(sink.object == src.content);
    }
}

TEST(stream_engine, a_failed_part_is_resent_from_memory_within_the_bound) {
    stream_source src{random_bytes(12 * MiB, 9)};
    memory_sink sink;
    sink.fail_part = [](std::uint32_t number, int attempt) -> std::optional<errc> {
        if (number == 2 && attempt <= 2) return errc::integrity;  // damaged on the way, twice
        return std::nullopt;
    };
    const auto r = run_stream(sink, src, options());
    EXPECT_EQ(sink.attempts[2], 3);
    EXPECT_TRUE(sink.object == src.content);
    EXPECT_EQ(r.sha256, sha256_hex(src.content));
}

TEST(stream_engine, a_part_failing_for_good_or_a_producer_failing_aborts_after_the_parts_drain) {
    {
        stream_source src{random_bytes(16 * MiB, 10)};
        memory_sink sink;
        sink.fail_part = [](std::uint32_t number, int) -> std::optional<errc> {
            if (number == 2) return errc::transient;
            return std::nullopt;
        };
        EXPECT_THROW(run_stream(sink, src, options()), error);
        EXPECT_EQ(sink.attempts[2], 4) << "bounded";
        EXPECT_TRUE(sink.aborted);
        EXPECT_EQ(sink.in_flight_at_abort, 0);
        EXPECT_FALSE(sink.completed);
    }
    {
        stream_source src{random_bytes(16 * MiB, 11)};
        src.fail_at = 12 * MiB;
        memory_sink sink;
        EXPECT_THROW(run_stream(sink, src, options()), std::runtime_error);
        EXPECT_TRUE(sink.aborted);
        EXPECT_EQ(sink.in_flight_at_abort, 0);
        EXPECT_FALSE(sink.completed) << "a stream that failed is never completed";
    }
}

TEST(stream_engine, a_stream_longer_than_ten_thousand_parts_is_refused_and_aborted) {
    // 1-byte parts through a sink whose minimum is 1: the 10,001st part is refused.
    class tiny_sink : public memory_sink {
        std::uint64_t min_part_size() const override { return 1; }
    } sink;
    stream_source src{std::string(10'001, 'x')};
    auto opts = options(8);
    opts.part_size = 1;
    try {
        run_stream(sink, src, opts);
        FAIL() << "no error";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::permanent);
        EXPECT_NE(std::string(e.what()).find("raise the part size"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(sink.aborted);
}
