// Removal of secrets from text that is about to be logged or printed.
#include "wharf/core/redact.hpp"

#include "wharf/core/json.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace wharf {
namespace {

bool iequals_at(std::string_view text, std::size_t at, std::string_view word) {
    if (at + word.size() > text.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(text[at + i])) != std::tolower(static_cast<unsigned char>(word[i])))
            return false;
    return true;
}

// Masks the value after "name=" up to the next separator.
std::string mask_params(std::string_view text) {
    static constexpr std::array<std::string_view, 6> names = {
        "password=", "sslpassword=", "x-amz-signature=", "x-amz-credential=", "sig=", "x-amz-security-token="};
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        bool masked = false;
        const bool at_boundary = i == 0 || text[i - 1] == '?' || text[i - 1] == '&' || text[i - 1] == ' ';
        if (at_boundary) {
            for (auto name : names) {
                if (!iequals_at(text, i, name)) continue;
                out.append(text.substr(i, name.size()));
                out.append("***");
                i += name.size();
                while (i < text.size() && text[i] != '&' && text[i] != ' ') ++i;
                masked = true;
                break;
            }
        }
        if (!masked) out.push_back(text[i++]);
    }
    return out;
}

bool is_http_url(const std::string& s) {
    return iequals_at(s, 0, "http://") || iequals_at(s, 0, "https://");
}

// Depth-first over a payload already bounded by parse_json's depth limit.
void strip_urls(nlohmann::json& value) {
    if (value.is_string()) {
        auto& s = value.get_ref<std::string&>();
        if (is_http_url(s)) s = url_without_secrets(s);
    } else if (value.is_structured()) {
        for (auto& child : value) strip_urls(child);
    }
}

}  // namespace

std::string url_without_secrets(std::string_view url) {
    url = url.substr(0, std::min(url.find('?'), url.find('#')));
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return std::string{url};
    const auto authority = scheme_end + 3;
    const auto authority_end = std::min(url.find('/', authority), url.size());
    const auto at = url.substr(authority, authority_end - authority).rfind('@');
    if (at == std::string_view::npos) return std::string{url};
    std::string out{url.substr(0, authority)};
    out.append(url.substr(authority + at + 1));
    return out;
}

std::string redact_payload_urls(std::string_view json) {
    if (json.find("://") == std::string_view::npos) return std::string{json};
    auto parsed = parse_json(json);
    if (!parsed) return std::string{json};
    strip_urls(parsed.value);
    return dump_json(parsed.value);
}

std::string redact(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    // userinfo of every "scheme://user:pass@" occurrence
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto scheme_end = text.find("://", pos);
        if (scheme_end == std::string_view::npos) break;
        const auto auth_start = scheme_end + 3;
        auto auth_end = auth_start;
        while (auth_end < text.size() && text[auth_end] != '/' && text[auth_end] != ' ' && text[auth_end] != '@')
            ++auth_end;
        out.append(text.substr(pos, auth_start - pos));
        if (auth_end < text.size() && text[auth_end] == '@') {
            const auto userinfo = text.substr(auth_start, auth_end - auth_start);
            const auto colon = userinfo.find(':');
            if (colon != std::string_view::npos) {
                out.append(userinfo.substr(0, colon));
                out.append(":***");
            } else {
                out.append(userinfo);
            }
            pos = auth_end;
        } else {
            pos = auth_start;
        }
    }
    out.append(text.substr(pos));
    return mask_params(out);
}

}  // namespace wharf
