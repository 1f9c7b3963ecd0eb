#include "wharf/storage/azure_connection_string.hpp"

#include <algorithm>
#include <cctype>
#include <map>

namespace wharf::storage::azure {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

bool printable(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

// Azurite's well-known development account.
constexpr std::string_view dev_account = "devstoreaccount1";
constexpr std::string_view dev_key =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

}  // namespace

std::optional<connection_settings> parse_connection_string(std::string_view text, std::string* why) {
    const auto fail = [&](std::string reason) -> std::optional<connection_settings> {
        if (why) *why = "Azure connection string: " + std::move(reason);
        return std::nullopt;
    };
    if (text.size() > max_connection_string_bytes)
        return fail("longer than " + std::to_string(max_connection_string_bytes) + " bytes");
    std::map<std::string, std::string> fields;
    while (!text.empty()) {
        const auto semi = text.find(';');
        const std::string_view part = trim(text.substr(0, semi));
        text = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
        if (part.empty()) continue;
        const auto eq = part.find('=');
        if (eq == std::string_view::npos || eq == 0) return fail("expected Name=value parts separated by ';'");
        const std::string name = lower(trim(part.substr(0, eq)));
        const std::string_view value = trim(part.substr(eq + 1));
        if (!printable(name)) return fail("a part's name is not printable ASCII");
        if (fields.contains(name)) return fail("'" + name + "' is given twice");
        fields.emplace(name, std::string(value));
    }
    if (fields.empty()) return fail("empty");
    if (auto dev = fields.find("usedevelopmentstorage"); dev != fields.end()) {
        if (lower(dev->second) != "true") return fail("UseDevelopmentStorage must be true");
        return connection_settings{std::string(dev_account), std::string(dev_key),
                                   "http://127.0.0.1:10000/" + std::string(dev_account)};
    }
    if (fields.contains("sharedaccesssignature") && !fields.contains("accountkey"))
        return fail("a SAS connection string cannot sign requests: give AccountName and AccountKey");
    connection_settings s;
    const auto take = [&](const char* name) -> std::string {
        auto it = fields.find(name);
        return it == fields.end() ? std::string() : it->second;
    };
    s.account = take("accountname");
    s.key = take("accountkey");
    if (s.account.empty()) return fail("AccountName is missing");
    if (s.key.empty()) return fail("AccountKey is missing");
    if (!std::all_of(s.account.begin(), s.account.end(), [](unsigned char c) { return std::isalnum(c); }) ||
        s.account.size() > 64)
        return fail("AccountName must be letters and digits");
    if (!printable(s.key)) return fail("AccountKey is not base64 text");
    s.endpoint = take("blobendpoint");
    if (!s.endpoint.empty()) {
        if (!printable(s.endpoint) || !(s.endpoint.starts_with("http://") || s.endpoint.starts_with("https://")))
            return fail("BlobEndpoint must be an http:// or https:// URL");
        while (s.endpoint.ends_with("/")) s.endpoint.pop_back();
        const auto host = s.endpoint.find("://");
        if (host == std::string::npos || host + 3 >= s.endpoint.size() || s.endpoint[host + 3] == '/')
            return fail("BlobEndpoint has no host");
        return s;
    }
    std::string protocol = lower(take("defaultendpointsprotocol"));
    if (protocol.empty()) protocol = "https";
    if (protocol != "https" && protocol != "http") return fail("DefaultEndpointsProtocol must be https or http");
    std::string suffix = take("endpointsuffix");
    if (suffix.empty()) suffix = "core.windows.net";
    if (!printable(suffix) || suffix.find('/') != std::string::npos) return fail("EndpointSuffix is not a host suffix");
    s.endpoint = protocol + "://" + s.account + ".blob." + suffix;
    return s;
}

}  // namespace wharf::storage::azure
