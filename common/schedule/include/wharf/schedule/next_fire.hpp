// When a cron expression fires in an IANA time zone, and what a scheduler that was away (or is
// just ticking) must fire now. Pure: the clock is always an argument (the scheduler passes the
// database's), so every decision here is tested with golden tables.
//
// Daylight saving time: a slot whose wall-clock time does not exist (inside a spring-forward
// gap) fires at the first instant after the gap, and the gap's slots fire there once together;
// a slot whose wall-clock time happens twice (inside a fall-back fold) fires once, at the first
// of the two instants.
#pragma once

#include "wharf/schedule/cron.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace date {
class time_zone;
}

namespace wharf::schedule {

using sys_seconds = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;

// The zone a schedule names ("Europe/Berlin", "UTC"), from the system's tz database; throws
// cron_error naming the zone when there is no such zone.
const date::time_zone& find_zone(std::string_view name);

// The first instant strictly after `after` at which `expr` fires in `zone`. The search spans one
// whole Gregorian cycle (400 years, which repeats weekdays exactly), so every parsed expression
// fires, even the rarest (`0 0 29 2 */7`, Feb 29 only when it is a Sunday: up to 40 years
// apart); nullopt only for an expression that never can.
std::optional<sys_seconds> next_fire(const cron& expr, const date::time_zone& zone, sys_seconds after);

// What a scheduler does with the slots it has not yet considered after a downtime: `latest` fires
// the newest slot of the catch-up window once for all of them, `all` fires each (newest
// max_fires).
enum class catch_up { latest, all };

struct due_slots {
    std::vector<sys_seconds> fire;  // nominal slot times to fire now, oldest first
    std::uint64_t missed = 0;       // slots older than the window, or past the `all` cap: never run
    std::uint64_t coalesced = 0;    // slots inside the window folded into the one `latest` fire
    sys_seconds cursor;             // the newest slot considered; the next plan starts after it
};

struct due_policy {
    std::chrono::seconds window{3600};  // slots older than now - window are missed
    catch_up mode = catch_up::latest;
    std::size_t max_fires = 100;
    std::chrono::seconds jitter{0};     // this schedule's fixed delay (jitter_for)
};

// The slots in (cursor, now - jitter], planned under `policy`. Counting missed slots stops
// after max_counted of them (a year-long outage of a per-second schedule is "at least" that).
inline constexpr std::uint64_t max_counted = 100'000;
due_slots plan_due(const cron& expr, const date::time_zone& zone, sys_seconds cursor, sys_seconds now,
                   const due_policy& policy);

// A schedule's deterministic delay in [0, max]: the same for a name on every replica and every
// run, different between names, so schedules on the same minute do not all fire at once.
std::chrono::seconds jitter_for(std::string_view schedule_name, std::chrono::seconds max) noexcept;

}  // namespace wharf::schedule
