// RFC 3339 timestamps: a strict parser (offsets, Z, fractional seconds) and a UTC formatter.
#include "wharf/queue/envelope.hpp"

#include <cstdio>

namespace wharf::queue {
namespace {

// Reads exactly n digits at text[pos...]; advances pos.
bool digits(std::string_view text, std::size_t& pos, int n, int& out) {
    if (pos + static_cast<std::size_t>(n) > text.size()) return false;
    int v = 0;
    for (int i = 0; i < n; ++i) {
        const char c = text[pos + static_cast<std::size_t>(i)];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    pos += static_cast<std::size_t>(n);
    out = v;
    return true;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
    if (pos >= text.size() || text[pos] != c) return false;
    ++pos;
    return true;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
    using namespace std::chrono;
    std::size_t pos = 0;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (!digits(text, pos, 4, y) || !expect(text, pos, '-') || !digits(text, pos, 2, mo) ||
        !expect(text, pos, '-') || !digits(text, pos, 2, d))
        return std::nullopt;
    // RFC 3339 section 5.6 allows 't', and its note allows a space, for readability.
    if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) return std::nullopt;
    ++pos;
    if (!digits(text, pos, 2, h) || !expect(text, pos, ':') || !digits(text, pos, 2, mi) ||
        !expect(text, pos, ':') || !digits(text, pos, 2, s))
        return std::nullopt;
    nanoseconds frac{0};
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        const std::size_t start = pos;
        std::int64_t ns = 0;
        int used = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            if (used < 9) {  // digits past nanoseconds are below the clock's resolution
                ns = ns * 10 + (text[pos] - '0');
                ++used;
            }
            ++pos;
        }
        if (pos == start) return std::nullopt;
        for (; used < 9; ++used) ns *= 10;
        frac = nanoseconds{ns};
    }
    minutes offset{0};
    if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
        ++pos;
    } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
        const int sign = text[pos] == '-' ? -1 : 1;
        ++pos;
        int oh = 0, om = 0;
        if (!digits(text, pos, 2, oh) || !expect(text, pos, ':') || !digits(text, pos, 2, om)) return std::nullopt;
        if (oh > 23 || om > 59) return std::nullopt;
        offset = minutes{sign * (oh * 60 + om)};
    } else {
        return std::nullopt;  // RFC 3339 requires an offset: a local time is ambiguous
    }
    if (pos != text.size()) return std::nullopt;

    const year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!date.ok()) return std::nullopt;
    // 60 is a leap second; system_clock has none, so it lands on the next second like POSIX time.
    if (h > 23 || mi > 59 || s > 60) return std::nullopt;
    const sys_seconds whole = sys_days{date} + hours{h} + minutes{mi} + seconds{s} - offset;
    // system_clock counts nanoseconds in 64 bits: about 1677-09-21 to 2262-04-11. Outside that a
    // time cannot be represented (and converting it would overflow).
    constexpr auto lo = duration_cast<seconds>(system_clock::duration::min()).count() + 1;
    constexpr auto hi = duration_cast<seconds>(system_clock::duration::max()).count() - 1;
    if (whole.time_since_epoch().count() < lo || whole.time_since_epoch().count() > hi) return std::nullopt;
    return time_point_cast<system_clock::duration>(whole) + duration_cast<system_clock::duration>(frac);
}

std::string format_rfc3339(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(t);
    const auto day_start = floor<days>(ms);
    const year_month_day date{day_start};
    const hh_mm_ss<milliseconds> tod{ms - day_start};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                  static_cast<int>(tod.seconds().count()), static_cast<int>(tod.subseconds().count()));
    return buf;
}

}  // namespace wharf::queue
