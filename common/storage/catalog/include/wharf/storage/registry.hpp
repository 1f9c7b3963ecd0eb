// The configured storage providers: parsed from the `storage_providers` setting of the one config
// loader and built into live provider objects.
//
// `storage_providers` (WHARF_STORAGE_PROVIDERS, --storage-providers, or the config file key) is
// either inline JSON or the path of a JSON file holding
//   {"providers": [
//     {"name": "local", "kind": "local", "root": "./.data/storage", "limit": "5GiB"},
//     {"name": "s3-main", "kind": "s3", "endpoint": "https://s3.eu-west-1.amazonaws.com",
//      "region": "eu-west-1", "bucket": "media", "limit": 536870912000, ...},
//     {"name": "azure", "kind": "azure", "account": "...", "container": "media", ...}]}
// (a bare array works too). Every entry has a unique name ([a-z0-9][a-z0-9_-]*, at most 63), a
// kind (local | s3 | azure) and an optional limit in bytes or with a unit (KiB..TiB, KB..TB;
// default 5 GiB); the other fields belong to the backend's factory. Nothing configured means one
// local provider named "local" under ./.data/storage, so wharf runs without a cloud account.
#pragma once

#include "wharf/storage/placement.hpp"
#include "wharf/storage/provider.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf {
class config;
struct option_spec;
}  // namespace wharf

namespace wharf::storage {

struct provider_config {
    std::string name;
    std::string kind;  // local | s3 | azure
    std::uint64_t limit_bytes = default_limit_bytes;
    nlohmann::json settings;  // the whole entry, for the backend's factory
};

inline constexpr std::string_view default_local_root = "./.data/storage";

// "5GiB", "500 MB", "1073741824" -> bytes; nullopt when not a size (or it overflows).
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

// Throws wharf::config_error naming `origin` and the bad entry.
std::vector<provider_config> parse_provider_configs(const nlohmann::json& doc, std::string_view origin);
std::vector<provider_config> provider_configs_from(const wharf::config& cfg);
// The spec of `storage_providers`, for programs' option lists.
wharf::option_spec storage_providers_option();

using provider_factory =
    std::function<std::unique_ptr<provider>(const provider_config&, boost::asio::any_io_executor)>;
using provider_factories = std::map<std::string, provider_factory, std::less<>>;

// The backends linked into this build, by kind.
provider_factories default_provider_factories();

class registry {
public:
    // Builds every configured provider; throws config_error for an unknown kind or a backend that
    // refuses its settings.
    registry(std::vector<provider_config> configs, boost::asio::any_io_executor executor,
             const provider_factories& factories = default_provider_factories());
    // For tests and embedding: providers built by the caller.
    registry(std::vector<provider_config> configs, std::vector<std::unique_ptr<provider>> providers);

    provider* find(std::string_view name) const noexcept;
    // Throws storage::error(errc::not_found) naming the configured providers.
    provider& at(std::string_view name) const;
    const provider_config* config(std::string_view name) const noexcept;
    const std::vector<provider_config>& configs() const noexcept { return configs_; }
    std::vector<std::string> names() const;

private:
    std::vector<provider_config> configs_;
    std::vector<std::unique_ptr<provider>> providers_;  // same order as configs_
};

}  // namespace wharf::storage
