// The cron parser and the next-fire search: whatever parses fires (the parser refuses what never
// can), each fire is strictly later than the instant asked about, and its wall-clock time in the
// zone is one of the expression's slots or the end of a DST gap.
#include "fuzz_support.hpp"

#include "wharf/schedule/cron.hpp"
#include "wharf/schedule/next_fire.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <array>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace ws = wharf::schedule;
    if (size < 5) return 0;
    // The first 4 bytes choose the zone and the instant; the rest is the cron text.
    static const std::array<const date::time_zone*, 4> zones{&ws::find_zone("UTC"), &ws::find_zone("America/New_York"),
                                                             &ws::find_zone("Europe/Berlin"),
                                                             &ws::find_zone("Australia/Lord_Howe")};
    const auto& zone = *zones[data[0] % zones.size()];
    const std::uint32_t offset = (std::uint32_t{data[1]} << 16) | (std::uint32_t{data[2]} << 8) | data[3];
    const ws::sys_seconds after{std::chrono::seconds{1'767'225'600 + std::int64_t{offset} * 97}};  // 2026 + up to ~50 years
    std::optional<ws::cron> expr;
    try {
        expr = ws::cron::parse(wharf::fuzz::text(data + 4, size - 4));
    } catch (const ws::cron_error&) {
        return 0;
    }
    auto at = after;
    for (int i = 0; i < 3; ++i) {
        const auto next = ws::next_fire(*expr, zone, at);
        WHARF_FUZZ_CHECK(next.has_value());
        WHARF_FUZZ_CHECK(*next > at);
        const auto info = zone.get_info(date::sys_seconds{next->time_since_epoch()});
        const date::local_seconds local{next->time_since_epoch() + info.offset};
        const auto day = std::chrono::floor<date::days>(local);
        const date::year_month_day ymd{day};
        const date::hh_mm_ss tod{local - day};
        const ws::civil_time civil{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                                   static_cast<unsigned>(ymd.day()), date::weekday{day}.c_encoding(),
                                   static_cast<unsigned>(tod.hours().count()), static_cast<unsigned>(tod.minutes().count()),
                                   static_cast<unsigned>(tod.seconds().count())};
        const bool gap_end = next->time_since_epoch() == info.begin.time_since_epoch();
        WHARF_FUZZ_CHECK(expr->matches(civil) || gap_end);
        at = *next;
    }
    return 0;
}
