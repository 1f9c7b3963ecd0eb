// Resume decisions, Content-Range and the partial file's sidecar (see resume.hpp).
#include "wharf/fetch/resume.hpp"

#include "wharf/core/json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace wharf::fetch {
namespace {

// 1 to 19 decimal digits (always fits in 64 bits), no sign.
std::optional<std::uint64_t> take_number(std::string_view& s) {
    std::size_t n = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
    if (n == 0 || n > 19) return std::nullopt;
    std::uint64_t v = 0;
    std::from_chars(s.data(), s.data() + n, v);
    s.remove_prefix(n);
    return v;
}

bool take(std::string_view& s, char c) {
    if (s.empty() || s.front() != c) return false;
    s.remove_prefix(1);
    return true;
}

bool identity(std::string_view encoding) { return encoding.empty() || encoding == "identity"; }

bool is_hex_digest(std::string_view s) {
    return s.size() == 64 &&
           std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

bool is_safe_validator(std::string_view value) noexcept {
    if (value.empty() || value.size() > max_validator_bytes) return false;
    return std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

std::optional<std::string> if_range_value(const validator& v) {
    if (v.etag && is_safe_validator(*v.etag) && !v.etag->starts_with("W/")) return v.etag;
    if (v.last_modified && is_safe_validator(*v.last_modified)) return v.last_modified;
    return std::nullopt;
}

std::optional<range_request> plan_resume(const partial_state& partial) {
    if (partial.bytes == 0) return std::nullopt;
    if (partial.total && partial.bytes > *partial.total) return std::nullopt;
    auto value = if_range_value(partial.v);
    if (!value) return std::nullopt;
    return range_request{partial.bytes, std::move(*value)};
}

std::optional<content_range> parse_content_range(std::string_view s) {
    if (s.size() > max_content_range_bytes || !s.starts_with("bytes")) return std::nullopt;
    s.remove_prefix(5);
    if (!take(s, ' ')) return std::nullopt;
    while (take(s, ' ')) {
    }
    content_range r;
    if (take(s, '*')) {
        if (!take(s, '/')) return std::nullopt;
        r.complete = take_number(s);
        if (!r.complete || !s.empty()) return std::nullopt;
        return r;
    }
    r.first = take_number(s);
    if (!r.first || !take(s, '-')) return std::nullopt;
    r.last = take_number(s);
    if (!r.last || *r.last < *r.first || !take(s, '/')) return std::nullopt;
    if (!take(s, '*')) {
        r.complete = take_number(s);
        if (!r.complete || *r.last >= *r.complete) return std::nullopt;
    }
    if (!s.empty()) return std::nullopt;
    return r;
}

resume_decision decide_resume(const std::optional<range_request>& sent, int status,
                              std::optional<std::string_view> content_range_header,
                              std::optional<std::uint64_t> content_length, std::string_view content_encoding) {
    const auto restart = [](std::string reason) {
        return resume_decision{resume_action::restart, 0, std::nullopt, std::move(reason)};
    };
    const std::optional<std::uint64_t> whole_length = identity(content_encoding) ? content_length : std::nullopt;
    if (status >= 200 && status < 300 && status != 206)
        return {resume_action::write_from_zero, 0, whole_length,
                sent ? "the server sent the whole resource (its validator changed, or it ignores Range)" : ""};
    if (!sent) return restart(fmt::format("status {} to a request without Range", status));
    const auto range = parse_content_range(content_range_header.value_or(""));
    if (status == 206) {
        if (!identity(content_encoding)) return restart("the partial content is encoded (" + std::string(content_encoding) + ")");
        if (!range || !range->first) return restart("206 without a usable Content-Range");
        if (*range->first != sent->from)
            return restart(fmt::format("206 for bytes from {}, asked from {}", *range->first, sent->from));
        if (content_length && *content_length != *range->last - *range->first + 1)
            return restart("206 whose Content-Length disagrees with its Content-Range");
        return {resume_action::append, sent->from, range->complete, ""};
    }
    if (status == 416) {
        if (!range || range->first || !range->complete) return restart("416 without a usable Content-Range");
        if (*range->complete != sent->from)
            return restart(fmt::format("the resource is {} bytes now, the partial file holds {}", *range->complete,
                                       sent->from));
        return {resume_action::verify_existing, sent->from, range->complete, ""};
    }
    return restart(fmt::format("unexpected status {} to a ranged request", status));
}

std::string encode_sidecar(const sidecar& s) {
    nlohmann::json j{{"v", 1}, {"url", s.url_digest}};
    if (s.v.etag) j["etag"] = *s.v.etag;
    if (s.v.last_modified) j["last_modified"] = *s.v.last_modified;
    if (s.total) j["total"] = *s.total;
    return dump_json(j);
}

std::optional<sidecar> decode_sidecar(std::string_view text) {
    auto parsed = parse_json(text, {.max_bytes = max_sidecar_bytes, .max_depth = 1});
    if (!parsed || !parsed.value.is_object()) return std::nullopt;
    const auto& j = parsed.value;
    sidecar s;
    for (const auto& [key, value] : j.items()) {
        if (key == "v") {
            if (!value.is_number_unsigned() || value.get<std::uint64_t>() != 1) return std::nullopt;
        } else if (key == "url") {
            if (!value.is_string() || !is_hex_digest(value.get_ref<const std::string&>())) return std::nullopt;
            s.url_digest = value.get<std::string>();
        } else if (key == "etag" || key == "last_modified") {
            if (!value.is_string() || !is_safe_validator(value.get_ref<const std::string&>())) return std::nullopt;
            (key == "etag" ? s.v.etag : s.v.last_modified) = value.get<std::string>();
        } else if (key == "total") {
            if (!value.is_number_unsigned()) return std::nullopt;
            s.total = value.get<std::uint64_t>();
        } else {
            return std::nullopt;
        }
    }
    if (!j.contains("v") || s.url_digest.empty()) return std::nullopt;
    return s;
}

}  // namespace wharf::fetch
