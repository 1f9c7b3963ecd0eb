// See migrate_objects.hpp.
#include "migrate_objects.hpp"

#include "wharf/process/owner.hpp"

#include "wharf/asio/offload.hpp"
#include "wharf/core/backoff.hpp"
#include "wharf/core/log.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/storage/catalog.hpp"
#include "wharf/storage/content.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <pqxx/pqxx>

#include <cerrno>
#include <csignal>
#include <deque>
#include <filesystem>
#include <unistd.h>
#include <utility>

namespace wharf::worker {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using storage::errc;

constexpr std::chrono::seconds run_lease{30};
constexpr std::chrono::seconds lease_renewal{10};
constexpr std::size_t manifest_page = 1000;
constexpr std::size_t max_listed_failures = 100;
constexpr std::size_t done_batch_size = 200;
// Per object and run: transient storage errors are retried with the one backoff policy; what is
// left failed is tried again by the next run of the migration.
constexpr backoff_policy object_retry{std::chrono::milliseconds(500), std::chrono::seconds(10), 4};

using process::owner_is_dead_here;
using process::this_process;

struct manifest_item {
    std::int64_t object_id = 0;
    std::string key;
    std::uint64_t size = 0;
    std::string sha256;
    std::string state;
};

struct item_end {
    std::string state;  // done | skipped | failed | switched
    std::string error;
    bool moved = false;
};

// The manifest rows of objects done, in one statement.
void mark_done(pqxx::connection& c, std::int64_t run, const std::vector<std::int64_t>& ids) {
    std::string list = "{";
    for (std::size_t i = 0; i < ids.size(); ++i) list += (i ? "," : "") + std::to_string(ids[i]);
    list += "}";
    pqxx::work tx(c, "migration_done");
    tx.exec_params("UPDATE object_migration_items SET state = 'done', error = NULL, updated_at = now() "
                   "WHERE migration_id = $1 AND object_id = ANY($2::bigint[])",
                   run, list);
    tx.commit();
}

// A scratch file of one object, removed however the copy ends.
struct scratch_file {
    fs::path path;
    ~scratch_file() {
        std::error_code ec;
        fs::remove(path, ec);
    }
};

struct run_state {
    storage_services& s;
    asio::any_io_executor executor;
    migration_request request;
    storage::provider& from;
    storage::provider& to;
    job_context journal_ctx;  // the pseudo job the run's multipart uploads are journaled under
    std::string owner;
    migration_report report;
    std::function<void(const migration_report&)> progress;
    std::int64_t destination_free = 0;  // an estimate for skipping copies that cannot fit
    std::deque<manifest_item> queue;
    std::int64_t last_id = 0;
    bool more = true, fetching = false;
    std::size_t active = 0;
    std::exception_ptr stop;  // what stops the run (PostgreSQL, the lease)
    asio::steady_timer lease_timer;
    // Objects whose source is deleted, marked done in the manifest in batches: until then their
    // rows say 'switched' (written with the switch), and a rerun only deletes an absent source again.
    std::vector<std::int64_t> done_batch;
};

// -- manifest and run rows (blocking: inside pg::pool::run) --

struct claimed_run {
    std::int64_t id = 0;
    std::optional<std::string> held_by;  // another live owner
    std::chrono::seconds held_for{0};
};

claimed_run claim_run(pqxx::connection& c, const migration_request& r, const std::string& from_bucket,
                      const std::string& owner) {
    pqxx::work tx(c, "claim_migration");
    const char* key = r.api_key ? r.api_key->c_str() : nullptr;
    tx.exec_params(
        "INSERT INTO object_migrations (from_provider, to_provider, prefix, api_key) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (from_provider, to_provider, prefix, COALESCE(api_key, '')) WHERE state = 'running' DO NOTHING",
        r.from, r.to, r.prefix, key);
    const auto row = tx.exec_params1(
        "SELECT id, owner, lease_until > now(), GREATEST(0, EXTRACT(EPOCH FROM lease_until - now()))::bigint "
        "FROM object_migrations WHERE from_provider = $1 AND to_provider = $2 AND prefix = $3 "
        "AND COALESCE(api_key, '') = COALESCE($4, '') AND state = 'running' FOR UPDATE",
        r.from, r.to, r.prefix, key);
    claimed_run out;
    out.id = row[0].as<std::int64_t>();
    const std::optional<std::string> current = row[1].is_null() ? std::nullopt : std::optional(row[1].as<std::string>());
    const bool live = !row[2].is_null() && row[2].as<bool>();
    if (current && *current != owner && live && !owner_is_dead_here(*current)) {
        out.held_by = current;
        out.held_for = std::chrono::seconds(row[3].as<std::int64_t>());
        tx.commit();
        return out;
    }
    tx.exec_params("UPDATE object_migrations SET owner = $2, lease_until = now() + make_interval(secs => $3), "
                   "updated_at = now() WHERE id = $1",
                   out.id, owner, static_cast<std::int64_t>(run_lease.count()));
    // Objects stored under the scope since the run began (or all of them, the first time).
    tx.exec_params(
        "INSERT INTO object_migration_items (migration_id, object_id, key, size, sha256) "
        "SELECT $1, id, key, size, COALESCE(stored_sha256, sha256) FROM objects WHERE provider = $2 AND bucket = $3 AND deleted_at IS NULL "
        "AND starts_with(key, $4) AND ($5::text IS NULL OR api_key = $5) ON CONFLICT DO NOTHING",
        out.id, r.from, from_bucket, r.prefix, key);
    tx.commit();
    return out;
}

struct manifest_counts {
    std::uint64_t objects = 0, bytes = 0, done = 0, skipped = 0;
};

manifest_counts count_manifest(pqxx::connection& c, std::int64_t id) {
    pqxx::read_transaction tx(c, "count_migration");
    const auto row = tx.exec_params1(
        "SELECT count(*), COALESCE(sum(size), 0), count(*) FILTER (WHERE state = 'done'), "
        "count(*) FILTER (WHERE state = 'skipped') FROM object_migration_items WHERE migration_id = $1",
        id);
    return {row[0].as<std::uint64_t>(), row[1].as<std::uint64_t>(), row[2].as<std::uint64_t>(), row[3].as<std::uint64_t>()};
}

std::vector<manifest_item> load_page(pqxx::connection& c, std::int64_t id, std::int64_t after) {
    pqxx::read_transaction tx(c, "migration_page");
    std::vector<manifest_item> out;
    for (const auto& row : tx.exec_params(
             "SELECT object_id, key, size, sha256, state FROM object_migration_items WHERE migration_id = $1 "
             "AND state IN ('pending', 'switched', 'failed') AND object_id > $2 ORDER BY object_id LIMIT $3",
             id, after, static_cast<std::int64_t>(manifest_page)))
        out.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>(), row[2].as<std::uint64_t>(),
                       row[3].as<std::string>(), row[4].as<std::string>()});
    return out;
}

