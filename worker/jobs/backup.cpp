// Database backups, restores and restore drills (see backup.hpp).
#include "backup.hpp"

#include "wharf/asio/first_failure.hpp"
#include "wharf/asio/offload.hpp"
#include "wharf/backup/aead_stream.hpp"
#include "wharf/backup/census.hpp"
#include "wharf/backup/conninfo.hpp"
#include "wharf/backup/tar_archive.hpp"
#include "wharf/backup/zstd_stream.hpp"
#include "wharf/core/log.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/process/child.hpp"
#include "wharf/process/owner.hpp"
#include "wharf/storage/content.hpp"
#include "wharf/storage/multipart_journal.hpp"
#include "wharf/storage/registry.hpp"
#include "wharf/storage/sha256.hpp"
#include "wharf/storage/stream_upload.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <future>

namespace wharf::worker {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using clock_type = std::chrono::system_clock;

namespace {

constexpr std::string_view backup_format = "pg_dump-custom+zstd";
// Encrypted (WHARF_BACKUP_KEY): the zstd stream sealed in chunks of AES-256-GCM (aead_stream.hpp).
constexpr std::string_view encrypted_format = "pg_dump-custom+zstd+aes256gcm";

bool is_encrypted(const backup_record& b) { return b.format == encrypted_format; }

// The key to open backup `b` with: none for a plain one; permanent_error when it is encrypted
// and this process has no key.
const backup::aead_key* key_for(const backup_settings& settings, const backup_record& b) {
    if (!is_encrypted(b)) return nullptr;
    if (!settings.encryption_key)
        throw permanent_error(fmt::format("backup {} is encrypted: set WHARF_BACKUP_KEY to the key it was made with", b.id));
    return &*settings.encryption_key;
}
constexpr std::string_view journal_queue = "backups";  // the journal's rows for backup uploads
constexpr std::size_t pipe_chunk = 1u << 20;
constexpr std::string_view dump_magic = "PGDMP";  // the first bytes of a pg_dump custom archive
constexpr std::int64_t drill_lock_key = 0x7768617266'0dL;  // pg_advisory_lock: one drill at a time

std::string journal_id(std::int64_t id) { return "backup-" + std::to_string(id); }

clock_type::time_point time_of(const pqxx::field& f) {
    return clock_type::time_point(std::chrono::microseconds(f.as<std::int64_t>()));
}
template <class T>
std::optional<T> opt(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return f.as<T>();
}
std::optional<clock_type::time_point> opt_time(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return time_of(f);
}

constexpr std::string_view record_columns =
    "id, status, provider, bucket, key, format, size, dump_bytes, sha256, server_version, owner, error, drill_error, "
    "schema_version, seconds, restore_seconds, (EXTRACT(EPOCH FROM started_at) * 1e6)::bigint, "
    "(EXTRACT(EPOCH FROM finished_at) * 1e6)::bigint, (EXTRACT(EPOCH FROM verified_at) * 1e6)::bigint, "
    "(EXTRACT(EPOCH FROM drilled_at) * 1e6)::bigint, (EXTRACT(EPOCH FROM deleted_at) * 1e6)::bigint, "
    "COALESCE(manifest::text, ''), metadata_key, metadata_size, metadata_sha256, metadata_files, metadata_error";

backup_record record_of(const pqxx::row& r) {
    backup_record b;
    b.id = r[0].as<std::int64_t>();
    b.status = r[1].as<std::string>();
    b.provider = r[2].as<std::string>();
    b.bucket = r[3].as<std::string>();
    b.key = r[4].as<std::string>();
    b.format = r[5].as<std::string>();
    b.size = opt<std::uint64_t>(r[6]);
    b.dump_bytes = opt<std::uint64_t>(r[7]);
    b.sha256 = opt<std::string>(r[8]);
    b.server_version = opt<std::string>(r[9]);
    b.owner = opt<std::string>(r[10]);
    b.error = opt<std::string>(r[11]);
    b.drill_error = opt<std::string>(r[12]);
    b.schema_version = opt<std::int32_t>(r[13]);
    b.seconds = opt<double>(r[14]);
    b.restore_seconds = opt<double>(r[15]);
    b.started_at = time_of(r[16]);
    b.finished_at = opt_time(r[17]);
    b.verified_at = opt_time(r[18]);
    b.drilled_at = opt_time(r[19]);
    b.deleted_at = opt_time(r[20]);
    b.manifest = r[21].as<std::string>();
    b.metadata_key = opt<std::string>(r[22]);
    b.metadata_size = opt<std::uint64_t>(r[23]);
    b.metadata_sha256 = opt<std::string>(r[24]);
    b.metadata_files = opt<std::uint64_t>(r[25]);
    b.metadata_error = opt<std::string>(r[26]);
    return b;
}

std::string iso(clock_type::time_point t) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::floor<std::chrono::seconds>(t));
}

// A failure whose reason is the product's, not a bug: the row records it.
[[noreturn]] void fail(const std::string& why) { throw permanent_error(why); }

// Runs blocking work on the storage services' pool.
template <class F>
asio::awaitable<std::invoke_result_t<F&>> blocking(storage_services& s, F fn) {
    auto op = offload(s.blocking_pool().get_executor(), std::move(fn));
    co_return co_await std::move(op);
}

// Rows left 'running' by a process of this host that died, or by any process more than a day ago
// (another host's backup that never ended: a lost pod): their uploads aborted (the journal names
// them), the rows failed.
asio::awaitable<void> fail_abandoned(storage_services& s) {
    auto find = [](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<std::tuple<std::int64_t, std::string, bool>> out;
        for (const auto& r : tx.exec("SELECT id, COALESCE(owner, ''), started_at < now() - interval '24 hours' "
                                     "FROM backups WHERE status = 'running'"))
            out.emplace_back(r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<bool>());
        return out;
    };
    auto found = co_await s.db().run(std::move(find));
    for (const auto& [id, owner, stale] : found) {
        if (!stale && !process::owner_is_dead_here(owner)) continue;
        auto opened = s.journal().of_job(std::string(journal_queue), journal_id(id));
        for (const auto& u : co_await std::move(opened)) {
            storage::provider* p = s.providers().find(u.provider);
            if (!p) continue;
            try {
                if (!storage::is_intent(u)) {
                    auto aborting = p->abort_incomplete(u.key, u.upload_id);
                    co_await std::move(aborting);
                } else {
                    auto listing = p->list_incomplete(u.key);
                    for (const auto& left : co_await std::move(listing))
                        if (left.key == u.key) {
                            auto aborting = p->abort_incomplete(left.key, left.upload_id);
                            co_await std::move(aborting);
                        }
                }
                auto forgetting = s.journal().forget(u);
                co_await std::move(forgetting);
            } catch (const std::exception& e) {
                spdlog::warn("backup {}: cannot abort its upload left open yet ({}); the orphan sweep will", id,
                             redact(e.what()));
            }
        }
        const std::string why = stale ? "abandoned: no end after 24 hours" : "abandoned: the process that ran it died";
        auto mark = [id = id, why](pqxx::connection& c) {
            pqxx::work tx(c);
            tx.exec_params0("UPDATE backups SET status = 'failed', finished_at = now(), error = $2 "
                            "WHERE id = $1 AND status = 'running'",
                            id, why);
            tx.commit();
        };
        co_await s.db().run(std::move(mark));
        spdlog::warn("backup {} ({}): {}; marked failed", id, owner, why);
    }
}

