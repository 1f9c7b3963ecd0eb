// Parsing of human durations.
#include "wharf/core/duration.hpp"

#include <charconv>
#include <cmath>
#include <string>

namespace wharf {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    if (text.empty()) return std::nullopt;
    std::size_t unit_at = 0;
    while (unit_at < text.size() && (std::isdigit(static_cast<unsigned char>(text[unit_at])) || text[unit_at] == '.'))
        ++unit_at;
    if (unit_at == 0) return std::nullopt;
    const std::string number{text.substr(0, unit_at)};
    const std::string_view unit = text.substr(unit_at);
    double value = 0;
    try {
        std::size_t used = 0;
        value = std::stod(number, &used);
        if (used != number.size()) return std::nullopt;
    } catch (...) {
        return std::nullopt;
    }
    double ms_per_unit = 0;
    if (unit.empty() || unit == "s") ms_per_unit = 1000;
    else if (unit == "ms") ms_per_unit = 1;
    else if (unit == "m" || unit == "min") ms_per_unit = 60'000;
    else if (unit == "h") ms_per_unit = 3'600'000;
    else if (unit == "d") ms_per_unit = 86'400'000;
    else return std::nullopt;
    const double ms = value * ms_per_unit;
    if (!std::isfinite(ms) || ms < 0 || ms > 1e15) return std::nullopt;
    return std::chrono::milliseconds{static_cast<std::int64_t>(std::llround(ms))};
}

}  // namespace wharf