std::int64_t free_bytes(pqxx::connection& c, const std::string& provider) {
    pqxx::read_transaction tx(c, "destination_free");
    const auto rows = tx.exec_params("SELECT limit_bytes - total_bytes FROM storage_stats WHERE provider = $1", provider);
    return rows.empty() ? 0 : rows[0][0].as<std::int64_t>();
}

// -- one object --

asio::awaitable<void> pause(const asio::any_io_executor& ex, std::chrono::milliseconds d) {
    asio::steady_timer t(ex, d);
    co_await t.async_wait(asio::use_awaitable);
}

// Removes the copy at the destination unless the catalog has a live row there (someone else's).
asio::awaitable<void> remove_stray_copy(run_state& st, const std::string& key) {
    auto fn = [p = st.to.name(), b = st.to.bucket(), key](pqxx::connection& c) { return storage::find_object(c, p, b, key); };
    auto there = co_await st.s.db().run(std::move(fn));
    if (there) co_return;
    try {
        auto rm = st.to.remove(key);
        co_await std::move(rm);
    } catch (const storage::error& e) {
        spdlog::warn("migration {}: removing the unswitched copy {}:{} failed: {}", st.report.id, st.to.name(), key,
                     redact(e.what()));
    }
}

// The source's deletion after the switch; `moved_now`: the switch was this run's (else an earlier
// run's, killed before it deleted the source).
asio::awaitable<item_end> finish_source(run_state& st, const manifest_item& it, bool moved_now) {
    try {
        auto rm = st.from.remove(it.key);  // absent is not an error
        co_await std::move(rm);
    } catch (const storage::error& e) {
        co_return item_end{"switched", std::string("switched; deleting the source failed: ") + e.what(), moved_now};
    }
    co_return item_end{"done", {}, moved_now};
}