// The snapshot pg_dump dumps and the census is taken in: a REPEATABLE READ transaction on a
// connection of its own, open until the dump is stored.
struct snapshot_session {
    pqxx::connection conn;
    std::optional<pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::readwrite_policy::read_only>> tx;
    std::string snapshot, server_version;
    std::int32_t schema_version = 0;
    explicit snapshot_session(const std::string& url) : conn(url) {
        tx.emplace(conn);
        const auto r = tx->exec1(
            "SELECT pg_export_snapshot(), current_setting('server_version'), "
            "(SELECT COALESCE(max(version), 0) FROM schema_migrations)");
        snapshot = r[0].as<std::string>();
        server_version = r[1].as<std::string>();
        schema_version = r[2].as<std::int32_t>();
    }
};

std::string stderr_reason(const process::child& c, const process::exit_status& st, std::string_view tool) {
    std::string why = c.stderr_text();
    return fmt::format("{} {}{}{}", tool, st.describe(), why.empty() ? "" : ": ", redact(why));
}

// pg_dump's stdout, compressed: the stream_reader the upload pulls from. At the end of pg_dump's
// output it waits for pg_dump's exit and fails unless it exited 0 and wrote a plausible archive,
// so a failed dump never reaches the upload's complete.
struct dump_source {
    process::child& child;
    storage_services& services;
    const backup_settings& settings;
    backup::zstd_compressor zstd;
    std::optional<backup::aead_encryptor> aead;  // with a key: the zstd stream is sealed as it goes
    std::string compressed;
    std::vector<char> raw = std::vector<char>(pipe_chunk);
    std::string pending;
    std::size_t pending_at = 0;
    std::uint64_t dumped = 0, stored = 0;
    bool ended = false;
    const backup_progress* progress;

    dump_source(process::child& c, storage_services& s, const backup_settings& st, const backup_progress* p)
        : child(c), services(s), settings(st), zstd(st.zstd_level, st.zstd_workers), progress(p) {
        if (st.encryption_key) aead.emplace(*st.encryption_key);
    }

    asio::awaitable<std::size_t> read(std::span<char> into) {
        while (pending_at == pending.size()) {
            if (ended) co_return 0;
            pending.clear();
            pending_at = 0;
            auto [ec, n] = co_await asio::async_read(child.stdout_pipe(), asio::buffer(raw),
                                                     asio::as_tuple(asio::use_awaitable));
            if (ec && ec != asio::error::eof) throw std::runtime_error("reading pg_dump's output: " + ec.message());
            if (dumped == 0 && n > 0 &&
                std::string_view(raw.data(), std::min(n, dump_magic.size())) != dump_magic.substr(0, std::min(n, dump_magic.size())))
                fail("pg_dump's output is not a custom-format archive");
            dumped += n;
            const bool last = ec == asio::error::eof;
            auto compress = [this, n, last] {
                std::string& to = aead ? compressed : pending;
                zstd.compress(std::span<const char>(raw.data(), n), to);
                if (last) zstd.finish(to);
                if (aead) {
                    aead->update(std::span<const char>(compressed.data(), compressed.size()), pending);
                    compressed.clear();
                    if (last) aead->finish(pending);
                }
            };
            co_await blocking(services, std::move(compress));
            if (last) {
                // It closed its stdout: it is exiting. Its own exit, not our SIGTERM, says how the
                // dump went (a small dump closes stdout an instant before pg_dump exits); the job's
                // timeout bounds a pg_dump that would hang there.
                auto exiting = child.wait_exit();
                co_await std::move(exiting);
                auto stopping = child.stop();
                const process::exit_status st = co_await std::move(stopping);
                if (!st.success()) fail(stderr_reason(child, st, "pg_dump"));
                if (dumped < settings.min_dump_bytes)
                    fail(fmt::format("pg_dump wrote only {} bytes (at least {} expected): not recorded as a backup",
                                     dumped, settings.min_dump_bytes));
                ended = true;
            }
        }
        const std::size_t n = std::min(into.size(), pending.size() - pending_at);
        std::memcpy(into.data(), pending.data() + pending_at, n);
        pending_at += n;
        stored += n;
        if (progress && *progress) (*progress)(dumped, stored);
        co_return n;
    }
};

asio::awaitable<storage::put_result> upload_dump(storage_services& s, storage::provider& target, const std::string& key,
                                                 std::int64_t id, dump_source& source, const backup_settings& settings) {
    // Journaled like every job's upload, under a name of its own: the next backup finds what a
    // killed one left open by that name (fail_abandoned), the orphan sweep by its age.
    storage::put_options options;
    options.content_type = "application/zstd";
    options.part_size = settings.part_size;
    options.parts_in_flight = settings.parts_in_flight;
    journaled_put put = [&target, &key, &source](storage::put_options o) {
        storage::stream_reader reader = [&source](std::span<char> into) { return source.read(into); };
        return storage::upload_stream(target, key, std::move(reader), std::move(o));
    };
    storage::open_upload opened{{}, {}, key, {}, journal_id(id), 1, {}, std::string(journal_queue)};
    auto upload = journal_upload(s, std::move(opened), target, std::move(options), std::move(put));
    co_return co_await std::move(upload);
}

