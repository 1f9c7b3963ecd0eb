// Parsing of human durations ("250ms", "30s", "5m", "1h", "1.5s"; a bare number is seconds).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace wharf {

// Returns nullopt for anything that is not a non-negative duration.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace wharf