// One attempt; storage::error escapes for the retry loop to classify.
asio::awaitable<item_end> attempt(run_state& st, manifest_item& it, std::uint32_t tries) {
    // The object's scratch file, removed however this attempt ends (also one a killed run left).
    scratch_file scratch{st.s.options().scratch_dir / fmt::format("migrate-{}-{}", st.report.id, it.object_id)};
    auto read = [id = it.object_id, p = st.to.name(), b = st.to.bucket(), k = it.key](pqxx::connection& c) {
        return std::pair{storage::find_object_by_id(c, id), storage::find_object(c, p, b, k)};
    };
    auto reading = st.s.db().run(std::move(read));
    const auto [row, taken] = co_await std::move(reading);
    if (!row) {
        auto stray = remove_stray_copy(st, it.key);
        co_await std::move(stray);
        co_return item_end{"skipped", "deleted meanwhile"};
    }
    const auto& rec = row->record;
    if (rec.provider == st.to.name() && rec.bucket == st.to.bucket()) {  // switched by a run that died after it
        auto finish = finish_source(st, it, false);
        co_return co_await std::move(finish);
    }
    if (rec.provider != st.from.name() || rec.bucket != st.from.bucket()) co_return item_end{"skipped", "moved elsewhere meanwhile"};
    if (rec.stored_digest() != it.sha256 || rec.size != it.size) {  // replaced meanwhile: move the current bytes
        it.sha256 = rec.stored_digest();
        it.size = rec.size;
    }
    if (static_cast<std::int64_t>(it.size) > st.destination_free)
        co_return item_end{"failed", fmt::format("{} has no room for {} bytes", st.to.name(), it.size)};
    if (taken) co_return item_end{"failed", "the destination already holds an object at this key"};

    // Copy: through the scratch file, whose SHA-256 (computed while it was written) must be the catalog's.
    auto getting = st.from.get_to_file(it.key, scratch.path);
    const storage::object_info got = co_await std::move(getting);
    if (got.size != it.size || !got.sha256 || *got.sha256 != it.sha256)
        throw storage::error(errc::integrity, fmt::format("the source's bytes differ from the catalog's: {} bytes, SHA-256 {} "
                                                          "(recorded {} bytes, {})",
                                                          got.size, got.sha256.value_or("?"), it.size, it.sha256));
    storage::put_options options;
    options.content_type = got.content_type ? *got.content_type : content_type_for_key(it.key);
    options.sha256 = it.sha256;
    // The stored bytes move as they are: an object the compress job encoded stays encoded.
    if (storage::is_encoded(got.content_encoding)) options.content_encoding = *got.content_encoding;
    auto putting = put_journaled(st.s, st.journal_ctx, st.to, it.key, scratch.path, std::move(options));
    const storage::put_result put = co_await std::move(putting);

    // Verify at the destination before anything points at it.
    auto heading = st.to.head(it.key);
    const auto there = co_await std::move(heading);
    if (!there || there->size != it.size || (there->sha256 && *there->sha256 != it.sha256) || put.size != it.size) {
        auto stray = remove_stray_copy(st, it.key);
        co_await std::move(stray);
        throw storage::error(errc::integrity, fmt::format("the copy at {} does not match: {} bytes, SHA-256 {}", st.to.name(),
                                                          there ? there->size : 0,
                                                          there && there->sha256 ? *there->sha256 : "not stored"));
    }

    // Switch: the catalog row and both providers' usage in one transaction.
    // The manifest row says 'switched' in the same transaction: a kill after it leaves only the
    // source's deletion to the next run.
    auto fn = [run = st.report.id, id = it.object_id, from = st.from.name(), to = st.to.name(), bucket = st.to.bucket(),
               sha = it.sha256, size = static_cast<std::int64_t>(it.size), etag = put.etag,
               tries = static_cast<std::int32_t>(tries)](pqxx::connection& c) {
        return storage::relocate_object(c, id, from, to, bucket, sha, etag, [&](pqxx::dbtransaction& tx) {
            tx.exec_params("UPDATE object_migration_items SET state = 'switched', attempts = attempts + $3, error = NULL, "
                           "size = $4, sha256 = $5, updated_at = now() WHERE migration_id = $1 AND object_id = $2",
                           run, id, tries, size, sha);
        });
    };
    auto switching = st.s.db().run(std::move(fn));
    const storage::relocate_result switched = co_await std::move(switching);
    switch (switched.outcome) {
    case storage::relocate_outcome::moved:
    case storage::relocate_outcome::already_moved: {
        st.destination_free -= static_cast<std::int64_t>(it.size);
        const bool moved_now = switched.outcome == storage::relocate_outcome::moved;
        if (switched.crossing) {
            std::string deferred;
            try {
                auto send = st.s.alerts().dispatch(std::move(*switched.crossing));
                co_await std::move(send);
            } catch (const std::exception& e) {
                deferred = e.what();  // the claim expires and the sweeper retries
            }
            if (!deferred.empty())
                spdlog::warn("migration {}: alert for full provider {} deferred: {}", st.report.id, st.to.name(), deferred);
        }
        auto finish = finish_source(st, it, moved_now);
        co_return co_await std::move(finish);
    }
    case storage::relocate_outcome::gone:
    case storage::relocate_outcome::changed: {
        auto stray = remove_stray_copy(st, it.key);
        co_await std::move(stray);
        if (switched.outcome == storage::relocate_outcome::gone) co_return item_end{"skipped", "deleted meanwhile"};
        co_return item_end{"failed", "replaced while it was copied; the next run copies the new bytes"};
    }
    case storage::relocate_outcome::destination_taken:
    case storage::relocate_outcome::destination_full:
        // Our copy is what is at the key only when no row is there; remove_stray_copy checks.
        auto stray = remove_stray_copy(st, it.key);
        co_await std::move(stray);
        co_return item_end{"failed", std::string(storage::to_string(switched.outcome))};
    }
    co_return item_end{"failed", "unknown switch outcome"};
}

