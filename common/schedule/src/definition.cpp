#include "wharf/schedule/definition.hpp"

#include "wharf/core/duration.hpp"
#include "wharf/core/json.hpp"
#include "wharf/queue/envelope.hpp"
#include "wharf/queue/keys.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <set>

namespace wharf::schedule {
namespace {

using json = nlohmann::json;

bool valid_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 64) return false;
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

class reader {
public:
    reader(const json& obj, std::string who) : obj_(obj), who_(std::move(who)) {}

    [[noreturn]] void fail(std::string_view field, std::string_view why) const {
        throw definition_error(fmt::format("schedule {}: {}: {}", who_, field, why));
    }

    std::optional<std::string> text(const char* key, bool required = false) const {
        const auto it = obj_.find(key);
        if (it == obj_.end() || it->is_null()) {
            if (required) fail(key, "is required");
            return std::nullopt;
        }
        if (!it->is_string()) fail(key, "must be a string");
        return it->get<std::string>();
    }

    std::optional<std::int64_t> integer(const char* key, std::int64_t low, std::int64_t high) const {
        const auto it = obj_.find(key);
        if (it == obj_.end() || it->is_null()) return std::nullopt;
        if (!it->is_number_integer()) fail(key, "must be a whole number");
        const auto n = it->get<std::int64_t>();
        if (n < low || n > high) fail(key, fmt::format("must be {}-{}", low, high));
        return n;
    }

    // "30s", "1h", or a number of seconds.
    std::optional<std::chrono::seconds> duration(const char* key, std::chrono::seconds high) const {
        const auto it = obj_.find(key);
        if (it == obj_.end() || it->is_null()) return std::nullopt;
        std::optional<std::chrono::milliseconds> d;
        if (it->is_number_integer() && it->get<std::int64_t>() >= 0 && it->get<std::int64_t>() <= high.count())
            d = std::chrono::seconds{it->get<std::int64_t>()};
        else if (it->is_string())
            d = parse_duration(it->get<std::string>());
        if (!d) fail(key, "must be a duration such as \"30s\", \"15m\" or \"1h\"");
        const auto s = std::chrono::duration_cast<std::chrono::seconds>(*d);
        if (s > high) fail(key, fmt::format("must be at most {} s", high.count()));
        return s;
    }

    bool flag(const char* key) const {
        const auto it = obj_.find(key);
        if (it == obj_.end() || it->is_null()) return false;
        if (!it->is_boolean()) fail(key, "must be true or false");
        return it->get<bool>();
    }

