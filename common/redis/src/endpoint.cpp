// Redis URL parsing (redis://, rediss://, unix://) and the password-free display form.
#include "wharf/redis/endpoint.hpp"

#include <charconv>
#include <limits>
#include <vector>

namespace wharf::redis {
namespace {

struct bad_url {
    std::string message;
};

[[noreturn]] void fail(std::string message) { throw bad_url{"bad Redis URL: " + std::move(message)}; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view in, std::string_view what) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        const int hi = i + 2 < in.size() ? hex_value(in[i + 1]) : -1;
        const int lo = hi >= 0 ? hex_value(in[i + 2]) : -1;
        if (lo < 0) fail("bad percent-escape in the " + std::string(what));
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

// Characters that may stand unescaped in a URL's userinfo or query value.
bool unreserved(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

std::string percent_encode(std::string_view in, std::string_view also_allowed = {}) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : in) {
        if (unreserved(c) || also_allowed.find(c) != std::string_view::npos) {
            out += c;
        } else {
            out += '%';
            out += hex[static_cast<unsigned char>(c) >> 4];
            out += hex[static_cast<unsigned char>(c) & 15];
        }
    }
    return out;
}

int parse_db(std::string_view text) {
    int db = -1;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), db);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || db < 0)
        fail("database must be a non-negative number, as in /0 or ?db=0");
    return db;
}

bool parse_bool(std::string_view name, std::string_view text) {
    if (text == "true" || text == "1" || text == "yes") return true;
    if (text == "false" || text == "0" || text == "no") return false;
    fail(std::string(name) + " must be true or false");
}

endpoint parse(std::string_view url) {
    endpoint ep;
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) fail("expected redis://, rediss:// or unix://");
    const auto scheme = url.substr(0, scheme_end);
    bool is_unix = false;
    if (scheme == "redis") {
    } else if (scheme == "rediss") {
        ep.tls = true;
    } else if (scheme == "unix" || scheme == "redis+unix") {
        is_unix = true;
    } else {
        fail("scheme must be redis://, rediss:// or unix://, not " + std::string(scheme) + "://");
    }
    std::string_view rest = url.substr(scheme_end + 3);
    if (rest.find('#') != std::string_view::npos) fail("fragments (#...) are not allowed");

    std::string_view query;
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);

    // userinfo: the part before the last '@' (a password may hold an unescaped '@').
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        const auto userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
        const auto colon = userinfo.find(':');
        if (colon == std::string_view::npos)
            fail("a user name needs a password (user:password@), and a password alone is written :password@");
        ep.username = percent_decode(userinfo.substr(0, colon), "user name");
        ep.password = percent_decode(userinfo.substr(colon + 1), "password");
        if (ep.password.empty()) fail("the password after ':' is empty");
    }

    if (is_unix) {
        if (!authority.empty() && authority != "localhost")
            fail("a unix:// URL takes no host: write unix:///path/to/redis.sock");
        if (path.size() < 2) fail("socket path is missing, as in unix:///run/redis/redis.sock");
        ep.unix_socket = percent_decode(path, "socket path");
        ep.host.clear();
        ep.port = 0;
    } else {
        // host: [v6] or name/v4, then an optional :port
        std::string_view port_text;
        bool has_port = false;
        if (!authority.empty() && authority.front() == '[') {
            const auto close = authority.find(']');
            if (close == std::string_view::npos) fail("unclosed '[' in an IPv6 host");
            ep.host = std::string(authority.substr(1, close - 1));
            const auto after = authority.substr(close + 1);
            if (!after.empty()) {
                if (after.front() != ':') fail("unexpected text after the IPv6 host");
                port_text = after.substr(1);
                has_port = true;
            }
        } else {
            const auto colon = authority.find(':');
            ep.host = std::string(authority.substr(0, colon));
            if (colon != std::string_view::npos) {
                port_text = authority.substr(colon + 1);
                has_port = true;
            }
        }
        if (ep.host.empty()) fail("host is missing, as in redis://127.0.0.1:6379/0");
        for (char c : ep.host)
            if (!(unreserved(c) || c == ':' || c == '%')) fail("host contains '" + std::string(1, c) + "'");
        if (has_port) {
            unsigned port = 0;
            auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
            if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
                port > 65535)
                fail("port must be 1-65535");
            ep.port = static_cast<std::uint16_t>(port);
        }
        if (!path.empty() && path != "/") ep.db = parse_db(path.substr(1));
    }

    bool tls_option = false;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        const auto name = pair.substr(0, eq);
        const auto value =
            percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), "query");
        if (name == "db") {
            ep.db = parse_db(value);
        } else if (name == "insecure") {
            ep.tls_verify = !parse_bool("insecure", eq == std::string_view::npos ? "true" : value);
            tls_option = true;
        } else if (name == "ca") {
            if (value.empty()) fail("ca= needs a file path");
            ep.tls_ca_file = value;
            tls_option = true;
        } else if (name == "sni") {
            if (value.empty()) fail("sni= needs a host name");
            ep.tls_sni = value;
            tls_option = true;
        } else {
            fail("unknown parameter '" + std::string(name) + "' (known: db, insecure, ca, sni)");
        }
    }
    if (tls_option && !ep.tls) fail("insecure=, ca= and sni= need a rediss:// URL");
    return ep;
}

}  // namespace

std::optional<endpoint> parse_url(std::string_view url, std::string* error) {
    try {
        return parse(url);
    } catch (const bad_url& e) {
        if (error) *error = e.message;
        return std::nullopt;
    }
}

std::string endpoint::to_display_string() const {
    std::string out;
    if (!unix_socket.empty()) {
        out = "unix://";
    } else {
        out = tls ? "rediss://" : "redis://";
    }
    if (!password.empty() || !username.empty()) {
        out += percent_encode(username);
        out += ":***@";
    }
    std::vector<std::string> query;
    if (!unix_socket.empty()) {
        out += percent_encode(unix_socket, "/");
        if (db != 0) query.push_back("db=" + std::to_string(db));
    } else {
        const bool v6 = host.find(':') != std::string::npos;
        out += v6 ? "[" + host + "]" : host;
        out += ':';
        out += std::to_string(port);
        if (db != 0) out += "/" + std::to_string(db);
    }
    if (tls && !tls_verify) query.push_back("insecure=true");
    if (!tls_ca_file.empty()) query.push_back("ca=" + percent_encode(tls_ca_file, "/"));
    if (!tls_sni.empty()) query.push_back("sni=" + percent_encode(tls_sni));
    for (std::size_t i = 0; i < query.size(); ++i) {
        out += i == 0 ? '?' : '&';
        out += query[i];
    }
    return out;
}

}  // namespace wharf::redis