asio::awaitable<item_end> move_one(run_state& st, manifest_item& it, std::uint32_t& tries) {
    for (;;) {
        ++tries;
        std::string failure;
        bool retry = false;
        try {
            auto a = attempt(st, it, tries);
            co_return co_await std::move(a);
        } catch (const storage::error& e) {
            failure = e.what();
            retry = e.retryable() && object_retry.may_retry(tries);
        } catch (const pg::unavailable&) {
            throw;  // stops the run: the manifest cannot be written
        } catch (const std::exception& e) {
            failure = e.what();
        }
        if (!retry) co_return item_end{"failed", redact(failure)};
        auto wait = pause(st.executor, object_retry.delay(tries, jitter_rng()));
        co_await std::move(wait);
    }
}

asio::awaitable<void> write_item(run_state& st, const manifest_item& it, const item_end& end, std::uint32_t tries) {
    auto fn = [id = st.report.id, it, end, tries](pqxx::connection& c) {
        pqxx::work tx(c, "migration_item");
        tx.exec_params(
            "UPDATE object_migration_items SET state = $3, attempts = attempts + $4, error = NULLIF($5, ''), size = $6, "
            "sha256 = $7, updated_at = now() WHERE migration_id = $1 AND object_id = $2",
            id, it.object_id, end.state, static_cast<std::int32_t>(tries), end.error, static_cast<std::int64_t>(it.size),
            it.sha256);
        tx.commit();
    };
    co_await st.s.db().run(std::move(fn));
}

