// Where a Redis server is: parsed from redis://, rediss:// and unix: URLs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::redis {

struct endpoint {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string unix_socket;  // non-empty for unix:///path/to/socket?db=N
    int db = 0;
    std::string username;  // ACL user; empty for the default user
    std::string password;  // never logged: see to_display_string()
    bool tls = false;       // rediss://
    bool tls_verify = true; // rediss://...?insecure=true turns verification off (tests only)
    std::string tls_ca_file;  // rediss://...?ca=/path/ca.pem
    std::string tls_sni;      // defaults to host

    // The URL with the password replaced by "***".
    std::string to_display_string() const;
};

// redis://[[user]:password@]host[:port][/db], rediss://... (TLS), unix:///path?db=N.
// Returns nullopt and fills `error` with one readable line on a malformed URL.
std::optional<endpoint> parse_url(std::string_view url, std::string* error = nullptr);

}  // namespace wharf::redis
