// The -progress parser (see progress.hpp).
#include "wharf/media/progress.hpp"

#include "numbers.hpp"

#include <algorithm>

namespace wharf::media {
namespace {

std::optional<std::int64_t> non_negative_int(std::string_view v) {
    auto n = detail::parse_int(v);
    if (n && *n >= 0) return n;
    return std::nullopt;
}

std::optional<double> non_negative_double(std::string_view v) {
    auto d = detail::parse_double(v);
    if (d && *d >= 0) return d;
    return std::nullopt;
}

}  // namespace

std::optional<std::int64_t> parse_out_time(std::string_view s) {
    // HH:MM:SS.ffffff; hours may have more digits.
    if (s.empty() || s.front() < '0' || s.front() > '9') return std::nullopt;
    const auto c1 = s.find(':');
    if (c1 == std::string_view::npos) return std::nullopt;
    const auto c2 = s.find(':', c1 + 1);
    if (c2 == std::string_view::npos || c2 != c1 + 3) return std::nullopt;
    const auto h = non_negative_int(s.substr(0, c1));
    const auto m = non_negative_int(s.substr(c1 + 1, 2));
    const std::string_view sec = s.substr(c2 + 1);
    const auto dot = sec.find('.');
    const auto whole = non_negative_int(sec.substr(0, dot));
    if (!h || !m || !whole || *m > 59 || *whole > 59 || *h > 10'000'000) return std::nullopt;
    if (sec.substr(0, dot).size() != 2) return std::nullopt;
    std::int64_t micros = 0;
    if (dot != std::string_view::npos) {
        const std::string_view frac = sec.substr(dot + 1);
        if (frac.empty() || frac.size() > 9) return std::nullopt;
        std::int64_t scale = 100'000;
        for (char c : frac) {
            if (c < '0' || c > '9') return std::nullopt;
            micros += (c - '0') * scale;
            scale /= 10;
        }
    }
    return ((*h * 60 + *m) * 60 + *whole) * 1'000'000 + micros;
}

double progress_percent(const progress_block& b, double duration_s) {
    if (b.end) return 100.0;
    if (!b.out_time_us || !(duration_s > 0)) return 0.0;
    return std::clamp(static_cast<double>(*b.out_time_us) / (duration_s * 1e4), 0.0, 100.0);
}

std::vector<progress_block> progress_parser::feed(std::string_view chunk) {
    std::vector<progress_block> out;
    while (!chunk.empty()) {
        const auto nl = chunk.find('\n');
        const std::string_view piece = chunk.substr(0, nl);
        if (!overlong_) {
            if (partial_.size() + piece.size() > limits_.max_line) {
                overlong_ = true;
                partial_.clear();
            } else {
                partial_.append(piece);
            }
        }
        if (nl == std::string_view::npos) break;
        chunk.remove_prefix(nl + 1);
        if (overlong_) {
            overlong_ = false;
            ++dropped_lines_;
            continue;
        }
        std::string_view l = partial_;
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        line(l, out);
        partial_.clear();
    }
    return out;
}

void progress_parser::line(std::string_view l, std::vector<progress_block>& out) {
    const auto eq = l.find('=');
    if (eq == std::string_view::npos) return;
    const std::string_view key = l.substr(0, eq);
    std::string_view value = l.substr(eq + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (key == "progress") {
        current_.end = value == "end";
        if (current_.end) ended_ = true;
        out.push_back(current_);
        current_ = progress_block{};
        keys_ = 0;
        return;
    }
    if (++keys_ > limits_.max_keys) return;
    if (key == "out_time_us") {
        if (auto v = non_negative_int(value)) current_.out_time_us = v;
    } else if (key == "out_time_ms") {  // microseconds despite the name (ffmpeg 4 and 5)
        if (!current_.out_time_us)
            if (auto v = non_negative_int(value)) current_.out_time_us = v;
    } else if (key == "out_time") {
        if (!current_.out_time_us)
            if (auto v = parse_out_time(value)) current_.out_time_us = v;
    } else if (key == "frame") {
        current_.frame = non_negative_int(value);
    } else if (key == "fps") {
        current_.fps = non_negative_double(value);
    } else if (key == "speed") {
        if (!value.empty() && value.back() == 'x') value.remove_suffix(1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        current_.speed = non_negative_double(value);
    } else if (key == "total_size") {
        current_.total_size = non_negative_int(value);
    }
}

}  // namespace wharf::media
