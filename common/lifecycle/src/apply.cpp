// See wharf/lifecycle/apply.hpp.
#include "wharf/lifecycle/apply.hpp"

#include "wharf/maintenance/catalog_removal.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/storage/catalog.hpp"
#include "wharf/storage/error.hpp"
#include "wharf/storage/registry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <utility>

namespace wharf::lifecycle {
namespace {

namespace asio = boost::asio;

constexpr std::int64_t page_rows = 1000;
constexpr std::size_t max_listed_failures = 100;

struct candidate {
    std::int64_t id = 0;
    std::string provider, bucket, key, sha256;
    std::uint64_t size = 0;
    storage::tier tier = storage::tier::hot;
    action what = action::keep;
};

storage::tier tier_from(std::string_view s) {
    return s == "cold" ? storage::tier::cold : s == "warm" ? storage::tier::warm : storage::tier::hot;
}

struct page {
    std::vector<candidate> changes;
    std::int64_t last_id = 0;
    std::size_t rows = 0;
    std::uint64_t below_min_size = 0;
};

// One page of live rows after `after` and what the rules ask of each (blocking: inside db.run).
page read_page(pqxx::connection& c, const rule_set& rules, const std::optional<std::string>& provider,
               std::int64_t after) {
    pqxx::read_transaction tx(c, "lifecycle_apply_page");
    const char* only = provider ? provider->c_str() : nullptr;
    const auto rows = tx.exec_params(
        "SELECT id, provider, bucket, key, api_key, size, tier, sha256, "
        "GREATEST(0, EXTRACT(EPOCH FROM now() - created_at))::bigint FROM objects "
        "WHERE deleted_at IS NULL AND id > $1 AND ($2::text IS NULL OR provider = $2) ORDER BY id LIMIT $3",
        after, only, page_rows);
    page out;
    out.rows = rows.size();
    for (const auto& row : rows) {
        out.last_id = row[0].as<std::int64_t>();
        candidate o;
        o.id = out.last_id;
        o.provider = row[1].as<std::string>();
        o.bucket = row[2].as<std::string>();
        o.key = row[3].as<std::string>();
        o.size = row[5].as<std::uint64_t>();
        const auto tier = row[6].as<std::string>();
        o.tier = tier_from(tier);
        o.sha256 = row[7].as<std::string>();
        object_facts facts;
        facts.key = o.key;
        if (!row[4].is_null()) facts.api_key = row[4].as<std::string>();
        facts.size = o.size;
        facts.tier = tier;
        facts.age = std::chrono::seconds(row[8].as<std::int64_t>());
        o.what = decide(rules, facts);
        if (o.what == action::keep) {
            if (o.size < rules.min_tier_size) {
                rule_set unbounded = rules;  // would it have been tiered at any size?
                unbounded.min_tier_size = 0;
                if (decide(unbounded, facts) != action::keep) ++out.below_min_size;
            }
            continue;
        }
        out.changes.push_back(std::move(o));
    }
    return out;
}

struct run_state {
    pg::pool& db;
    const storage::registry& providers;
    apply_options options;
    apply_report report;
    std::function<void(const apply_report&)> progress;
    std::exception_ptr stop;  // what stops the run (PostgreSQL)