// pg_dump -> zstd -> upload, with the census of the same snapshot taken meanwhile.
struct dump_result {
    storage::put_result put;
    std::uint64_t dumped = 0;
    backup::census census;
    std::string server_version;
    std::int32_t schema_version = 0;
};

asio::awaitable<dump_result> dump_and_store(storage_services& s, const backup_settings& settings, storage::provider& target,
                                            const std::string& key, std::int64_t id, std::shared_ptr<snapshot_session> session,
                                            const backup_progress& progress) {
    // The census runs on a thread of its own, in the exported snapshot, while pg_dump dumps it.
    std::future<backup::census> census = std::async(std::launch::async, [session] { return backup::take_census(*session->tx); });
    // Whatever happens, the census thread ends before the session goes (the future's destructor
    // waits for it) and the session's connection closes off the I/O thread.
    std::exception_ptr failure;
    std::optional<dump_result> out;
    try {
        const backup::child_conninfo conn = backup::split_conninfo(settings.database_url);
        process::spawn_options spawn;
        spawn.argv = {"pg_dump", "--format=custom", "--compress=0", "--no-password", "--snapshot=" + session->snapshot,
                      "--dbname=" + conn.conninfo};
        spawn.env = conn.env();
        spawn.stderr_lines = 10;
        process::child child(co_await asio::this_coro::executor, std::move(spawn));
        // A bigger pipe lets pg_dump run ahead while a chunk is compressed.
        ::fcntl(child.stdout_pipe().native_handle(), F_SETPIPE_SZ, static_cast<int>(pipe_chunk));
        dump_source source(child, s, settings, &progress);
        auto upload = upload_dump(s, target, key, id, source, settings);
        auto work = first_failure_of(std::move(upload) && child.read_stderr());
        auto owned = process::run_owned(child, std::move(work), std::chrono::seconds(5));
        storage::put_result put = co_await std::move(owned);
        out.emplace();
        out->put = std::move(put);
        out->dumped = source.dumped;
        out->server_version = session->server_version;
        out->schema_version = session->schema_version;
    } catch (...) {
        failure = std::current_exception();
    }
    auto finish = [session, census = std::move(census), ok = !failure]() mutable {
        std::optional<backup::census> taken;
        std::exception_ptr census_failure;
        try {
            taken = census.get();
        } catch (...) {
            census_failure = std::current_exception();
        }
        try {
            session->tx->abort();
        } catch (...) {
        }
        session.reset();
        if (ok && census_failure) std::rethrow_exception(census_failure);
        return taken;
    };
    auto finished = co_await blocking(s, std::move(finish));
    if (failure) std::rethrow_exception(failure);
    out->census = std::move(*finished);
    co_return std::move(*out);
}

std::string object_key(const backup_settings& settings, std::int64_t id, clock_type::time_point at) {
    return fmt::format("{}db/{:%Y%m%dT%H%M%S}Z-{}.dump.zst{}", settings.prefix, std::chrono::floor<std::chrono::seconds>(at),
                       id, settings.encryption_key ? ".enc" : "");
}

// The stored backup, downloaded to `file` and checked against its row: size and SHA-256.
asio::awaitable<void> fetch_checked(storage_services& s, const backup_record& b, const std::filesystem::path& file,
                                    const transfer_progress& progress) {
    if (b.status != "succeeded")
        fail(fmt::format("backup {} is {}{}", b.id, b.status, b.error ? ": " + *b.error : std::string()));
    storage::provider* p = s.providers().find(b.provider);
    if (!p) fail(fmt::format("backup {} is at provider '{}', which is not configured", b.id, b.provider));
    if (progress) progress(0, b.size.value_or(0));
    storage::object_info got;
    try {
        auto reading = p->get_to_file(b.key, file);
        got = co_await std::move(reading);
    } catch (const storage::error& e) {
        if (e.code() == storage::errc::not_found) fail(fmt::format("backup {}: its object {} is gone", b.id, b.key));
        if (e.code() == storage::errc::integrity)
            fail(fmt::format("backup {} is damaged: {}", b.id, e.what()));
        throw;
    }
    if (progress) progress(got.size, b.size.value_or(got.size));
    std::string sha = got.sha256.value_or("");
    if (sha.empty()) {
        auto hashing = [file] { return storage::sha256_file_hex(file); };
        sha = co_await blocking(s, std::move(hashing));
    }
    const auto size = std::filesystem::file_size(file);
    if (b.size && size != *b.size)
        fail(fmt::format("backup {} is damaged: {} bytes stored, {} recorded", b.id, size, *b.size));
    if (b.sha256 && sha != *b.sha256)
        fail(fmt::format("backup {} is damaged: its SHA-256 is {}, {} was recorded", b.id, sha, *b.sha256));
}

// Decompresses `file` in chunks (opening each sealed chunk first when `key` is given), each handed
// to `sink` (awaited before the next).
template <class Sink>
asio::awaitable<std::uint64_t> decode_file(storage_services& s, const std::filesystem::path& file,
                                           const backup::aead_key* key, Sink& sink) {
    struct reader_state {
        std::ifstream in;
        backup::zstd_decompressor zstd;
        std::optional<backup::aead_decryptor> aead;
        std::vector<char> raw = std::vector<char>(pipe_chunk);
        std::string input;  // what zstd reads: the file's bytes, or what they decrypt to
        std::size_t at = 0;
        bool eof = false;
        std::uint64_t total = 0;
        bool first = true;
    };
    auto st = std::make_shared<reader_state>();
    if (key) st->aead.emplace(*key);
    st->in.open(file, std::ios::binary);
    if (!st->in) throw std::runtime_error("cannot open " + file.string());
    for (;;) {
        auto step = [st] {
            std::string out;
            while (st->at == st->input.size() && !st->zstd.pending()) {
                if (st->eof) {
                    if (!st->zstd.at_frame_end() || st->first)
                        throw backup::corrupt_stream("the backup's zstd stream ends early (truncated)");
                    return std::optional<std::string>{};
                }
                st->in.read(st->raw.data(), static_cast<std::streamsize>(st->raw.size()));
                const auto n = static_cast<std::size_t>(st->in.gcount());
                if (n < st->raw.size()) st->eof = true;
                st->input.clear();
                st->at = 0;
                if (st->aead) {
                    st->aead->update(std::span<const char>(st->raw.data(), n), st->input);
                    if (st->eof) st->aead->finish(st->input);
                } else {
                    st->input.assign(st->raw.data(), n);
                }
            }
            st->first = false;
            st->at += st->zstd.decompress(std::span<const char>(st->input.data() + st->at, st->input.size() - st->at), out);
            if (st->eof && st->at == st->input.size() && !st->zstd.pending() && !st->zstd.at_frame_end())
                throw backup::corrupt_stream("the backup's zstd stream ends early (truncated)");
            return std::optional<std::string>(std::move(out));
        };
        std::optional<std::string> chunk;
        try {
            chunk = co_await blocking(s, std::move(step));
        } catch (const backup::corrupt_stream& e) {
            fail(e.what());
        }
        if (!chunk) co_return st->total;
        if (st->total == 0 && !chunk->empty() &&
            std::string_view(*chunk).substr(0, dump_magic.size()) != dump_magic.substr(0, std::min(chunk->size(), dump_magic.size())))
            fail("the backup does not hold a pg_dump archive");
        st->total += chunk->size();
        if (!chunk->empty()) {
            auto feeding = sink(std::move(*chunk));
            co_await std::move(feeding);
        }
    }
}

