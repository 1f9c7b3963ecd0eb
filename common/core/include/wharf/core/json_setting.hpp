// A setting whose value is JSON: inline (its first non-blank character is '{' or '[') or the path
// of a file holding it -- how storage_providers and lifecycle_rules are given. Parsed with the
// limits of wharf/core/json.hpp.
#pragma once

#include "wharf/core/json.hpp"

#include <string>
#include <string_view>

namespace wharf {

struct json_setting {
    nlohmann::json value;
    std::string origin;  // the setting's name for inline JSON, else the file's path: for error messages
};

// Throws config_error: "<name>: not valid JSON: ...", "<name>: <why the file is unreadable>",
// "<path>: not valid JSON: ...".
json_setting load_json_setting(std::string_view name, const std::string& value, const json_limits& limits);

}  // namespace wharf