asio::awaitable<void> flush_done(run_state& st) {
    if (st.done_batch.empty()) co_return;
    auto fn = [run = st.report.id, ids = std::exchange(st.done_batch, {})](pqxx::connection& c) { mark_done(c, run, ids); };
    co_await st.s.db().run(std::move(fn));
}

asio::awaitable<void> worker_loop(run_state& st) {
    try {
        while (!st.stop) {
            if (st.queue.empty()) {
                if (!st.more) break;
                if (st.fetching) {
                    auto wait = pause(st.executor, std::chrono::milliseconds(5));
                    co_await std::move(wait);
                    continue;
                }
                st.fetching = true;
                auto fn = [id = st.report.id, after = st.last_id](pqxx::connection& c) { return load_page(c, id, after); };
                std::vector<manifest_item> page;
                try {
                    page = co_await st.s.db().run(std::move(fn));
                } catch (...) {
                    st.fetching = false;
                    throw;
                }
                st.fetching = false;
                if (page.size() < manifest_page) st.more = false;
                if (!page.empty()) st.last_id = page.back().object_id;
                for (auto& i : page) st.queue.push_back(std::move(i));
                continue;
            }
            manifest_item it = std::move(st.queue.front());
            st.queue.pop_front();
            std::uint32_t tries = 0;
            item_end end;
            if (it.state == "switched") {  // only the source's deletion is left
                auto finish = finish_source(st, it, false);
                end = co_await std::move(finish);
            } else {
                auto moving = move_one(st, it, tries);
                end = co_await std::move(moving);
            }
            if (end.state == "done") {
                st.done_batch.push_back(it.object_id);
                if (st.done_batch.size() >= done_batch_size) {
                    auto flushing = flush_done(st);
                    co_await std::move(flushing);
                }
            } else {
                auto writing = write_item(st, it, end, tries);
                co_await std::move(writing);
            }
            if (end.state == "done") {
                if (end.moved) {
                    ++st.report.moved;
                    st.report.moved_bytes += it.size;
                } else {
                    ++st.report.completed;
                }
            } else if (end.state == "skipped") {
                ++st.report.skipped;
            } else {
                ++st.report.failed;
                if (st.report.failures.size() < max_listed_failures) st.report.failures.push_back({it.key, end.error});
                spdlog::warn("migration {}: {} -> {}: {}: {}", st.report.id, st.from.name(), st.to.name(), it.key, end.error);
            }
            if (st.progress) st.progress(st.report);
        }
    } catch (...) {
        if (!st.stop) st.stop = std::current_exception();
    }
    if (--st.active == 0) st.lease_timer.cancel();
}

// What a killed run of this migration left in the scratch directory: its objects' files and
// get_to_file's temp files beside them (".wharf-tmp-<hex>-migrate-<id>-<object>"). Only the lease
// holder writes these names.
void remove_scratch_of_run(const fs::path& dir, std::int64_t id) {
    const std::string mine = fmt::format("migrate-{}-", id);
    std::error_code ec;
    fs::create_directories(dir, ec);
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.starts_with(mine) || (name.starts_with(".wharf-tmp-") && name.find("-" + mine) != std::string::npos)) {
            std::error_code rm;
            fs::remove(it->path(), rm);
        }
    }
}

