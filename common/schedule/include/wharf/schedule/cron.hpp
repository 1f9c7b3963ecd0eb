// Cron expressions: what a schedule's `cron` field says, parsed once and matched against civil
// (wall-clock) times. Pure: no clock and no time zone here (next_fire.hpp adds them).
#pragma once

#include <bitset>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace wharf::schedule {

// A cron text that is not a schedule; what() says which field and why.
class cron_error : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// One civil time, to the second, as a schedule sees it (no time zone attached).
struct civil_time {
    int year = 1970;
    unsigned month = 1;    // 1-12
    unsigned day = 1;      // 1-31
    unsigned weekday = 4;  // 0 = Sunday .. 6 = Saturday
    unsigned hour = 0;
    unsigned minute = 0;
    unsigned second = 0;
};

// The classic 5 fields (minute hour day-of-month month day-of-week), or 6 with a leading seconds
// field; numbers, `*`, ranges `a-b`, steps `*/n`, `a-b/n` and `a/n` (a to the field's end), lists
// `a,b-c`, month and weekday names (`jan`, `mon-fri`, either case), weekday 7 = Sunday, and the
// macros @yearly @annually @monthly @weekly @daily @midnight @hourly. Day-of-month and
// day-of-week follow Vixie cron: when both are restricted (neither starts with `*`) a day matches
// if either does; otherwise both must. A text longer than max_text, or a schedule that can never
// fire (`0 0 31 2 *`), is refused.
class cron {
public:
    static constexpr std::size_t max_text = 256;

    static cron parse(std::string_view text);

    // Whether a civil date can fire at all (its month and day fields), and whether a civil time
    // is one of the expression's slots.
    bool matches_day(int year, unsigned month, unsigned day, unsigned weekday) const noexcept;
    bool matches(const civil_time& t) const noexcept;

    bool has_seconds() const noexcept { return has_seconds_; }
    const std::bitset<60>& seconds() const noexcept { return seconds_; }
    const std::bitset<60>& minutes() const noexcept { return minutes_; }
    const std::bitset<24>& hours() const noexcept { return hours_; }
    bool month_matches(unsigned month) const noexcept { return months_[month]; }
    // The expression as written (after trimming), for listings.
    const std::string& text() const noexcept { return text_; }

private:
    std::string text_;
    bool has_seconds_ = false;
    std::bitset<60> seconds_;
    std::bitset<60> minutes_;
    std::bitset<24> hours_;
    std::bitset<32> days_;     // 1-31
    std::bitset<13> months_;   // 1-12
    std::bitset<7> weekdays_;  // 0-6, Sunday = 0
    bool day_star_ = false;
    bool weekday_star_ = false;
};

}  // namespace wharf::schedule
