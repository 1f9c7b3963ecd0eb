#include "schedule_gauges.hpp"

#include "wharf/metrics/registry.hpp"
#include "wharf/pg/pool.hpp"

#include <pqxx/pqxx>

#include <tuple>
#include <vector>

namespace wharf::scheduler {

boost::asio::awaitable<void> refresh_schedule_gauges(pg::pool& db) {
    using row = std::tuple<std::string, double, double, double, bool>;
    auto read = [](pqxx::connection& c) {
        pqxx::read_transaction tx{c};
        std::vector<row> rows;
        // At most one metrics series per schedule; schedules are few (an operator writes them).
        for (const auto& r : tx.exec(
                 "SELECT s.name, s.missed, s.skipped, s.paused, "
                 "       coalesce((SELECT extract(epoch FROM f.enqueued_at) FROM schedule_fires f "
                 "                 WHERE f.schedule = s.name AND f.outcome = 'enqueued' "
                 "                 ORDER BY f.slot DESC LIMIT 1), 0) "
                 "FROM schedules s ORDER BY s.name LIMIT 1000"))
            rows.emplace_back(r[0].as<std::string>(), r[4].as<double>(), r[1].as<double>(), r[2].as<double>(),
                              r[3].as<bool>());
        return rows;
    };
    const auto rows = co_await db.run(std::move(read));
    auto& reg = metrics::default_registry();
    auto& last = reg.gauges("wharf_schedule_last_fire_timestamp_seconds",
                            "When the schedule's newest fire was enqueued (unix seconds; 0: never).", {"schedule"});
    auto& missed = reg.gauges("wharf_schedule_missed_slots",
                              "Slots the schedule missed (outside its catch-up window) since it was created.",
                              {"schedule"});
    auto& skipped = reg.gauges("wharf_schedule_skipped_fires",
                               "Fires skipped because the previous run was still queued or running.", {"schedule"});
    auto& paused = reg.gauges("wharf_schedule_paused", "1 while the schedule is paused.", {"schedule"});
    for (const auto& [name, last_fire, missed_slots, skipped_fires, is_paused] : rows) {
        last.with({name}).set(last_fire);
        missed.with({name}).set(missed_slots);
        skipped.with({name}).set(skipped_fires);
        paused.with({name}).set(is_paused ? 1 : 0);
    }
}

}  // namespace wharf::scheduler