asio::awaitable<void> lease_loop(run_state& st) {
    while (st.active > 0 && !st.stop) {
        st.lease_timer.expires_after(lease_renewal);
        boost::system::error_code ec;
        co_await st.lease_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (st.active == 0 || st.stop) break;
        try {
            auto fn = [id = st.report.id, owner = st.owner](pqxx::connection& c) {
                pqxx::work tx(c, "migration_lease");
                const auto r = tx.exec_params(
                    "UPDATE object_migrations SET lease_until = now() + make_interval(secs => $3), updated_at = now() "
                    "WHERE id = $1 AND owner = $2",
                    id, owner, static_cast<std::int64_t>(run_lease.count()));
                tx.commit();
                return r.affected_rows() == 1;
            };
            if (!co_await st.s.db().run(std::move(fn)))
                throw std::runtime_error(fmt::format("migration {}: another process took the run over", st.report.id));
        } catch (...) {
            if (!st.stop) st.stop = std::current_exception();
        }
    }
}

}  // namespace

nlohmann::json to_json(const migration_plan& p) {
    nlohmann::json j{{"dry_run", true},
                     {"objects", p.objects},
                     {"bytes", p.bytes},
                     {"destination_free", p.destination_free},
                     {"fits", p.bytes <= p.destination_free},
                     {"resumes", nullptr},
                     {"already_done", p.already_done}};
    if (p.resumes) j["resumes"] = *p.resumes;
    return j;
}

nlohmann::json to_json(const migration_report& r) {
    nlohmann::json failures = nlohmann::json::array();
    for (const auto& f : r.failures) failures.push_back({{"key", f.key}, {"error", f.error}});
    return {{"id", r.id},           {"objects", r.objects},   {"bytes", r.bytes},
            {"moved", r.moved},     {"moved_bytes", r.moved_bytes}, {"completed", r.completed},
            {"done_before", r.done_before},
            {"skipped", r.skipped}, {"failed", r.failed},     {"complete", r.complete()},
            {"failures", failures}};
}

void check_migration_request(storage_services& s, const migration_request& r) {
    if (r.from.empty() || r.to.empty()) throw permanent_error("from and to name configured storage providers");
    if (r.from == r.to) throw permanent_error("from and to are the same provider '" + r.from + "'");
    for (const auto& name : {r.from, r.to})
        if (!s.providers().find(name)) throw permanent_error("no configured storage provider named '" + name + "'");
    if (r.concurrency < 1 || r.concurrency > 64) throw permanent_error("concurrency must be 1..64");
    if (r.api_key && r.api_key->empty()) throw permanent_error("api_key must not be empty");
}

asio::awaitable<migration_plan> plan_migration(storage_services& s, migration_request r) {
    check_migration_request(s, r);
    auto preparing = s.prepare();
    co_await std::move(preparing);
    auto fn = [r, bucket = s.providers().find(r.from)->bucket()](pqxx::connection& c) {
        migration_plan p;
        pqxx::read_transaction tx(c, "plan_migration");
        const char* key = r.api_key ? r.api_key->c_str() : nullptr;
        const auto row = tx.exec_params1(
            "SELECT count(*), COALESCE(sum(size), 0) FROM objects WHERE provider = $1 AND bucket = $2 "
            "AND deleted_at IS NULL AND starts_with(key, $3) AND ($4::text IS NULL OR api_key = $4)",
            r.from, bucket, r.prefix, key);
        p.objects = row[0].as<std::uint64_t>();
        p.bytes = row[1].as<std::uint64_t>();
        const auto run = tx.exec_params(
            "SELECT m.id, (SELECT count(*) FROM object_migration_items i WHERE i.migration_id = m.id AND i.state = 'done') "
            "FROM object_migrations m WHERE from_provider = $1 AND to_provider = $2 AND prefix = $3 "
            "AND COALESCE(api_key, '') = COALESCE($4, '') AND state = 'running'",
            r.from, r.to, r.prefix, key);
        if (!run.empty()) {
            p.resumes = run[0][0].as<std::int64_t>();
            p.already_done = run[0][1].as<std::uint64_t>();
        }
        const auto free = tx.exec_params("SELECT GREATEST(limit_bytes - total_bytes, 0) FROM storage_stats WHERE provider = $1", r.to);
        p.destination_free = free.empty() ? 0 : free[0][0].as<std::uint64_t>();
        return p;
    };
    co_return co_await s.db().run(std::move(fn));
}

