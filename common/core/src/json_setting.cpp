// See wharf/core/json_setting.hpp.
#include "wharf/core/json_setting.hpp"

#include "wharf/core/config.hpp"

namespace wharf {

json_setting load_json_setting(std::string_view name, const std::string& value, const json_limits& limits) {
    const auto first = value.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && (value[first] == '{' || value[first] == '[')) {
        auto parsed = parse_json(value, limits);
        if (!parsed) throw config_error(std::string(name) + ": not valid JSON: " + parsed.error);
        return {std::move(parsed.value), std::string(name)};
    }
    auto parsed = parse_json_file(value, limits);
    if (parsed.why == parsed_json::failure::unreadable) throw config_error(std::string(name) + ": " + parsed.error);
    if (!parsed) throw config_error(value + ": not valid JSON: " + parsed.error);
    return {std::move(parsed.value), value};
}

}  // namespace wharf
