#include "wharf/storage/analytics.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <stdexcept>

namespace wharf::storage {

analytics load_analytics(pqxx::connection& c, int days) {
    if (days < 1 || days > 366) throw std::invalid_argument("analytics: days must be from 1 to 366");
    pqxx::read_transaction tx{c};
    analytics a;
    for (const auto& r : tx.exec(
             "SELECT provider, tier, prefix_class, count(*), COALESCE(sum(size), 0) FROM objects "
             "WHERE deleted_at IS NULL GROUP BY provider, tier, prefix_class ORDER BY provider, tier, prefix_class"))
        a.groups.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                            r[3].as<std::uint64_t>(), r[4].as<std::uint64_t>()});
    for (const auto& r : tx.exec(
             "SELECT o.api_key, count(*), COALESCE(sum(o.size), 0), k.quota_bytes FROM objects o "
             "LEFT JOIN api_keys k ON k.api_key = o.api_key WHERE o.deleted_at IS NULL "
             "GROUP BY o.api_key, k.quota_bytes ORDER BY 3 DESC, 1 NULLS LAST LIMIT 100")) {
        tenant_usage t;
        if (!r[0].is_null()) t.api_key = r[0].as<std::string>();
        t.objects = r[1].as<std::uint64_t>();
        t.bytes = r[2].as<std::uint64_t>();
        if (!r[3].is_null()) t.quota_bytes = r[3].as<std::uint64_t>();
        a.tenants.push_back(std::move(t));
    }
    // Each day's end is the next day's midnight UTC; an object is live then when it was created
    // before and not deleted before.
    const auto rows = tx.exec_params(
        "WITH d AS (SELECT day::date AS day, (day::date + 1)::timestamp AT TIME ZONE 'UTC' AS day_end, "
        "                  day::date::timestamp AT TIME ZONE 'UTC' AS day_start "
        "           FROM generate_series((now() AT TIME ZONE 'UTC')::date - ($1::int - 1), "
        "                                (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS day) "
        "SELECT d.day::text, live.n, live.b, added.n, added.b, removed.n, removed.b FROM d "
        "CROSS JOIN LATERAL (SELECT count(*) AS n, COALESCE(sum(size), 0) AS b FROM objects o "
        "                    WHERE o.created_at < d.day_end AND (o.deleted_at IS NULL OR o.deleted_at >= d.day_end)) live "
        "CROSS JOIN LATERAL (SELECT count(*) AS n, COALESCE(sum(size), 0) AS b FROM objects o "
        "                    WHERE o.created_at >= d.day_start AND o.created_at < d.day_end) added "
        "CROSS JOIN LATERAL (SELECT count(*) AS n, COALESCE(sum(size), 0) AS b FROM objects o "
        "                    WHERE o.deleted_at >= d.day_start AND o.deleted_at < d.day_end) removed "
        "ORDER BY d.day",
        days);
    for (const auto& r : rows)
        a.days.push_back({r[0].as<std::string>(), r[1].as<std::uint64_t>(), r[2].as<std::uint64_t>(),
                          r[3].as<std::uint64_t>(), r[4].as<std::uint64_t>(), r[5].as<std::uint64_t>(),
                          r[6].as<std::uint64_t>()});
    return a;
}

nlohmann::json analytics_report(const analytics& a) {
    using json = nlohmann::json;
    json out{{"totals", {{"objects", 0}, {"bytes", 0}}},
             {"by_provider", json::array()},
             {"by_api_key", json::array()},
             {"daily", json::array()}};
    std::uint64_t objects = 0, bytes = 0;
    for (const auto& g : a.groups) {
        objects += g.objects;
        bytes += g.bytes;
        out["by_provider"].push_back({{"provider", g.provider},
                                      {"tier", g.tier},
                                      {"prefix_class", g.prefix_class},
                                      {"objects", g.objects},
                                      {"bytes", g.bytes}});
    }
    out["totals"] = {{"objects", objects}, {"bytes", bytes}};
    for (const auto& t : a.tenants)
        out["by_api_key"].push_back({{"api_key", t.api_key ? json(*t.api_key) : json(nullptr)},
                                     {"objects", t.objects},
                                     {"bytes", t.bytes},
                                     {"quota_bytes", t.quota_bytes ? json(*t.quota_bytes) : json(nullptr)}});
    for (const auto& d : a.days)
        out["daily"].push_back({{"day", d.day},
                                {"objects", d.objects},
                                {"bytes", d.bytes},
                                {"added_objects", d.added_objects},
                                {"added_bytes", d.added_bytes},
                                {"removed_objects", d.removed_objects},
                                {"removed_bytes", d.removed_bytes}});
    return out;
}

}  // namespace wharf::storage