struct scratch_file {
    std::filesystem::path path;
    ~scratch_file() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove(path, ec);
    }
};

scratch_file scratch_for(const backup_settings& settings, std::int64_t id, std::string_view what) {
    std::filesystem::create_directories(settings.scratch_dir);
    return scratch_file{settings.scratch_dir / fmt::format("{}-backup-{}-{}.dump.zst", what, id, ::getpid())};
}

// Whether the database has any table, view or sequence outside the system schemas.
asio::awaitable<std::uint64_t> user_relations(storage_services& s, std::string url) {
    auto count = [url] {
        pqxx::connection c(url);
        pqxx::read_transaction tx(c);
        return tx.exec1(
                     "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
                     "AND n.nspname NOT LIKE 'pg_temp%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')")[0]
            .as<std::uint64_t>();
    };
    co_return co_await blocking(s, std::move(count));
}

// pg_restore of the checked file into `target`.
// (The program ignores SIGPIPE: pg_restore ending early is an EPIPE here; see worker_main.)
asio::awaitable<std::uint64_t> pg_restore_into(storage_services& s, const std::filesystem::path& file,
                                               const backup::aead_key* key, const std::string& target, bool clean) {
    const backup::child_conninfo conn = backup::split_conninfo(target);
    process::spawn_options spawn;
    spawn.argv = {"pg_restore", "--no-password", "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
                  "--dbname=" + conn.conninfo};
    if (clean) {
        spawn.argv.push_back("--clean");
        spawn.argv.push_back("--if-exists");
    }
    spawn.env = conn.env();
    spawn.capture_stdout = false;
    spawn.capture_stdin = true;
    spawn.stderr_lines = 10;
    process::child child(co_await asio::this_coro::executor, std::move(spawn));
    auto feed = [&child](std::string bytes) -> asio::awaitable<void> {
        auto [ec, n] = co_await asio::async_write(child.stdin_pipe(), asio::buffer(bytes), asio::as_tuple(asio::use_awaitable));
        (void)n;
        if (ec) throw std::runtime_error("pg_restore stopped reading: " + ec.message());
    };
    std::uint64_t total = 0;
    std::exception_ptr failure;
    auto run = [&]() -> asio::awaitable<int> {  // a value: run_owned needs one
        try {
            auto decoding = decode_file(s, file, key, feed);
            total = co_await std::move(decoding);
        } catch (...) {
            failure = std::current_exception();
        }
        child.close_stdin();
        auto exiting = child.wait_exit();
        co_await std::move(exiting);
        co_return 0;
    };
    auto work = first_failure_of(run() && child.read_stderr());
    process::exit_status status;
    auto owned = process::run_owned(child, std::move(work), std::chrono::seconds(10), &status);
    co_await std::move(owned);
    if (!status.success()) fail(stderr_reason(child, status, "pg_restore"));
    if (failure) std::rethrow_exception(failure);
    co_return total;
}

asio::awaitable<backup_record> load_record(storage_services& s, std::int64_t id) {
    auto load = [id](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        const auto r = tx.exec_params(fmt::format("SELECT {} FROM backups WHERE id = $1", record_columns), id);
        if (r.empty()) return std::optional<backup_record>{};
        return std::optional<backup_record>(record_of(r[0]));
    };
    auto found = co_await s.db().run(std::move(load));
    if (!found) fail(fmt::format("there is no backup {}", id));
    co_return std::move(*found);
}

}  // namespace

std::vector<option_spec> backup_option_specs() {
    return {
        {"backup_provider", "storage provider backups go to (default: the first configured)"},
        {"backup_prefix", "key prefix of backup objects", false, "backups/"},
        {"backup_keep_days", "retention: backups older than this many days are deleted", false, "30"},
        {"backup_keep_verified", "retention keeps at least this many backups that passed a restore drill", false, "2"},
        {"backup_zstd_level", "zstd level of backups (1..19)", false, "3"},
        {"backup_part_size", "part size of a backup's multipart upload (5MiB..5GiB; at most 10,000 parts)", false,
         "16MiB"},
    };
}

backup_settings backup_settings_from(const config& cfg, const storage::registry& providers) {
    backup_settings b;
    b.database_url = cfg.required("database_url");
    b.provider = cfg.get_or("backup_provider", "");
    if (b.provider.empty()) {
        if (providers.configs().empty()) throw config_error("no storage provider is configured for backups");
        b.provider = providers.configs().front().name;
    } else if (!providers.find(b.provider)) {
        throw config_error("--backup-provider '" + b.provider + "' is not a configured storage provider");
    }
    b.prefix = cfg.get_or("backup_prefix", "backups/");
    if (!b.prefix.empty() && b.prefix.back() != '/') b.prefix += '/';
    if (auto why = storage::invalid_key_reason(b.prefix + "db/x"))
        throw config_error("--backup-prefix '" + b.prefix + "': " + *why);
    const auto days = cfg.integer("backup_keep_days", 30);
    if (days < 1 || days > 36500) throw config_error("--backup-keep-days must be 1..36500");
    b.retention.keep_for = std::chrono::hours(24 * days);
    const auto verified = cfg.integer("backup_keep_verified", 2);
    if (verified < 1 || verified > 1000) throw config_error("--backup-keep-verified must be 1..1000");
    b.retention.keep_verified = static_cast<std::size_t>(verified);
    const auto level = cfg.integer("backup_zstd_level", 3);
    if (level < 1 || level > 19) throw config_error("--backup-zstd-level must be 1..19");
    b.zstd_level = static_cast<int>(level);
    const auto part = storage::parse_byte_size(cfg.get_or("backup_part_size", "16MiB"));
    if (!part || *part < (5ull << 20) || *part > (5ull << 30))
        throw config_error("--backup-part-size must be a size from 5MiB to 5GiB (e.g. 64MiB)");
    b.part_size = *part;
    b.scratch_dir = cfg.get_or("scratch_dir", "./.data/tmp");
    // The key only from the environment: a flag would put it in argv, a config file at rest.
    if (const char* key = std::getenv("WHARF_BACKUP_KEY"); key && *key) {
        try {
            b.encryption_key = backup::parse_backup_key(key);
        } catch (const std::invalid_argument& e) {
            throw config_error(std::string("WHARF_BACKUP_KEY: ") + e.what());
        }
    }
    return b;
}