    const json& obj() const { return obj_; }
    const std::string& who() const { return who_; }

private:
    const json& obj_;
    std::string who_;
};

constexpr std::string_view known_keys[] = {"name",    "cron",         "time_zone", "queue",    "payload",
                                           "api_key", "max_attempts", "timeout",   "overlap",  "catch_up",
                                           "catch_up_window", "jitter", "paused"};

definition parse_one(const json& item, std::size_t index) {
    if (!item.is_object()) throw definition_error(fmt::format("schedule #{}: must be a JSON object", index + 1));
    std::string who = fmt::format("#{}", index + 1);
    if (const auto n = item.find("name"); n != item.end() && n->is_string() && valid_name(n->get<std::string>()))
        who = "'" + n->get<std::string>() + "'";
    const reader r{item, who};
    for (const auto& [key, value] : item.items()) {
        bool known = false;
        for (const auto k : known_keys) known = known || key == k;
        if (!known) r.fail(key, "is not a schedule field");
    }
    definition d;
    d.name = *r.text("name", true);
    if (!valid_name(d.name)) r.fail("name", "1-64 characters of [A-Za-z0-9._-]");
    d.cron = *r.text("cron", true);
    try {
        (void)cron::parse(d.cron);
    } catch (const cron_error& e) {
        r.fail("cron", e.what());
    }
    if (auto tz = r.text("time_zone")) d.time_zone = *tz;
    try {
        (void)find_zone(d.time_zone);
    } catch (const cron_error& e) {
        r.fail("time_zone", e.what());
    }
    d.queue = *r.text("queue", true);
    if (!queue::valid_queue_name(d.queue)) r.fail("queue", "1-64 characters of [a-z0-9_-]");
    if (const auto p = item.find("payload"); p != item.end() && !p->is_null()) {
        if (!p->is_object()) r.fail("payload", "must be a JSON object");
        d.payload_json = dump_json(*p);
    }
    d.api_key = r.text("api_key");
    if (auto m = r.integer("max_attempts", 1, 100)) d.max_attempts = static_cast<std::int32_t>(*m);
    if (auto t = r.duration("timeout", std::chrono::seconds{7 * 86400})) {
        if (t->count() < 1) r.fail("timeout", "must be at least 1 s");
        d.timeout_s = static_cast<std::int32_t>(t->count());
    }
    if (auto o = r.text("overlap")) {
        if (*o == "skip") d.overlap = overlap::skip;
        else if (*o == "allow") d.overlap = overlap::allow;
        else r.fail("overlap", "must be \"skip\" or \"allow\"");
    }
    if (auto c = r.text("catch_up")) {
        if (*c == "latest") d.mode = catch_up::latest;
        else if (*c == "all") d.mode = catch_up::all;
        else r.fail("catch_up", "must be \"latest\" or \"all\"");
    }
    if (auto w = r.duration("catch_up_window", std::chrono::seconds{31 * 86400})) d.window = *w;
    if (auto j = r.duration("jitter", std::chrono::seconds{3600})) d.jitter = *j;
    d.paused = r.flag("paused");

    // The job as a worker will decode it (the id is the longest a fire's can be).
    json doc{{"v", queue::envelope_version}, {"type", d.queue}, {"payload", json::parse(d.payload_json)},
             {"id", fire_job_id(d.name, std::chrono::system_clock::time_point{std::chrono::milliseconds{7258118399999}})}};
    if (d.api_key) doc["api_key"] = *d.api_key;
    if (d.max_attempts) doc["max_attempts"] = *d.max_attempts;
    if (d.timeout_s) doc["timeout_s"] = *d.timeout_s;
    const auto decoded = queue::decode(dump_json(doc), d.queue);
    if (const auto* bad = std::get_if<queue::decode_error>(&decoded)) r.fail("job", bad->reason);
    return d;
}

using ms_point = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

std::string utc_text(ms_point t, bool millis) {
    const auto s = std::chrono::floor<std::chrono::seconds>(t);
    const auto day = std::chrono::floor<std::chrono::days>(s);
    const std::chrono::year_month_day ymd{day};
    const std::chrono::hh_mm_ss tod{s - day};
    auto out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                           static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), tod.hours().count(),
                           tod.minutes().count(), tod.seconds().count());
    if (millis)
        out += fmt::format(".{:03}", std::chrono::duration_cast<std::chrono::milliseconds>(t - s).count());
    return out + "Z";
}

}  // namespace

std::vector<definition> parse_definitions(std::string_view json_text) {
    auto parsed = parse_json(json_text, {.max_bytes = 4 * 1024 * 1024, .max_depth = 32});
    if (!parsed) throw definition_error("schedules: not JSON: " + parsed.error);
    if (!parsed.value.is_array()) throw definition_error("schedules: must be a JSON array of schedule objects");
    if (parsed.value.size() > max_definitions)
        throw definition_error(fmt::format("schedules: more than {} schedules", max_definitions));
    std::vector<definition> out;
    std::set<std::string, std::less<>> names;
    for (std::size_t i = 0; i < parsed.value.size(); ++i) {
        auto d = parse_one(parsed.value[i], i);
        if (!names.insert(d.name).second) throw definition_error(fmt::format("schedule '{}': defined twice", d.name));
        out.push_back(std::move(d));
    }
    return out;
}

std::string fire_job_id(std::string_view name, sys_seconds slot) {
    return fmt::format("sched:{}:{}", name, utc_text(ms_point{slot}, false));
}

std::string fire_job_id(std::string_view name, std::chrono::system_clock::time_point manual_slot) {
    return fmt::format("sched:{}:{}", name, utc_text(std::chrono::floor<std::chrono::milliseconds>(manual_slot), true));
}

std::string_view to_string(overlap o) noexcept { return o == overlap::skip ? "skip" : "allow"; }
std::string_view to_string(catch_up c) noexcept { return c == catch_up::latest ? "latest" : "all"; }

}  // namespace wharf::schedule
