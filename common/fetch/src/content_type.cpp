// Content-type allow-lists (see content_type.hpp).
#include "wharf/fetch/content_type.hpp"

#include <algorithm>
#include <cctype>

namespace wharf::fetch {
namespace {

bool name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$&-^_.+").find(c) != std::string_view::npos;
}

bool restricted_name(std::string_view s) {
    return !s.empty() && s.size() <= 127 && std::isalnum(static_cast<unsigned char>(s.front())) &&
           std::all_of(s.begin(), s.end(), name_char);
}

bool covers(std::string_view range, std::string_view type) {
    if (range.ends_with("/*")) return type.starts_with(range.substr(0, range.size() - 1));
    return range == type;
}

}  // namespace

std::optional<std::string> normalize_media_range(std::string_view text) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto type = text.substr(0, slash), sub = text.substr(slash + 1);
    if (!restricted_name(type) || (sub != "*" && !restricted_name(sub))) return std::nullopt;
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

bool media_type_allowed(const std::vector<std::string>& ranges, std::string_view type) {
    if (ranges.empty()) return true;
    return std::any_of(ranges.begin(), ranges.end(), [&](const std::string& r) { return covers(r, type); });
}

bool media_ranges_within(const std::vector<std::string>& inner, const std::vector<std::string>& outer) {
    if (outer.empty()) return true;
    if (inner.empty()) return false;
    return std::all_of(inner.begin(), inner.end(), [&](const std::string& in) {
        // "video/*" fits only under "video/*"; "video/mp4" under either.
        return std::any_of(outer.begin(), outer.end(), [&](const std::string& out) {
            return in.ends_with("/*") ? in == out : covers(out, in);
        });
    });
}

}  // namespace wharf::fetch
