#include "wharf/schedule/next_fire.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <deque>

namespace wharf::schedule {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using local_seconds = date::local_seconds;

// The instant a wall-clock time stands for, under the DST rules in the header: a time in a gap
// becomes the gap's end, a time in a fold its first occurrence. Monotonic in `local`, which is
// what lets next_fire walk wall-clock time forward.
sys_seconds instant_of(const date::time_zone& zone, local_seconds local) {
    const auto info = zone.get_info(local);
    switch (info.result) {
        case date::local_info::nonexistent: return sys_seconds{info.second.begin.time_since_epoch()};
        case date::local_info::unique:
        case date::local_info::ambiguous:
        default: return sys_seconds{local.time_since_epoch() - info.first.offset};
    }
}

// The first set index >= from, or `size` when there is none.
template <std::size_t N>
std::size_t next_set(const std::bitset<N>& bits, std::size_t from) noexcept {
    for (std::size_t i = from; i < N; ++i)
        if (bits[i]) return i;
    return N;
}

}  // namespace

const date::time_zone& find_zone(std::string_view name) {
    if (name.empty() || name.size() > 64) throw cron_error(fmt::format("time zone '{}' is not an IANA zone name", name));
    try {
        return *date::locate_zone(name);
    } catch (const std::exception&) {
        throw cron_error(fmt::format("time zone '{}' is not in the tz database (an IANA name such as "
                                     "'Europe/Berlin' or 'UTC')", name));
    }
}

std::optional<sys_seconds> next_fire(const cron& expr, const date::time_zone& zone, sys_seconds after) {
    const auto offset = zone.get_info(date::sys_seconds{after.time_since_epoch()}).offset;
    local_seconds local{after.time_since_epoch() + offset};
    const auto horizon = local + days(146'097 + 1);  // 400 years and a day: every date on every weekday
    while (local < horizon) {
        const auto day = std::chrono::floor<days>(local);
        const date::year_month_day ymd{day};
        const auto month = static_cast<unsigned>(ymd.month());
        if (!expr.month_matches(month)) {
            const auto next_month = date::year_month{ymd.year(), ymd.month()} + date::months{1};
            local = local_seconds{date::local_days{next_month / 1}};
            continue;
        }
        const int year = static_cast<int>(ymd.year());
        const unsigned weekday = date::weekday{day}.c_encoding();
        if (!expr.matches_day(year, month, static_cast<unsigned>(ymd.day()), weekday)) {
            local = local_seconds{day + days(1)};
            continue;
        }
        const date::hh_mm_ss tod{local - day};
        const auto h = static_cast<std::size_t>(tod.hours().count());
        const auto m = static_cast<std::size_t>(tod.minutes().count());
        const auto s = static_cast<std::size_t>(tod.seconds().count());
        if (const auto nh = next_set(expr.hours(), h); nh != h) {
            local = nh == 24 ? local_seconds{day + days(1)} : local_seconds{day + hours(nh)};
            continue;
        }
        if (const auto nm = next_set(expr.minutes(), m); nm != m) {
            local = nm == 60 ? local_seconds{day + hours(h + 1)} : local_seconds{day + hours(h) + minutes(nm)};
            continue;
        }
        if (const auto ns = next_set(expr.seconds(), s); ns != s) {
            local = ns == 60 ? local_seconds{day + hours(h) + minutes(m + 1)}
                             : local_seconds{day + hours(h) + minutes(m) + seconds(ns)};
            continue;
        }
        const auto instant = instant_of(zone, local);
        if (instant > after) return instant;
        local += seconds(1);
    }
    return std::nullopt;
}

due_slots plan_due(const cron& expr, const date::time_zone& zone, sys_seconds cursor, sys_seconds now,
                   const due_policy& policy) {
    due_slots plan;
    plan.cursor = cursor;
    const auto until = now - policy.jitter;
    const auto window_start = until - policy.window;  // a slot at or before it is missed
    std::deque<sys_seconds> in_window;
    std::uint64_t in_window_count = 0;
    auto slot = next_fire(expr, zone, cursor);
    while (slot && *slot <= until) {
        plan.cursor = *slot;
        if (*slot <= window_start) {
            // Counted, not run; past max_counted, skip straight to the window.
            const bool saturated = ++plan.missed >= max_counted;
            slot = next_fire(expr, zone, saturated ? std::max(*slot, window_start) : *slot);
            continue;
        }
        ++in_window_count;
        in_window.push_back(*slot);
        if (in_window.size() > std::max<std::size_t>(policy.max_fires, 1)) in_window.pop_front();
        slot = next_fire(expr, zone, *slot);
    }
    if (in_window.empty()) return plan;
    if (policy.mode == catch_up::latest) {
        plan.fire.push_back(in_window.back());
        plan.coalesced = in_window_count - 1;
    } else {
        plan.fire.assign(in_window.begin(), in_window.end());
        plan.missed += in_window_count - in_window.size();
    }
    return plan;
}

std::chrono::seconds jitter_for(std::string_view schedule_name, std::chrono::seconds max) noexcept {
    if (max.count() <= 0) return std::chrono::seconds{0};
    std::uint64_t hash = 14695981039346656037ull;  // FNV-1a: the same on every platform and release
    for (const char c : schedule_name) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ull;
    }
    return std::chrono::seconds{static_cast<std::int64_t>(hash % (static_cast<std::uint64_t>(max.count()) + 1))};
}

}  // namespace wharf::schedule