asio::awaitable<migration_report> migrate_objects(storage_services& s, asio::any_io_executor executor,
                                                  migration_request r,
                                                  std::function<void(const migration_report&)> progress) {
    check_migration_request(s, r);
    auto preparing = s.prepare();
    co_await std::move(preparing);
    storage::provider& from = *s.providers().find(r.from);
    storage::provider& to = *s.providers().find(r.to);
    const std::string owner = this_process();

    // Claim the run: wait for another live owner's lease to end, at most two leases.
    claimed_run claimed;
    const auto give_up = std::chrono::steady_clock::now() + 2 * run_lease + std::chrono::seconds(5);
    for (;;) {
        auto fn = [r, bucket = from.bucket(), owner](pqxx::connection& c) { return claim_run(c, r, bucket, owner); };
        claimed = co_await s.db().run(std::move(fn));
        if (!claimed.held_by) break;
        if (std::chrono::steady_clock::now() > give_up)
            throw std::runtime_error(fmt::format("migration {} is being run by {} (its lease ends in {} s)", claimed.id,
                                                 *claimed.held_by, claimed.held_for.count()));
        spdlog::info("migration {} is held by {}; waiting for its lease to end", claimed.id, *claimed.held_by);
        auto wait = pause(executor, std::chrono::seconds(2));
        co_await std::move(wait);
    }

    run_state st{s,    executor, r, from, to, job_context{}, owner, migration_report{}, std::move(progress), 0, {}, 0,
                 true, false,    0, {},   asio::steady_timer(executor), {}};
    st.report.id = claimed.id;
    st.journal_ctx.id = fmt::format("migration-{}", claimed.id);
    st.journal_ctx.queue = "migrate-objects";
    st.journal_ctx.executor = executor;
    st.journal_ctx.report_progress = [](nlohmann::json) {};
    {
        auto fn = [id = claimed.id, to = r.to](pqxx::connection& c) { return std::pair{count_manifest(c, id), free_bytes(c, to)}; };
        const auto [counts, free] = co_await s.db().run(std::move(fn));
        st.report.objects = counts.objects;
        st.report.bytes = counts.bytes;
        st.report.done_before = counts.done;
        st.report.skipped = counts.skipped;
        st.destination_free = free;
    }
    // What a killed run of this migration left: multipart uploads open at the destination, scratch files.
    auto aborting = abort_uploads_left_open(s, st.journal_ctx);
    co_await std::move(aborting);
    auto sweep = [dir = s.options().scratch_dir, id = claimed.id] { remove_scratch_of_run(dir, id); };
    auto sweeping = offload(s.blocking_pool().get_executor(), std::move(sweep));
    co_await std::move(sweeping);
    if (st.progress) st.progress(st.report);

    st.active = std::clamp<std::size_t>(r.concurrency, 1, 64);
    using op_type = decltype(asio::co_spawn(executor, worker_loop(st), asio::deferred));
    std::vector<op_type> ops;
    for (std::size_t i = 0; i < st.active; ++i) ops.push_back(asio::co_spawn(executor, worker_loop(st), asio::deferred));
    ops.push_back(asio::co_spawn(executor, lease_loop(st), asio::deferred));
    auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(ops))
                               .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    (void)order;
    for (const auto& e : errors)
        if (e && !st.stop) st.stop = e;
    try {
        auto flushing = flush_done(st);
        co_await std::move(flushing);
    } catch (const std::exception& e) {
        // Their rows say 'switched': the next run deletes the (absent) sources again and marks them.
        spdlog::warn("migration {}: marking objects done failed: {}", st.report.id, e.what());
    }

    // Finished when nothing is left to do; the lease is given back either way.
    auto fn = [id = st.report.id, owner](pqxx::connection& c) {
        pqxx::work tx(c, "migration_end");
        tx.exec_params(
            "UPDATE object_migrations SET owner = NULL, lease_until = NULL, updated_at = now(), "
            "state = CASE WHEN EXISTS (SELECT 1 FROM object_migration_items WHERE migration_id = $1 "
            "AND state NOT IN ('done', 'skipped')) THEN 'running' ELSE 'finished' END, "
            "finished_at = CASE WHEN EXISTS (SELECT 1 FROM object_migration_items WHERE migration_id = $1 "
            "AND state NOT IN ('done', 'skipped')) THEN NULL ELSE now() END "
            "WHERE id = $1 AND owner = $2",
            id, owner);
        tx.commit();
    };
    std::exception_ptr ending;
    try {
        co_await s.db().run(std::move(fn));
    } catch (...) {
        ending = std::current_exception();
    }
    if (st.stop) std::rethrow_exception(st.stop);
    if (ending) std::rethrow_exception(ending);
    co_return st.report;
}

