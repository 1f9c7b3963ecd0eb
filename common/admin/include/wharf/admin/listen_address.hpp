// --admin-listen: "127.0.0.1:9090", "0.0.0.0:9090", "[::1]:9090", ":9090" (all IPv4
// interfaces) or "off".
#pragma once

#include "wharf/core/config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::admin {

struct listen_address {
    bool enabled = true;
    std::string host = "127.0.0.1";
    std::uint16_t port = 9090;  // 0: any free port
    std::string to_string() const;
};

inline constexpr std::string_view default_listen = "127.0.0.1:9090";

// nullopt and *why set when the text is not one of the forms above.
std::optional<listen_address> parse_listen_address(std::string_view text, std::string* why);

// The admin_listen setting every process takes, and its value (config_error when bad).
inline constexpr option_spec listen_option{
    "admin_listen",
    "where to serve /livez, /readyz, /metrics and /admin/drain: host:port, :port (all IPv4 interfaces) or off", false,
    default_listen};
listen_address listen_setting(const config& cfg);

}  // namespace wharf::admin
