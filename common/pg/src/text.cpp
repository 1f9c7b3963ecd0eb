// Connection strings, error classification and array-literal encoding (pure functions).
#include "wharf/pg/detail/text.hpp"

#include "wharf/core/redact.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>

namespace wharf::pg::detail {
namespace {

bool is_url(std::string_view s) {
    return s.starts_with("postgresql://") || s.starts_with("postgres://");
}

bool names_parameter(std::string_view conninfo, std::string_view key) {
    // Matches "key=" at the start, after a space (key-value form) or after ?/& (URL form).
    for (std::size_t pos = conninfo.find(key); pos != std::string_view::npos; pos = conninfo.find(key, pos + 1)) {
        const bool at_start = pos == 0 || conninfo[pos - 1] == ' ' || conninfo[pos - 1] == '?' ||
                              conninfo[pos - 1] == '&';
        auto rest = conninfo.substr(pos + key.size());
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        if (at_start && !rest.empty() && rest.front() == '=') return true;
    }
    return false;
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

}  // namespace

std::string with_connect_defaults(std::string_view conninfo, std::chrono::seconds connect_timeout,
                                  std::string_view application_name) {
    std::string out{conninfo};
    auto add = [&](std::string_view key, const std::string& value) {
        if (names_parameter(conninfo, key)) return;
        if (is_url(conninfo)) {
            out += out.find('?') == std::string::npos ? '?' : '&';
            out += key;
            out += '=';
            out += value;  // callers pass URL-safe values only
        } else {
            if (!out.empty()) out += ' ';
            out += key;
            out += '=';
            out += value;
        }
    };
    if (connect_timeout.count() > 0) add("connect_timeout", std::to_string(connect_timeout.count()));
    if (!application_name.empty()) add("application_name", std::string{application_name});
    return out;
}

std::string one_line(std::string_view message) {
    std::string out;
    out.reserve(message.size());
    bool pending_space = false;
    for (char c : message) {
        if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) out.push_back(' ');
        pending_space = false;
        out.push_back(c);
    }
    return redact(out);
}

bool is_permanent_connect_error(std::string_view m) noexcept {
    static constexpr std::array<std::string_view, 10> permanent = {
        "password authentication failed",
        "authentication failed",
        "no password supplied",
        "no pg_hba.conf entry",
        "does not exist",  // database "x" / role "x" does not exist
        "invalid connection option",
        "invalid URI",
        "missing \"=\" after",
        "invalid sslmode value",
        "server does not support SSL",
    };
    for (auto p : permanent)
        if (contains(m, p)) return true;
    return false;
}

bool is_connection_sqlstate(std::string_view s) noexcept {
    return s.starts_with("08") || s == "57P01" || s == "57P02" || s == "57P03";
}

bool is_retryable_sqlstate(std::string_view s) noexcept { return s == "40001" || s == "40P01"; }

std::string sanitize_text(std::string_view in) {
    static constexpr std::string_view replacement = "\xEF\xBF\xBD";
    // Ids, queue names and most errors are plain ASCII without NUL: copied whole.
    if (std::all_of(in.begin(), in.end(), [](char c) { return c != 0 && static_cast<unsigned char>(c) < 0x80; }))
        return std::string{in};
    std::string out;
    out.reserve(in.size());
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    const std::size_t n = in.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        if (c == 0) { ++i; continue; }
        if (c < 0x80) { out.push_back(static_cast<char>(c)); ++i; continue; }
        // Length and the valid range of the second byte (RFC 3629, table 3-7 of Unicode):
        // rejects overlong forms, surrogates and code points above U+10FFFF.
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c == 0xE0) { len = 3; lo = 0xA0; }
        else if (c >= 0xE1 && c <= 0xEC) len = 3;
        else if (c == 0xED) { len = 3; hi = 0x9F; }
        else if (c >= 0xEE && c <= 0xEF) len = 3;
        else if (c == 0xF0) { len = 4; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) len = 4;
        else if (c == 0xF4) { len = 4; hi = 0x8F; }
        bool ok = len != 0 && i + len <= n;
        if (ok && (p[i + 1] < lo || p[i + 1] > hi)) ok = false;
        for (std::size_t k = 2; ok && k < len; ++k)
            if (p[i + k] < 0x80 || p[i + k] > 0xBF) ok = false;
        if (!ok) {
            out.append(replacement);
            ++i;  // resynchronise on the next byte
            continue;
        }
        out.append(in.substr(i, len));
        i += len;
    }
    return out;
}

bool is_storable_json(std::string_view json) noexcept {
    if (contains(json, "\\u0000")) return false;
    return nlohmann::json::accept(json);
}

void array_literal::separator() {
    if (count_++ > 0) out_.push_back(',');
}

void array_literal::push(std::string_view text) {
    separator();
    out_.push_back('"');
    // Whole runs between characters to escape are appended at once (a flush encodes ~100 KB).
    for (std::size_t from = 0;;) {
        const std::size_t at = text.find_first_of("\"\\", from);
        out_.append(text.substr(from, at == std::string_view::npos ? std::string_view::npos : at - from));
        if (at == std::string_view::npos) break;
        out_.push_back('\\');
        out_.push_back(text[at]);
        from = at + 1;
    }
    out_.push_back('"');
}

void array_literal::push(std::int64_t value) {
    separator();
    std::array<char, 24> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
    (void)ec;  // 24 bytes always hold an int64
    out_.append(buf.data(), end);
}

void array_literal::push_null() {
    separator();
    out_.append("NULL");
}

std::string array_literal::finish() && {
    out_.push_back('}');
    return std::move(out_);
}

}  // namespace wharf::pg::detail
