// Azure Storage connection strings (AZURE_STORAGE_CONNECTION_STRING), as the Azure SDKs read
// them: "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=...;EndpointSuffix=core.windows.net",
// with an optional BlobEndpoint, or "UseDevelopmentStorage=true" for the emulator (Azurite on
// 127.0.0.1:10000). Keys are case-insensitive; a value may contain '=' (base64 keys end with it).
// SAS-only strings are refused: wharf signs with the account key. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wharf::storage::azure {

struct connection_settings {
    std::string account;
    std::string key;       // never logged
    std::string endpoint;  // "https://acme.blob.core.windows.net" or the BlobEndpoint given
};

inline constexpr std::size_t max_connection_string_bytes = 4096;

// nullopt and *why (which never quotes the key) when the string is not usable.
std::optional<connection_settings> parse_connection_string(std::string_view text, std::string* why);

}  // namespace wharf::storage::azure
