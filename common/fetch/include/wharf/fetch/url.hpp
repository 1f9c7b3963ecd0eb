// URLs a download may fetch (pure): validation before any I/O, the redacted form that is the only
// one logs, errors and rows ever see, and the file name a URL suggests.
#pragma once

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wharf::fetch {

inline constexpr std::size_t max_url_bytes = 8 * 1024;

struct checked_url {
    std::string text;      // what libcurl gets: the URL as given, fragment removed
    std::string redacted;  // scheme://host[:port]/path: no userinfo, no query, no fragment
    std::string scheme;    // "http" or "https" (lower case)
    std::string host;      // as written (IPv6 without brackets); a name may be a numeric IPv4 spelling
    std::uint16_t port = 0;  // explicit, else 80 or 443
    std::string path;      // percent-encoded, "/" when empty
};

struct url_refusal {
    std::string message;  // never quotes the URL
};

// An absolute http:// or https:// URL (RFC 3986, Boost.URL) of at most max_url_bytes with a host
// name of letters, digits, '.', '-' and '_' (no percent-encoding), or an IPv4/IPv6 literal, and a
// port of 1 to 65535. Every other scheme, a missing host, an IPvFuture literal and text libcurl
// could read differently (a path that does not start with '/') are refused.
boost::system::result<checked_url, url_refusal> check_url(std::string_view text);

// A URL as logs and rows may show it: userinfo, query and fragment removed
// ("https://u:p@h:8443/a/b?sig=x#f" -> "https://h:8443/a/b"). Works on any text: what follows the
// first '?' or '#' is dropped, and so is the userinfo of a "scheme://" authority.
std::string redact_url(std::string_view text);

// The last path segment, percent-decoded and made safe as the last segment of a storage key:
// only [A-Za-z0-9._-] kept (others become '_'), no leading '.', at most 128 bytes; "download"
// when nothing is left.
std::string file_name_of(const checked_url& url);

}  // namespace wharf::fetch
