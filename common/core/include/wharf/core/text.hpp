// Small text helpers the protocol parsers share (HTTP headers, form parts, Azure replies, egress
// rules): ASCII case-insensitive comparison and trimming of HTTP's optional whitespace.
#pragma once

#include <algorithm>
#include <cctype>
#include <string_view>

namespace wharf {

inline bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// Without leading and trailing spaces and tabs (RFC 9110's OWS).
inline std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace wharf
