// Content-type allow-lists (pure): media ranges an operator or a producer names, and whether a
// response's media type is among them.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::fetch {

inline constexpr std::size_t max_media_ranges = 32;

// "Video/MP4" -> "video/mp4"; "video/*" stays; nullopt for anything else than type/subtype or
// type/* made of RFC 6838 name characters (letters, digits, !#$&-^_.+), at most 127 bytes each.
std::optional<std::string> normalize_media_range(std::string_view text);

// Whether `type` (a response's media type, lower case, no parameters) is allowed by `ranges`
// (normalised); an empty list allows everything.
bool media_type_allowed(const std::vector<std::string>& ranges, std::string_view type);

// Whether every type `inner` allows is allowed by `outer` (a payload's list may only narrow the
// worker's). An empty outer list allows everything; an empty inner list is as wide as outer.
bool media_ranges_within(const std::vector<std::string>& inner, const std::vector<std::string>& outer);

}  // namespace wharf::fetch