migration_request parse_migration_request(const nlohmann::json& p) {
    if (!p.is_object()) throw permanent_error("payload must be an object");
    migration_request r;
    r.from = payload_string(p, "from");
    r.to = payload_string(p, "to");
    r.prefix = payload_optional_string(p, "prefix").value_or("");
    r.api_key = payload_optional_string(p, "api_key");
    if (p.contains("concurrency")) {
        const auto& c = p["concurrency"];
        if (!c.is_number_integer() || c.get<std::int64_t>() < 1 || c.get<std::int64_t>() > 64)
            throw permanent_error("payload.concurrency must be an integer 1..64");
        r.concurrency = c.get<std::size_t>();
    }
    if (p.contains("dry_run") && !p["dry_run"].is_boolean()) throw permanent_error("payload.dry_run must be true or false");
    return r;
}

job_type migrate_objects_job_type(std::shared_ptr<storage_services> services) {
    auto run = [services](job_context& ctx) -> asio::awaitable<nlohmann::json> {
        const migration_request r = parse_migration_request(ctx.payload);
        if (ctx.payload.value("dry_run", false)) {
            auto planning = plan_migration(*services, r);
            co_return to_json(co_await std::move(planning));
        }
        auto reporter = std::make_shared<progress_reporter>(ctx.report_progress);
        auto progress = [reporter](const migration_report& rep) {
            reporter->report({{"phase", "migrate"},
                              {"done", rep.done_before + rep.moved + rep.completed + rep.skipped + rep.failed},
                              {"total", rep.objects},
                              {"moved", rep.moved},
                              {"moved_bytes", rep.moved_bytes},
                              {"failed", rep.failed}});
        };
        auto migrating = migrate_objects(*services, ctx.executor, r, std::move(progress));
        const migration_report report = co_await std::move(migrating);
        reporter->report({{"phase", "migrate"}, {"done", report.objects}, {"total", report.objects}}, true);
        if (!report.complete())
            throw std::runtime_error(fmt::format("migration {}: {} of {} objects failed (first: {}: {})", report.id,
                                                 report.failed, report.objects, report.failures.front().key,
                                                 report.failures.front().error));
        co_return to_json(report);
    };
    return job_type{.name = "migrate-objects",
                    .handler = std::move(run),
                    .max_attempts = 3,
                    .timeout = std::chrono::hours(24),
                    .retry_base = std::chrono::seconds(30),
                    .retry_cap = std::chrono::minutes(10)};
}

void register_migrate_objects_job(job_registry& registry, std::shared_ptr<storage_services> services) {
    registry.add(migrate_objects_job_type(std::move(services)));
}

}  // namespace wharf::worker
