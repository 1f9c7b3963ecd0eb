// Download URLs: any text is accepted as an http(s) URL or refused with a reason; an accepted
// URL's redacted form and any text's redaction keep no userinfo, query or fragment; the file name
// it suggests is always one safe key segment.
#include "fuzz_support.hpp"

#include "wharf/fetch/url.hpp"

#include <algorithm>
#include <cctype>

namespace {

void check_redacted(std::string_view r) {
    WHARF_FUZZ_CHECK(r.find('?') == std::string_view::npos && r.find('#') == std::string_view::npos);
    const auto scheme = r.find("://");
    if (scheme == std::string_view::npos) return;
    const auto authority = r.substr(scheme + 3, r.find('/', scheme + 3) - std::min(r.size(), scheme + 3));
    WHARF_FUZZ_CHECK(authority.find('@') == std::string_view::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace fetch = wharf::fetch;
    const auto text = wharf::fuzz::text(data, size);
    check_redacted(fetch::redact_url(text));

    const auto url = fetch::check_url(text);
    if (!url) {
        WHARF_FUZZ_CHECK(!url.error().message.empty());
        return 0;
    }
    WHARF_FUZZ_CHECK(url->scheme == "http" || url->scheme == "https");
    WHARF_FUZZ_CHECK(url->port != 0 && !url->host.empty() && url->path.starts_with('/'));
    WHARF_FUZZ_CHECK(url->redacted.starts_with(url->scheme + "://"));
    WHARF_FUZZ_CHECK(url->text.size() <= fetch::max_url_bytes && url->text.find('#') == std::string::npos);
    check_redacted(url->redacted);
    const auto name = fetch::file_name_of(*url);
    WHARF_FUZZ_CHECK(!name.empty() && name.size() <= 128 && name.front() != '.');
    WHARF_FUZZ_CHECK(std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    }));
    return 0;
}