nlohmann::json to_json(const backup_record& b) {
    auto t = [](const std::optional<clock_type::time_point>& v) -> nlohmann::json {
        return v ? nlohmann::json(iso(*v)) : nlohmann::json(nullptr);
    };
    auto o = [](const auto& v) -> nlohmann::json { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
    nlohmann::json j{{"id", b.id},
                     {"status", b.status},
                     {"provider", b.provider},
                     {"key", b.key},
                     {"format", b.format},
                     {"size", o(b.size)},
                     {"dump_bytes", o(b.dump_bytes)},
                     {"sha256", o(b.sha256)},
                     {"server_version", o(b.server_version)},
                     {"schema_version", o(b.schema_version)},
                     {"started_at", iso(b.started_at)},
                     {"finished_at", t(b.finished_at)},
                     {"seconds", o(b.seconds)},
                     {"verified", b.verified()},
                     {"verified_at", t(b.verified_at)},
                     {"restore_seconds", o(b.restore_seconds)},
                     {"drilled_at", t(b.drilled_at)},
                     {"drill_error", o(b.drill_error)},
                     {"error", o(b.error)},
                     {"deleted_at", t(b.deleted_at)},
                     {"metadata", {{"key", o(b.metadata_key)},
                                   {"size", o(b.metadata_size)},
                                   {"sha256", o(b.metadata_sha256)},
                                   {"files", o(b.metadata_files)},
                                   {"error", o(b.metadata_error)}}}};
    return j;
}

nlohmann::json to_json(const retention_report& r) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& d : r.deleted) items.push_back({{"id", d.id}, {"reason", d.reason}});
    nlohmann::json j{{"dry_run", r.dry_run}, {r.dry_run ? "would_delete" : "deleted", items}};
    if (!r.error.empty()) j["error"] = r.error;
    return j;
}

nlohmann::json to_json(const verify_report& r) {
    return {{"id", r.backup.id}, {"ok", r.ok}, {"problem", r.problem}, {"dump_bytes", r.dump_bytes},
            {"size", r.backup.size.value_or(0)}, {"sha256", r.backup.sha256.value_or("")}};
}

nlohmann::json to_json(const drill_report& r) {
    return {{"id", r.backup.id},          {"passed", r.passed}, {"problems", r.problems},
            {"restore_seconds", r.restore_seconds}, {"scratch_database", r.scratch_database}};
}

// `from` sealed with `key` into `to` (aead_stream.hpp). Blocking.
void seal_file(const std::filesystem::path& from, const std::filesystem::path& to, const backup::aead_key& key) {
    std::ifstream in(from, std::ios::binary);
    std::ofstream out(to, std::ios::binary | std::ios::trunc);
    if (!in || !out) throw std::runtime_error("cannot seal " + from.string());
    backup::aead_encryptor aead(key);
    std::vector<char> buf(pipe_chunk);
    std::string sealed;
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        sealed.clear();
        aead.update(std::span<const char>(buf.data(), static_cast<std::size_t>(in.gcount())), sealed);
        out.write(sealed.data(), static_cast<std::streamsize>(sealed.size()));
    }
    sealed.clear();
    aead.finish(sealed);
    out.write(sealed.data(), static_cast<std::streamsize>(sealed.size()));
    out.close();
    if (!out) throw std::runtime_error("cannot write " + to.string());
}

