#include "wharf/schedule/cron.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <vector>

namespace wharf::schedule {
namespace {

struct field_spec {
    const char* name;
    unsigned low;
    unsigned high;
    const std::array<std::string_view, 13>* names;  // names[i] stands for low + i, or null
    unsigned name_base;
};

constexpr std::array<std::string_view, 13> month_names{"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                                       "aug", "sep", "oct", "nov", "dec", ""};
constexpr std::array<std::string_view, 13> weekday_names{"sun", "mon", "tue", "wed", "thu", "fri", "sat",
                                                         "", "", "", "", "", ""};

constexpr field_spec second_field{"second", 0, 59, nullptr, 0};
constexpr field_spec minute_field{"minute", 0, 59, nullptr, 0};
constexpr field_spec hour_field{"hour", 0, 23, nullptr, 0};
constexpr field_spec day_field{"day-of-month", 1, 31, nullptr, 0};
constexpr field_spec month_field{"month", 1, 12, &month_names, 1};
// 7 is Sunday too; folded onto 0 after parsing.
constexpr field_spec weekday_field{"day-of-week", 0, 7, &weekday_names, 0};

[[noreturn]] void fail(const field_spec& f, std::string_view item, std::string_view why) {
    throw cron_error(fmt::format("cron {} field: '{}' {}", f.name, item, why));
}

unsigned parse_value(const field_spec& f, std::string_view item, std::string_view token) {
    if (token.empty()) fail(f, item, "has an empty value");
    if (std::isalpha(static_cast<unsigned char>(token.front()))) {
        if (f.names && token.size() == 3) {
            std::string lower;
            for (char c : token) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            for (unsigned i = 0; i < f.names->size(); ++i) {
                if (!(*f.names)[i].empty() && (*f.names)[i] == lower) return f.name_base + i;
            }
        }
        fail(f, item, f.names ? "is not a number or a known name" : "is not a number");
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (ec != std::errc{} || end != token.data() + token.size()) fail(f, item, "is not a number");
    if (value < f.low || value > f.high) fail(f, item, fmt::format("is outside {}-{}", f.low, f.high));
    return value;
}

// Parses one field into `bits` (indexed by value); returns whether it starts with '*'.
template <std::size_t N>
bool parse_field(const field_spec& f, std::string_view text, std::bitset<N>& bits) {
    if (text.empty()) fail(f, text, "is empty");
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = text.find(',', start);
        const auto item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        if (item.empty()) fail(f, text, "has an empty list item");
        std::string_view range = item;
        unsigned step = 1;
        bool stepped = false;
        if (const auto slash = item.find('/'); slash != std::string_view::npos) {
            range = item.substr(0, slash);
            const auto step_text = item.substr(slash + 1);
            const auto [end, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
            if (step_text.empty() || ec != std::errc{} || end != step_text.data() + step_text.size())
                fail(f, item, "has a step that is not a number");
            if (step == 0 || step > f.high) fail(f, item, fmt::format("has a step outside 1-{}", f.high));
            stepped = true;
        }
        unsigned low = f.low;
        unsigned high = f.high;
        if (range == "*") {
            // the whole field
        } else if (const auto dash = range.find('-'); dash != std::string_view::npos) {
            low = parse_value(f, item, range.substr(0, dash));
            high = parse_value(f, item, range.substr(dash + 1));
            if (low > high) fail(f, item, "is a range whose start is after its end");
        } else {
            low = parse_value(f, item, range);
            if (!stepped) high = low;  // `a/n` runs from a to the field's end
        }
        for (unsigned v = low; v <= high; v += step) bits.set(v);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return text.front() == '*';
}

std::string_view expand_macro(std::string_view text) {
    if (text == "@yearly" || text == "@annually") return "0 0 1 1 *";
    if (text == "@monthly") return "0 0 1 * *";
    if (text == "@weekly") return "0 0 * * 0";
    if (text == "@daily" || text == "@midnight") return "0 0 * * *";
    if (text == "@hourly") return "0 * * * *";
    throw cron_error(fmt::format("cron '{}' is not a known macro (@yearly, @annually, @monthly, @weekly, "
                                 "@daily, @midnight, @hourly)", text));
}

constexpr unsigned longest_month[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

bool is_leap(int y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

cron cron::parse(std::string_view text) {
    if (text.size() > max_text) throw cron_error(fmt::format("cron text is longer than {} characters", max_text));
    const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    if (text.empty()) throw cron_error("cron text is empty");

    cron c;
    c.text_ = std::string(text);
    std::string_view body = text;
    if (body.front() == '@') body = expand_macro(body);

    std::vector<std::string_view> fields;
    for (std::size_t i = 0; i < body.size();) {
        while (i < body.size() && is_space(body[i])) ++i;
        if (i == body.size()) break;
        std::size_t j = i;
        while (j < body.size() && !is_space(body[j])) ++j;
        if (fields.size() == 6) throw cron_error(fmt::format("cron '{}' has more than 6 fields", text));
        fields.push_back(body.substr(i, j - i));
        i = j;
    }
    if (fields.size() != 5 && fields.size() != 6)
        throw cron_error(fmt::format("cron '{}' has {} fields; it needs 5 (minute hour day-of-month month "
                                     "day-of-week) or 6 (a leading second)", text, fields.size()));
    std::size_t at = 0;
    if (fields.size() == 6) {
        c.has_seconds_ = true;
        parse_field(second_field, fields[at++], c.seconds_);
    } else {
        c.seconds_.set(0);
    }
    parse_field(minute_field, fields[at++], c.minutes_);
    parse_field(hour_field, fields[at++], c.hours_);
    c.day_star_ = parse_field(day_field, fields[at++], c.days_);
    parse_field(month_field, fields[at++], c.months_);
    std::bitset<8> weekdays;
    c.weekday_star_ = parse_field(weekday_field, fields[at++], weekdays);
    for (unsigned d = 0; d < 7; ++d) c.weekdays_[d] = weekdays[d];
    if (weekdays[7]) c.weekdays_.set(0);

    // Refuse what can never fire: restricted days that no chosen month has (`0 0 30 2 *`). With
    // day-of-week restricted too, the OR rule always leaves some day.
    if (c.weekday_star_ || c.day_star_) {
        bool some = false;
        for (unsigned m = 1; m <= 12 && !some; ++m) {
            if (!c.months_[m]) continue;
            for (unsigned d = 1; d <= longest_month[m] && !some; ++d) some = c.days_[d];
        }
        if (!some) throw cron_error(fmt::format("cron '{}' never fires: no chosen month has the chosen days", text));
    }
    return c;
}

bool cron::matches_day(int year, unsigned month, unsigned day, unsigned weekday) const noexcept {
    if (month < 1 || month > 12 || day < 1 || day > 31 || weekday > 6) return false;
    if (!months_[month]) return false;
    if (month == 2 && day == 29 && !is_leap(year)) return false;
    const bool day_ok = days_[day];
    const bool weekday_ok = weekdays_[weekday];
    if (!day_star_ && !weekday_star_) return day_ok || weekday_ok;  // Vixie: either restricted field
    return day_ok && weekday_ok;
}

bool cron::matches(const civil_time& t) const noexcept {
    if (t.hour > 23 || t.minute > 59 || t.second > 59) return false;
    return matches_day(t.year, t.month, t.day, t.weekday) && hours_[t.hour] && minutes_[t.minute] && seconds_[t.second];
}

}  // namespace wharf::schedule
