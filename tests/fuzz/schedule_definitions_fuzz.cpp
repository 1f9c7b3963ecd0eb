// Schedule definitions (the scheduler's `schedules` setting, `wharfctl schedules apply`): whatever
// is accepted is usable -- its cron parses, its zone exists, its fire ids are valid producer ids.
#include "fuzz_support.hpp"

#include "wharf/schedule/definition.hpp"

#include <set>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace ws = wharf::schedule;
    std::vector<ws::definition> defs;
    try {
        defs = ws::parse_definitions(wharf::fuzz::text(data, size));
    } catch (const ws::definition_error&) {
        return 0;
    }
    std::set<std::string> names;
    for (const auto& d : defs) {
        WHARF_FUZZ_CHECK(names.insert(d.name).second);
        (void)ws::cron::parse(d.cron);     // throws (and so crashes the target) if it does not parse
        (void)ws::find_zone(d.time_zone);  // likewise
        const auto id = ws::fire_job_id(d.name, ws::sys_seconds{std::chrono::seconds{4'102'444'799}});
        WHARF_FUZZ_CHECK(id.size() <= 128);
        WHARF_FUZZ_CHECK(d.window.count() >= 0 && d.jitter.count() >= 0 && d.jitter.count() <= 3600);
    }
    return 0;
}