// The metadata.json files of processed jobs (processed/<video>/metadata.json, every live one in the
// catalog), each read decoded (storage::get_content) and checked against the catalog's SHA-256,
// in one tar.zst archive (entries named <provider>/<key>) stored beside the dump, recorded on the
// backup's row. None: no archive. A failure is recorded (metadata_error), never thrown.
asio::awaitable<void> archive_metadata(storage_services& s, const backup_settings& settings, storage::provider& target,
                                       std::int64_t id, clock_type::time_point started) {
    struct listed {
        std::string provider, bucket, key, sha256;
    };
    auto list = [](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<listed> out;
        for (const auto& r : tx.exec("SELECT provider, bucket, key, sha256 FROM objects WHERE deleted_at IS NULL "
                                     "AND key LIKE 'processed/%/metadata.json' ORDER BY provider, key"))
            out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                           r[3].as<std::string>()});
        return out;
    };
    std::string error;
    std::optional<storage::put_result> stored;
    std::uint64_t files = 0;
    const std::string key = fmt::format("{}metadata/{:%Y%m%dT%H%M%S}Z-{}.tar.zst{}", settings.prefix,
                                        std::chrono::floor<std::chrono::seconds>(started), id,
                                        settings.encryption_key ? ".enc" : "");
    try {
        auto listing = s.db().run(std::move(list));
        const std::vector<listed> objects = co_await std::move(listing);
        if (objects.empty()) co_return;
        std::filesystem::create_directories(settings.scratch_dir);
        const auto base = settings.scratch_dir / fmt::format("metadata-backup-{}-{}", id, ::getpid());
        scratch_file archive_file{base.string() + ".tar.zst"};
        scratch_file entry_file{base.string() + ".entry"};
        auto opening = blocking(s, [path = archive_file.path, level = settings.zstd_level] {
            return std::make_shared<backup::tar_zst_writer>(path, level);
        });
        std::shared_ptr<backup::tar_zst_writer> writer = co_await std::move(opening);
        for (const auto& o : objects) {
            storage::provider* p = s.providers().find(o.provider);
            if (!p || p->bucket() != o.bucket)
                throw std::runtime_error(o.provider + ":" + o.key + " is on a provider this process does not have");
            auto reading = storage::get_content(*p, o.key, entry_file.path, 64ull << 20);
            const storage::object_info got = co_await std::move(reading);
            if (got.sha256 != o.sha256)
                throw std::runtime_error(o.provider + ":" + o.key + " does not have the catalog's SHA-256");
            auto adding = blocking(s, [writer, name = o.provider + "/" + o.key, path = entry_file.path] {
                writer->add_file(name, path, clock_type::now());
            });
            co_await std::move(adding);
        }
        auto closing = blocking(s, [writer] { writer->close(); });
        co_await std::move(closing);
        files = writer->files();
        if (settings.encryption_key) {  // sealed like the dump, as <key>.enc
            scratch_file sealed{base.string() + ".tar.zst.enc"};
            auto sealing = blocking(s, [from = archive_file.path, to = sealed.path, k = *settings.encryption_key] {
                seal_file(from, to, k);
            });
            co_await std::move(sealing);
            std::filesystem::rename(sealed.path, archive_file.path);
            sealed.path.clear();
        }
        storage::put_options options;
        options.content_type = "application/zstd";
        auto putting = target.put_file(key, archive_file.path, std::move(options));
        stored = co_await std::move(putting);
    } catch (const std::exception& e) {
        error = redact(e.what());
    }
    if (!error.empty()) spdlog::warn("backup {}: the metadata archive failed: {}", id, error);
    auto record = [id, key, &stored, files, error](pqxx::connection& c) {
        pqxx::work tx(c);
        if (stored)
            tx.exec_params0("UPDATE backups SET metadata_key = $2, metadata_size = $3, metadata_sha256 = $4, "
                            "metadata_files = $5, metadata_error = NULL WHERE id = $1",
                            id, key, static_cast<std::int64_t>(stored->size), stored->sha256,
                            static_cast<std::int64_t>(files));
        else
            tx.exec_params0("UPDATE backups SET metadata_error = $2 WHERE id = $1", id, error);
        tx.commit();
    };
    if (stored || !error.empty()) {
        auto recording = s.db().run(std::move(record));
        co_await std::move(recording);
    }
    if (stored) spdlog::info("backup {}: {} metadata files archived in {} ({} bytes)", id, files, key, stored->size);
}

asio::awaitable<backup_outcome> run_backup(storage_services& s, const backup_settings& settings, backup_progress progress) {
    storage::provider& target = s.providers().at(settings.provider);
    auto abandoned = fail_abandoned(s);
    co_await std::move(abandoned);

    const std::string owner = process::this_process();
    const auto started = clock_type::now();
    // The snapshot first: the backup's own row (inserted next) is not in the dump, so a restored
    // database does not show a backup that was running when it was taken.
    auto open = [url = settings.database_url] { return std::make_shared<snapshot_session>(url); };
    std::shared_ptr<snapshot_session> session = co_await blocking(s, std::move(open));
    auto insert = [&settings, bucket = target.bucket(), owner](pqxx::connection& c) {
        pqxx::work tx(c);
        const auto id = tx.exec_params1("INSERT INTO backups (provider, bucket, key, format, owner) "
                                        "VALUES ($1, $2, '', $3, $4) RETURNING id",
                                        settings.provider, bucket,
                                        std::string(settings.encryption_key ? encrypted_format : backup_format), owner)[0]
                            .as<std::int64_t>();
        tx.commit();
        return id;
    };
    const std::int64_t id = co_await s.db().run(std::move(insert));
    const std::string key = object_key(settings, id, started);
    auto set_key = [id, key](pqxx::connection& c) {
        pqxx::work tx(c);
        tx.exec_params0("UPDATE backups SET key = $2 WHERE id = $1", id, key);
        tx.commit();
    };
    co_await s.db().run(std::move(set_key));
    spdlog::info("backup {}: pg_dump -> zstd -> {}:{}", id, settings.provider, key);

    std::exception_ptr failure;
    std::optional<dump_result> dumped;
    try {
        auto dumping = dump_and_store(s, settings, target, key, id, std::move(session), progress);
        dumped = co_await std::move(dumping);
    } catch (...) {
        failure = std::current_exception();
    }
    const double seconds = std::chrono::duration<double>(clock_type::now() - started).count();
    if (failure) {
        std::string why;
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            why = redact(e.what());
        }
        auto mark = [id, why, seconds](pqxx::connection& c) {
            pqxx::work tx(c);
            tx.exec_params0("UPDATE backups SET status = 'failed', error = $2, finished_at = now(), seconds = $3 "
                            "WHERE id = $1",
                            id, why, seconds);
            tx.commit();
        };
        co_await s.db().run(std::move(mark));
        spdlog::error("backup {} failed: {}", id, why);
        std::rethrow_exception(failure);
    }
    const std::string manifest = nlohmann::json{{"tables", backup::to_json(dumped->census)}}.dump();
    auto succeed = [id, &dumped, &manifest, seconds](pqxx::connection& c) {
        pqxx::work tx(c);
        tx.exec_params0("UPDATE backups SET status = 'succeeded', size = $2, sha256 = $3, dump_bytes = $4, "
                        "server_version = $5, schema_version = $6, manifest = $7::jsonb, finished_at = now(), "
                        "seconds = $8, error = NULL WHERE id = $1",
                        id, static_cast<std::int64_t>(dumped->put.size), dumped->put.sha256,
                        static_cast<std::int64_t>(dumped->dumped), dumped->server_version, dumped->schema_version,
                        manifest, seconds);
        tx.commit();
    };
    co_await s.db().run(std::move(succeed));
    spdlog::info("backup {}: {} bytes dumped, {} stored ({:.1f}x) in {:.1f} s", id, dumped->dumped, dumped->put.size,
                 dumped->put.size ? static_cast<double>(dumped->dumped) / static_cast<double>(dumped->put.size) : 0.0,
                 seconds);
    // The metadata archive: its failure is recorded on the row and reported, the backup stands.
    auto archiving = archive_metadata(s, settings, target, id, started);
    co_await std::move(archiving);
    backup_outcome out;
    auto loading = load_record(s, id);
    out.backup = co_await std::move(loading);
    // Retention only after a backup that succeeded. Its failure does not undo the backup (a retry
    // of the job would take another): it is reported, and the next run tries again.
    try {
        auto pruning = apply_retention(s, settings, false);
        out.retention = co_await std::move(pruning);
    } catch (const std::exception& e) {
        out.retention.error = redact(e.what());
        spdlog::warn("backup {}: retention failed ({}); the next backup or `wharfctl backup prune` tries again", id,
                     out.retention.error);
    }
    co_return out;
}