    void fail(const candidate& o, std::string why) {
        ++report.failed;
        spdlog::warn("lifecycle: {}:{}: {}", o.provider, o.key, why);
        if (report.failures.size() < max_listed_failures)
            report.failures.push_back({o.provider, o.key, std::move(why)});
    }
    void done(const candidate& o) {
        auto& count = o.what == action::to_cold   ? report.to_cold
                      : o.what == action::to_warm ? report.to_warm
                                                  : report.expired;
        ++count.objects;
        count.bytes += o.size;
    }
    void tell() {
        if (progress) progress(report);
    }
};

// The provider of a row, when this process has it (the same bucket too).
storage::provider* provider_of(const run_state& st, const candidate& o) {
    auto* p = st.providers.find(o.provider);
    return p && p->bucket() == o.bucket ? p : nullptr;
}

// One tier change: the provider's class first, then the row.
asio::awaitable<void> change_tier(run_state& st, const candidate& o) {
    const storage::tier target = o.what == action::to_cold ? storage::tier::cold : storage::tier::warm;
    storage::provider* p = provider_of(st, o);
    if (!p) {
        ++st.report.skipped_unconfigured;
        co_return;
    }
    if (!p->tier_class(target)) {
        ++st.report.skipped_untiered;
        co_return;
    }
    if (st.options.dry_run) {
        st.done(o);
        co_return;
    }
    try {
        auto setting = p->set_tier(o.key, target);
        co_await std::move(setting);
    } catch (const storage::error& e) {
        st.fail(o, e.code() == storage::errc::not_found ? std::string("the object is missing at its provider (") + e.what() + ")"
                                                        : std::string(e.what()));
        co_return;
    }
    auto fn = [id = o.id, sha = o.sha256, from = o.tier, target](pqxx::connection& c) {
        return storage::set_object_tier(c, id, sha, from, target);
    };
    const auto outcome = co_await st.db.run(std::move(fn));
    if (outcome == storage::tier_outcome::gone)
        ++st.report.skipped_changed;
    else
        st.done(o);
}

// The page's tier changes, `concurrency` at a time.
asio::awaitable<void> change_tiers(run_state& st, const std::vector<const candidate*>& list) {
    if (list.empty()) co_return;
    std::size_t next = 0;
    auto worker = [&st, &list, &next]() -> asio::awaitable<void> {
        while (!st.stop && next < list.size()) {
            const candidate& o = *list[next++];
            try {
                auto changing = change_tier(st, o);
                co_await std::move(changing);
            } catch (...) {
                if (!st.stop) st.stop = std::current_exception();
            }
            st.tell();
        }
    };
    auto ex = co_await asio::this_coro::executor;
    const std::size_t n = std::min(std::max<std::size_t>(st.options.concurrency, 1), list.size());
    using op_type = decltype(asio::co_spawn(ex, worker(), asio::deferred));
    std::vector<op_type> ops;
    for (std::size_t i = 0; i < n; ++i) ops.push_back(asio::co_spawn(ex, worker(), asio::deferred));
    auto group = asio::experimental::make_parallel_group(std::move(ops));
    auto waiting = group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    co_await std::move(waiting);
}

// The page's expiries through the one deletion of catalog objects.
asio::awaitable<void> expire(run_state& st, const std::vector<const candidate*>& list) {
    if (list.empty()) co_return;
    if (st.options.dry_run) {
        for (const auto* o : list) {
            if (provider_of(st, *o))
                st.done(*o);
            else
                ++st.report.skipped_unconfigured;
        }
        co_return;
    }
    std::vector<maintenance::catalog_object> objects;
    for (const auto* o : list)
        objects.push_back({o->id, o->provider, o->bucket, o->key, static_cast<std::int64_t>(o->size)});
    maintenance::removal_tally tally;
    storage::catalog catalog(st.db);
    auto removing = maintenance::remove_objects(st.providers, catalog, objects, tally);
    co_await std::move(removing);
    st.report.expired.objects += static_cast<std::uint64_t>(tally.deleted);
    st.report.expired.bytes += static_cast<std::uint64_t>(tally.freed_bytes);
    st.report.skipped_unconfigured += static_cast<std::uint64_t>(tally.skipped);
    st.report.failed += static_cast<std::uint64_t>(tally.failed);
    for (const auto& e : tally.errors) {
        if (st.report.failures.size() >= max_listed_failures) break;
        const auto colon = e.find(':');
        const auto rest = colon == std::string::npos ? std::string() : e.substr(colon + 1);
        const auto reason = rest.rfind(": ");
        st.report.failures.push_back({colon == std::string::npos ? std::string() : e.substr(0, colon),
                                      reason == std::string::npos ? rest : rest.substr(0, reason),
                                      reason == std::string::npos ? e : rest.substr(reason + 2)});
    }
    // Rows removed meanwhile by someone else are neither deleted by us nor failed.
    const auto accounted = static_cast<std::uint64_t>(tally.deleted + tally.skipped + tally.failed);
    if (list.size() > accounted) st.report.skipped_changed += list.size() - accounted;
    st.tell();
}

}  // namespace

void check_apply_options(const storage::registry& providers, const apply_options& o) {
    if (o.concurrency < 1 || o.concurrency > 64) throw std::invalid_argument("concurrency must be 1..64");
    if (o.limit < 1) throw std::invalid_argument("limit must be at least 1");
    if (o.provider && !providers.find(*o.provider))
        throw std::invalid_argument(fmt::format("unknown storage provider '{}'", *o.provider));
}

asio::awaitable<apply_report> apply_lifecycle(pg::pool& db, const storage::registry& providers, const rule_set& rules,
                                              apply_options options,
                                              std::function<void(const apply_report&)> progress) {
    check_apply_options(providers, options);
    run_state st{db, providers, options, apply_report{}, std::move(progress), {}};
    st.report.dry_run = options.dry_run;
    std::int64_t after = 0;
    for (;;) {
        auto fn = [&rules, only = options.provider, after](pqxx::connection& c) {
            return read_page(c, rules, only, after);
        };
        const page pg = co_await db.run(std::move(fn));
        st.report.examined += pg.rows;
        st.report.below_min_size += pg.below_min_size;
        std::vector<const candidate*> tiering, expiring;
        for (const auto& o : pg.changes) {
            if (tiering.size() + expiring.size() + st.report.changed() >= options.limit) {
                st.report.limit_reached = true;
                break;
            }
            (o.what == action::expire ? expiring : tiering).push_back(&o);
        }
        auto changing = change_tiers(st, tiering);
        co_await std::move(changing);
        if (st.stop) std::rethrow_exception(st.stop);
        auto expiring_op = expire(st, expiring);
        co_await std::move(expiring_op);
        st.tell();
        if (st.report.limit_reached || pg.rows < static_cast<std::size_t>(page_rows)) break;
        after = pg.last_id;
    }
    co_return st.report;
}

nlohmann::json to_json(const apply_report& r) {
    const auto count = [](const apply_count& c) { return nlohmann::json{{"objects", c.objects}, {"bytes", c.bytes}}; };
    nlohmann::json failures = nlohmann::json::array();
    for (const auto& f : r.failures) failures.push_back({{"provider", f.provider}, {"key", f.key}, {"error", f.error}});
    return {{"dry_run", r.dry_run},
            {"examined", r.examined},
            {"to_warm", count(r.to_warm)},
            {"to_cold", count(r.to_cold)},
            {"expired", count(r.expired)},
            {"below_min_size", r.below_min_size},
            {"skipped_unconfigured", r.skipped_unconfigured},
            {"skipped_untiered", r.skipped_untiered},
            {"skipped_changed", r.skipped_changed},
            {"failed", r.failed},
            {"complete", r.complete()},
            {"limit_reached", r.limit_reached},
            {"failures", std::move(failures)}};
}

apply_options parse_apply_payload(const nlohmann::json& p) {
    if (!p.is_object()) throw std::invalid_argument("payload must be an object");
    for (const auto& [name, value] : p.items()) {
        (void)value;
        if (name != "provider" && name != "limit" && name != "concurrency" && name != "dry_run")
            throw std::invalid_argument(
                fmt::format("payload: unknown field \"{}\" (provider, limit, concurrency, dry_run)", name));
    }
    apply_options o;
    if (p.contains("provider")) {
        if (!p["provider"].is_string() || p["provider"].get<std::string>().empty())
            throw std::invalid_argument("payload.provider must be a provider's name");
        o.provider = p["provider"].get<std::string>();
    }
    if (p.contains("limit")) {
        if (!p["limit"].is_number_integer() || p["limit"].get<std::int64_t>() < 1)
            throw std::invalid_argument("payload.limit must be a positive integer");
        o.limit = p["limit"].get<std::uint64_t>();
    }
    if (p.contains("concurrency")) {
        if (!p["concurrency"].is_number_integer() || p["concurrency"].get<std::int64_t>() < 1 ||
            p["concurrency"].get<std::int64_t>() > 64)
            throw std::invalid_argument("payload.concurrency must be an integer 1..64");
        o.concurrency = p["concurrency"].get<std::size_t>();
    }
    if (p.contains("dry_run")) {
        if (!p["dry_run"].is_boolean()) throw std::invalid_argument("payload.dry_run must be true or false");
        o.dry_run = p["dry_run"].get<bool>();
    }
    return o;
}

}  // namespace wharf::lifecycle
