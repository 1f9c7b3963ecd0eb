#include "wharf/admin/listen_address.hpp"

#include <boost/asio/ip/address.hpp>

#include <charconv>

namespace wharf::admin {

std::string listen_address::to_string() const {
    if (!enabled) return "off";
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<listen_address> parse_listen_address(std::string_view text, std::string* why) {
    const auto fail = [&](std::string reason) -> std::optional<listen_address> {
        if (why) *why = std::move(reason);
        return std::nullopt;
    };
    listen_address a;
    if (text == "off") {
        a.enabled = false;
        return a;
    }
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("expected host:port, :port or off");
    std::string_view host = text.substr(0, colon);
    const std::string_view port = text.substr(colon + 1);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value > 65535)
        return fail("the port must be a number from 0 to 65535");
    a.port = static_cast<std::uint16_t>(value);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    a.host = host.empty() ? "0.0.0.0" : std::string(host);
    boost::system::error_code bad;
    boost::asio::ip::make_address(a.host, bad);
    if (bad) return fail("the host must be an IP address (e.g. 127.0.0.1, 0.0.0.0, [::1])");
    return a;
}

listen_address listen_setting(const config& cfg) {
    const auto text = cfg.get_or("admin_listen", std::string(default_listen));
    std::string why;
    auto a = parse_listen_address(text, &why);
    if (!a) throw config_error("--admin-listen '" + text + "': " + why);
    return *a;
}

}  // namespace wharf::admin