asio::awaitable<std::vector<backup_record>> list_backups(storage_services& s, bool with_deleted) {
    auto load = [with_deleted](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<backup_record> out;
        for (const auto& r : tx.exec(fmt::format("SELECT {} FROM backups {} ORDER BY id", record_columns,
                                                 with_deleted ? "" : "WHERE status <> 'deleted'")))
            out.push_back(record_of(r));
        return out;
    };
    co_return co_await s.db().run(std::move(load));
}

asio::awaitable<backup_record> find_backup(storage_services& s, std::int64_t id) {
    auto loading = load_record(s, id);
    co_return co_await std::move(loading);
}

asio::awaitable<verify_report> verify_backup(storage_services& s, const backup_settings& settings, std::int64_t id,
                                             transfer_progress progress) {
    verify_report report;
    auto loading = load_record(s, id);
    report.backup = co_await std::move(loading);
    scratch_file file = scratch_for(settings, id, "verify");
    try {
        auto fetching = fetch_checked(s, report.backup, file.path, progress);
        co_await std::move(fetching);
        auto discard = [](std::string) -> asio::awaitable<void> { co_return; };
        auto decoding = decode_file(s, file.path, key_for(settings, report.backup), discard);
        report.dump_bytes = co_await std::move(decoding);
        if (report.backup.dump_bytes && report.dump_bytes != *report.backup.dump_bytes)
            fail(fmt::format("backup {} decompresses to {} bytes, {} were dumped", id, report.dump_bytes,
                             *report.backup.dump_bytes));
        report.ok = true;
    } catch (const permanent_error& e) {
        report.problem = e.what();
    }
    co_return report;
}

asio::awaitable<restore_report> restore_backup(storage_services& s, const backup_settings& settings, std::int64_t id,
                                               std::string target_url, bool replace, transfer_progress progress) {
    const auto started = std::chrono::steady_clock::now();
    auto loading = load_record(s, id);
    const backup_record b = co_await std::move(loading);
    const backup::aead_key* key = key_for(settings, b);  // before anything is downloaded or touched
    scratch_file file = scratch_for(settings, id, "restore");
    // The bytes are checked before the target is touched.
    auto fetching = fetch_checked(s, b, file.path, progress);
    co_await std::move(fetching);
    std::uint64_t relations = 0;
    try {
        auto counting = user_relations(s, target_url);
        relations = co_await std::move(counting);
    } catch (const pqxx::failure& e) {
        fail("cannot connect to the restore target: " + redact(e.what()));
    }
    if (relations > 0 && !replace)
        fail(fmt::format("the target database is not empty ({} tables, views or sequences): restoring would replace "
                         "them; pass --yes to do so",
                         relations));
    auto restoring = pg_restore_into(s, file.path, key, target_url, relations > 0);
    restore_report report;
    report.id = id;
    report.dump_bytes = co_await std::move(restoring);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    co_return report;
}

asio::awaitable<drill_report> restore_drill(storage_services& s, const backup_settings& settings,
                                            std::optional<std::int64_t> id) {
    if (!id) {
        auto latest = [](pqxx::connection& c) {
            pqxx::read_transaction tx(c);
            const auto r = tx.exec1("SELECT max(id) FROM backups WHERE status = 'succeeded'");
            return opt<std::int64_t>(r[0]);
        };
        id = co_await s.db().run(std::move(latest));
        if (!id) fail("there is no succeeded backup to drill");
    }
    drill_report report;
    auto loading = load_record(s, *id);
    report.backup = co_await std::move(loading);
    report.scratch_database = fmt::format("wharf_drill_{}_{}", *id, ::getpid());

    // One drill at a time, on a connection held for the drill: the advisory lock lives with it.
    // Scratch databases of drills that died are dropped first (the lock says none is running).
    auto lock = [url = settings.database_url] {
        auto c = std::make_shared<pqxx::connection>(url);
        pqxx::nontransaction tx(*c);
        if (!tx.exec1("SELECT pg_try_advisory_lock(" + std::to_string(drill_lock_key) + ")")[0].as<bool>())
            throw permanent_error("another restore drill is running");
        for (const auto& r : tx.exec("SELECT datname FROM pg_database WHERE datname LIKE 'wharf\\_drill\\_%'"))
            tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(r[0].as<std::string>()) + " WITH (FORCE)");
        return c;
    };
    std::shared_ptr<pqxx::connection> admin = co_await blocking(s, std::move(lock));
    auto create = [admin, name = report.scratch_database] {
        pqxx::nontransaction tx(*admin);
        tx.exec0("CREATE DATABASE " + tx.quote_name(name));
    };
    co_await blocking(s, std::move(create));

    const backup::child_conninfo scratch_conn = backup::split_conninfo(settings.database_url, report.scratch_database);
    std::string scratch_url = scratch_conn.conninfo;
    if (scratch_conn.password) {
        std::string quoted;
        for (char c : *scratch_conn.password) {
            if (c == '\'' || c == '\\') quoted += '\\';
            quoted += c;
        }
        scratch_url += " password='" + quoted + "'";
    }
    std::exception_ptr failure;
    try {
        const auto started = std::chrono::steady_clock::now();
        auto restoring = restore_backup(s, settings, *id, scratch_url, false, {});
        co_await std::move(restoring);
        report.restore_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        auto check = [scratch_url, &report] {
            pqxx::connection c(scratch_url);
            pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::readwrite_policy::read_only> tx(c);
            const auto got = backup::take_census(tx);
            const auto version =
                tx.exec1("SELECT COALESCE(max(version), 0) FROM schema_migrations")[0].as<std::int32_t>();
            std::vector<std::string> problems;
            if (report.backup.schema_version && version != *report.backup.schema_version)
                problems.push_back(fmt::format("schema version {} restored, {} backed up", version,
                                               *report.backup.schema_version));
            if (report.backup.manifest.empty()) {
                problems.push_back("the backup has no manifest to compare with");
            } else {
                try {
                    const auto expected = backup::census_from_manifest(report.backup.manifest);
                    for (auto& d : backup::census_differences(expected, got)) problems.push_back(std::move(d));
                } catch (const std::invalid_argument& e) {
                    problems.push_back(e.what());
                }
            }
            return problems;
        };
        report.problems = co_await blocking(s, std::move(check));
    } catch (const permanent_error& e) {
        report.problems.push_back(e.what());
    } catch (...) {
        failure = std::current_exception();
    }
    auto drop = [admin, name = report.scratch_database] {
        pqxx::nontransaction tx(*admin);
        tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name) + " WITH (FORCE)");
        tx.exec("SELECT pg_advisory_unlock(" + std::to_string(drill_lock_key) + ")");
    };
    try {
        co_await blocking(s, std::move(drop));
    } catch (const std::exception& e) {
        spdlog::warn("restore drill of backup {}: cannot drop {} ({}); the next drill will", *id, report.scratch_database,
                     redact(e.what()));
    }
    if (failure) std::rethrow_exception(failure);
    report.passed = report.problems.empty();
    std::string problems;
    for (const auto& p : report.problems) problems += (problems.empty() ? "" : "; ") + p;
    auto mark = [id = *id, passed = report.passed, seconds = report.restore_seconds, problems](pqxx::connection& c) {
        pqxx::work tx(c);
        if (passed)
            tx.exec_params0("UPDATE backups SET verified_at = now(), drilled_at = now(), restore_seconds = $2, "
                            "drill_error = NULL WHERE id = $1",
                            id, seconds);
        else
            tx.exec_params0("UPDATE backups SET drilled_at = now(), drill_error = $2 WHERE id = $1", id, problems);
        tx.commit();
    };
    co_await s.db().run(std::move(mark));
    auto reloading = load_record(s, *id);
    report.backup = co_await std::move(reloading);
    if (report.passed)
        spdlog::info("restore drill of backup {}: passed ({:.1f} s to restore)", *id, report.restore_seconds);
    else
        spdlog::error("restore drill of backup {}: FAILED: {}", *id, problems);
    co_return report;
}

