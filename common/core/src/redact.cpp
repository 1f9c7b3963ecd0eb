// Removal of secrets from text that is about to be logged or printed.
#include "wharf/core/redact.hpp"

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

}  // namespace

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
