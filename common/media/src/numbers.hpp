// Strict, locale-free number parsing for text that comes from ffprobe and ffmpeg.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace wharf::media::detail {

// The whole text must be the number (no spaces, no suffix). NaN and infinities are refused.
std::optional<double> parse_double(std::string_view s);
std::optional<std::int64_t> parse_int(std::string_view s);

}  // namespace wharf::media::detail
