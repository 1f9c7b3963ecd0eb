// SharedKey and service SAS signing (see azure_auth.hpp).
#include "wharf/storage/azure_auth.hpp"

#include "wharf/storage/sha256.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

namespace wharf::storage::azure {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// Trim, and fold runs of whitespace into one space (the "unfold" rule of canonical headers).
std::string canonical_value(std::string_view v) {
    std::string out;
    bool space = false;
    for (const char c : v) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = !out.empty();
            continue;
        }
        if (space) out.push_back(' ');
        space = false;
        out.push_back(c);
    }
    return out;
}

std::string header_value(const shared_key_request& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
        if (lower(k) == name) return v;
    return {};
}

std::string format_time(std::chrono::system_clock::time_point t, const char* format) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, format, &tm);
    return buf;
}

}  // namespace

std::string shared_key_string_to_sign(std::string_view account, const shared_key_request& r) {
    std::string content_length = header_value(r, "content-length");
    if (content_length == "0") content_length.clear();
    std::string s = r.method + "\n";
    for (std::string_view name : {"content-encoding", "content-language"}) s += header_value(r, name) + "\n";
    s += content_length + "\n";
    for (std::string_view name : {"content-md5", "content-type"}) s += header_value(r, name) + "\n";
    s += "\n";  // Date: empty, x-ms-date is always sent
    for (std::string_view name : {"if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range"})
        s += header_value(r, name) + "\n";

    std::map<std::string, std::string> ms;
    for (const auto& [k, v] : r.headers) {
        std::string name = lower(k);
        if (name.starts_with("x-ms-")) ms[std::move(name)] = canonical_value(v);
    }
    for (const auto& [k, v] : ms) s += k + ":" + v + "\n";

    s += "/";
    s += account;
    s += r.path;
    std::map<std::string, std::vector<std::string>> query;
    for (const auto& [k, v] : r.query) query[lower(k)].push_back(v);
    for (auto& [k, values] : query) {
        std::sort(values.begin(), values.end());
        s += "\n" + k + ":";
        for (std::size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + values[i];
    }
    return s;
}

std::string shared_key_authorization(std::string_view account, std::string_view key, const shared_key_request& r) {
    return "SharedKey " + std::string(account) + ":" + base64_encode(hmac_sha256(key, shared_key_string_to_sign(account, r)));
}

std::string http_date(std::chrono::system_clock::time_point t) { return format_time(t, "%a, %d %b %Y %H:%M:%S GMT"); }
std::string iso8601(std::chrono::system_clock::time_point t) { return format_time(t, "%Y-%m-%dT%H:%M:%SZ"); }

std::string sas_string_to_sign(const blob_sas& sas) {
    // Fields in order: sp, st, se, canonicalized resource, si, sip, spr, sv, sr, snapshot time,
    // encryption scope, rscc, rscd, rsce, rscl, rsct.
    return sas.permissions + "\n" + iso8601(sas.start) + "\n" + iso8601(sas.expiry) + "\n" + "/blob/" + sas.account + "/" +
           sas.container + "/" + sas.blob + "\n" + "\n" + "\n" + sas.protocol + "\n" + sas.version + "\n" + "b\n" + "\n" +
           "\n" + "\n" + "\n" + "\n" + "\n";
}

std::string sas_query(const blob_sas& sas, std::string_view key) {
    const std::string sig = base64_encode(hmac_sha256(key, sas_string_to_sign(sas)));
    return "sv=" + uri_encode(sas.version, false) + "&st=" + uri_encode(iso8601(sas.start), false) +
           "&se=" + uri_encode(iso8601(sas.expiry), false) + "&sr=b&sp=" + uri_encode(sas.permissions, false) +
           "&spr=" + uri_encode(sas.protocol, false) + "&sig=" + uri_encode(sig, false);
}

std::string uri_encode(std::string_view text, bool keep_slash) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(digits[c >> 4]);
            out.push_back(digits[c & 0xf]);
        }
    }
    return out;
}

}  // namespace wharf::storage::azure