asio::awaitable<retention_report> apply_retention(storage_services& s, const backup_settings& settings, bool dry_run) {
    auto load = [](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<backup::backup_summary> out;
        for (const auto& r : tx.exec("SELECT id, status, (EXTRACT(EPOCH FROM COALESCE(finished_at, started_at)) * 1e6)::bigint, "
                                     "verified_at IS NOT NULL FROM backups WHERE status = 'succeeded'"))
            out.push_back({r[0].as<std::int64_t>(), r[1].as<std::string>(), time_of(r[2]), r[3].as<bool>()});
        return out;
    };
    const auto summaries = co_await s.db().run(std::move(load));
    retention_report report;
    report.dry_run = dry_run;
    report.deleted = backup::expired_backups(summaries, settings.retention, clock_type::now());
    if (dry_run) co_return report;
    for (const auto& d : report.deleted) {
        auto loading = load_record(s, d.id);
        const backup_record b = co_await std::move(loading);
        storage::provider* p = s.providers().find(b.provider);
        if (!p) {
            spdlog::warn("retention: backup {} is at provider '{}', which is not configured; kept", b.id, b.provider);
            continue;
        }
        // The object first, then the row: a kill between leaves a row whose object is gone,
        // which the next run deletes again (absent is not an error) and then marks.
        auto removing = p->remove(b.key);
        co_await std::move(removing);
        if (b.metadata_key) {
            auto removing_metadata = p->remove(*b.metadata_key);
            co_await std::move(removing_metadata);
        }
        auto mark = [id = b.id](pqxx::connection& c) {
            pqxx::work tx(c);
            tx.exec_params0("UPDATE backups SET status = 'deleted', deleted_at = now() WHERE id = $1 AND status = 'succeeded'",
                            id);
            tx.commit();
        };
        co_await s.db().run(std::move(mark));
        spdlog::info("retention: backup {} deleted ({})", b.id, d.reason);
    }
    co_return report;
}

void register_backup_job(job_registry& registry, std::shared_ptr<storage_services> services, backup_settings settings) {
    auto shared = std::make_shared<backup_settings>(std::move(settings));
    auto backup_run = [services, shared](job_context& ctx) -> asio::awaitable<nlohmann::json> {
        auto reporter = std::make_shared<progress_reporter>(ctx.report_progress);
        backup_progress progress = [reporter](std::uint64_t dumped, std::uint64_t stored) {
            reporter->report({{"phase", "backup"}, {"dumped", dumped}, {"stored", stored}});
        };
        auto running = run_backup(*services, *shared, std::move(progress));
        const backup_outcome out = co_await std::move(running);
        nlohmann::json result = to_json(out.backup);
        result["retention"] = to_json(out.retention);
        co_return result;
    };
    registry.add(job_type{.name = "backup",
                          .handler = std::move(backup_run),
                          .max_attempts = 3,
                          .timeout = std::chrono::hours(6),
                          .retry_base = std::chrono::minutes(1),
                          .retry_cap = std::chrono::minutes(15)});
}

void register_restore_drill_job(job_registry& registry, std::shared_ptr<storage_services> services,
                                backup_settings settings) {
    auto shared = std::make_shared<backup_settings>(std::move(settings));
    auto drill_run = [services, shared](job_context& ctx) -> asio::awaitable<nlohmann::json> {
        std::optional<std::int64_t> id;
        if (ctx.payload.contains("backup_id")) {
            const auto& v = ctx.payload["backup_id"];
            if (!v.is_number_integer() || v.get<std::int64_t>() < 1)
                throw permanent_error("restore-drill: backup_id must be a positive integer");
            id = v.get<std::int64_t>();
        }
        auto drilling = restore_drill(*services, *shared, id);
        const drill_report report = co_await std::move(drilling);
        if (!report.passed) {
            std::string why;
            for (const auto& p : report.problems) why += (why.empty() ? "" : "; ") + p;
            throw permanent_error(fmt::format("restore drill of backup {} failed: {}", report.backup.id, why));
        }
        co_return to_json(report);
    };
    registry.add(job_type{.name = "restore-drill",
                          .handler = std::move(drill_run),
                          .max_attempts = 2,
                          .timeout = std::chrono::hours(6),
                          .retry_base = std::chrono::minutes(1),
                          .retry_cap = std::chrono::minutes(15)});
}

}  // namespace wharf::worker
