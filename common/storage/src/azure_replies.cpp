// Azure Blob reply parsing (see azure_replies.hpp).
#include "wharf/storage/azure_replies.hpp"

#include "wharf/storage/error.hpp"
#include "wharf/storage/s3/xml.hpp"
#include "wharf/storage/sha256.hpp"

#include <charconv>
#include <ctime>

namespace wharf::storage::azure {
namespace xml = wharf::storage::s3::xml;

std::optional<std::uint64_t> parse_size(std::string_view text) noexcept {
    std::uint64_t v = 0;
    // from_chars takes no sign and no spaces, and reports overflow: what stoull let through
    // ("-1" wrapped to 2^64-1) or threw as std::invalid_argument ("", "abc") is refused here.
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return v;
}

std::optional<std::uint64_t> content_range_total(std::string_view header) noexcept {
    const auto slash = header.rfind('/');
    if (slash == std::string_view::npos) return std::nullopt;
    return parse_size(header.substr(slash + 1));
}

std::chrono::system_clock::time_point parse_http_date(std::string_view text) {
    std::tm tm{};
    const std::string s(text);
    if (!::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) return {};
    const std::time_t t = ::timegm(&tm);
    // system_clock's 64-bit nanoseconds span 1677-2262: a date outside would overflow
    // from_time_t's multiplication (found by tests/fuzz/azure_xml_fuzz).
    constexpr auto limit =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max()).count();
    if (t < -limit || t > limit) return {};
    return std::chrono::system_clock::from_time_t(t);
}

std::string strip_quotes(std::string_view v) {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return std::string(v);
}

list_blobs_page parse_list_blobs(std::string_view body) {
    list_blobs_page page;
    for (const auto blob : xml::elements(body, "Blob")) {
        object_info o;
        o.key = xml::text(blob, "Name").value_or("");
        if (o.key.empty()) throw error(errc::permanent, "azure List Blobs: reply has a blob without a name");
        const auto length = xml::text(blob, "Content-Length").value_or("0");
        const auto size = parse_size(length);
        if (!size)
            throw error(errc::permanent, "azure List Blobs: blob '" + o.key + "' has a malformed Content-Length '" +
                                             length.substr(0, 64) + "'");
        o.size = *size;
        o.etag = strip_quotes(xml::text(blob, "Etag").value_or(""));
        if (auto lm = xml::text(blob, "Last-Modified")) o.last_modified = parse_http_date(*lm);
        if (auto sha = xml::text(blob, "sha256"); sha && is_sha256_hex(*sha)) o.sha256 = *sha;
        page.blobs.push_back(std::move(o));
    }
    page.next_marker = xml::text(body, "NextMarker");
    if (page.next_marker && page.next_marker->empty()) page.next_marker.reset();
    return page;
}

}  // namespace wharf::storage::azure
