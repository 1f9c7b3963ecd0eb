// Parsing JSON that crosses a trust boundary (envelopes, payloads, config, stored rows): with a
// size limit and a nesting-depth limit, and never an exception for bad input.
//
// Why a depth limit: nlohmann's parser is iterative, but dump(), copies and comparisons recurse,
// so a 200,000-level array parses fine and then overflows the stack of whoever prints it.
// Why no exceptions: a number like 1e999999 is a parse failure (out_of_range), not a parse_error,
// and a caller that catches only parse_error lets it escape.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace wharf {

struct json_limits {
    std::size_t max_bytes = 8 * 1024 * 1024;
    std::size_t max_depth = 64;  // an object or array inside another counts one level more
};

struct parsed_json {
    enum class failure { none, syntax, too_large, too_deep, unreadable };
    nlohmann::json value;  // discarded when error is set
    std::string error;     // empty on success; else a readable reason, e.g. "nested deeper than 64 levels"
    failure why = failure::none;
    explicit operator bool() const noexcept { return error.empty(); }
};

// Parses a whole JSON text (strict: nothing may follow the value). Never throws for bad input.
parsed_json parse_json(std::string_view text, const json_limits& limits = {});

// Reads and parses a JSON file, reading at most limits.max_bytes + 1 bytes (so `/dev/zero` or a
// huge file is refused, not slurped). An unreadable file is failure::unreadable.
parsed_json parse_json_file(const std::string& path, const json_limits& limits = {});

// Serialises without ever throwing: invalid UTF-8 in a string becomes U+FFFD.
std::string dump_json(const nlohmann::json& value, int indent = -1);

}  // namespace wharf
