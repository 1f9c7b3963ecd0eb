// A schedule as an operator writes it: the `schedules` setting of wharf-scheduler's config (a
// JSON array) and the file of `wharfctl schedules apply`. Parsed and checked here, completely,
// before anything is written: the cron text, the zone, and the job it enqueues (checked with the
// workers' own envelope decoder).
#pragma once

#include "wharf/schedule/next_fire.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::schedule {

// A definition that cannot be used; what() names the schedule (or its index) and the field.
class definition_error : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

enum class overlap { skip, allow };

struct definition {
    std::string name;                   // [A-Za-z0-9._-]{1,64}
    std::string cron;                   // as written; parses
    std::string time_zone = "UTC";      // an IANA zone in the tz database
    std::string queue;                  // the job's queue (its type)
    std::string payload_json = "{}";    // a JSON object
    std::optional<std::string> api_key;
    std::optional<std::int32_t> max_attempts;  // 1..100, else the job type's
    std::optional<std::int32_t> timeout_s;     // 1..604800, else the job type's
    schedule::overlap overlap = overlap::skip;
    catch_up mode = catch_up::latest;
    std::chrono::seconds window{3600};  // catch_up_window
    std::chrono::seconds jitter{0};     // the most a fire is delayed (jitter_for)
    bool paused = false;
};

inline constexpr std::size_t max_definitions = 1000;

// A JSON array of schedule objects. Keys: name, cron, queue (required); time_zone, payload,
// api_key, max_attempts, timeout ("30s", "1h"), overlap ("skip"|"allow"), catch_up
// ("latest"|"all"), catch_up_window ("1h"; at most 31 days), jitter (at most 1 h), paused.
// Unknown keys, duplicate names and more than max_definitions schedules are refused.
std::vector<definition> parse_definitions(std::string_view json_text);

// The job id of a fire: sched:<name>:<slot as RFC 3339 UTC>, with milliseconds for a manual
// trigger (whose slot is the moment asked, not a whole second).
std::string fire_job_id(std::string_view name, sys_seconds slot);
std::string fire_job_id(std::string_view name, std::chrono::system_clock::time_point manual_slot);

std::string_view to_string(overlap o) noexcept;
std::string_view to_string(catch_up c) noexcept;

}  // namespace wharf::schedule
