// URL validation (Boost.URL), redaction and the file name a URL suggests.
#include "wharf/fetch/url.hpp"

#include "wharf/core/redact.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace wharf::fetch {
namespace {

namespace urls = boost::urls;

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

bool host_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

}  // namespace

boost::system::result<checked_url, url_refusal> check_url(std::string_view text) {
    if (text.empty()) return url_refusal{"the URL is empty"};
    if (text.size() > max_url_bytes) return url_refusal{"the URL is longer than 8 KiB"};
    const auto parsed = urls::parse_uri(text);
    if (!parsed) return url_refusal{"not an absolute URL (RFC 3986)"};
    const urls::url_view u = *parsed;

    checked_url out;
    out.scheme = lower(u.scheme());
    if (out.scheme != "http" && out.scheme != "https") return url_refusal{"only http and https URLs may be fetched"};
    if (!u.has_authority()) return url_refusal{"the URL has no host"};
    switch (u.host_type()) {
        case urls::host_type::name: {
            const auto host = std::string_view{u.encoded_host()};
            if (host.empty()) return url_refusal{"the URL has no host"};
            if (host.size() > 253 || !std::all_of(host.begin(), host.end(), host_name_char))
                return url_refusal{"the host name must be letters, digits, '.', '-' and '_' (IDNs in punycode)"};
            out.host = std::string{host};
            break;
        }
        case urls::host_type::ipv4:
        case urls::host_type::ipv6: out.host = std::string{u.encoded_host_address()}; break;
        default: return url_refusal{"the URL's host is not a name or an IP address"};
    }
    out.port = out.scheme == "https" ? 443 : 80;
    if (u.has_port() && !u.port().empty()) {
        const std::string_view port = u.port();
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535 || port.size() > 5)
            return url_refusal{"the URL's port must be 1 to 65535"};
        out.port = static_cast<std::uint16_t>(value);
    }
    const std::string_view path = u.encoded_path();
    // After an authority the path is empty or absolute; anything else is a parse that another
    // parser (libcurl's) could read as a different host.
    if (!path.empty() && path.front() != '/') return url_refusal{"the URL's path must start with '/'"};
    out.path = path.empty() ? "/" : std::string{path};

    std::string_view given = text;
    if (u.has_fragment()) given = given.substr(0, given.find('#'));
    out.text = std::string{given};
    out.redacted = out.scheme + "://" + std::string{u.encoded_host_and_port()} + out.path;
    return out;
}

std::string redact_url(std::string_view text) { return url_without_secrets(text); }

std::string file_name_of(const checked_url& url) {
    constexpr std::size_t max_name = 128;
    std::string_view segment = url.path;
    segment = segment.substr(segment.rfind('/') + 1);  // the path starts with '/'
    std::string decoded;
    if (auto pct = urls::make_pct_string_view(segment)) decoded = pct->decode();
    std::string name;
    for (char c : decoded) {
        if (name.size() == max_name) break;
        const bool safe = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
        if (name.empty() && c == '.') continue;  // no hidden files, no "." or ".."
        name += safe ? c : '_';
    }
    return name.empty() ? "download" : name;
}

}  // namespace wharf::fetch
