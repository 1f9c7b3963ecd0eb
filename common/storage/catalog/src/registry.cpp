// The provider registry and the parsing of `storage_providers`.
#include "wharf/storage/registry.hpp"

#include "wharf/core/config.hpp"
#include "wharf/core/json.hpp"
#include "wharf/core/json_setting.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace wharf::storage {
namespace {

bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > 63) return false;
    auto lower_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!lower_digit(name.front())) return false;
    for (char c : name)
        if (!lower_digit(c) && c != '-' && c != '_') return false;
    return true;
}

nlohmann::json default_config() {
    return nlohmann::json{{"providers", {{{"name", "local"}, {"kind", "local"}, {"root", default_local_root}}}}};
}

}  // namespace

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc{} || end == text.data()) return std::nullopt;
    std::string unit(end, text.data() + text.size());
    unit.erase(0, unit.find_first_not_of(' '));
    for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    static const std::array<std::pair<std::string_view, std::uint64_t>, 11> units{{
        {"", 1}, {"b", 1},
        {"kib", 1ull << 10}, {"mib", 1ull << 20}, {"gib", 1ull << 30}, {"tib", 1ull << 40},
        {"kb", 1'000ull}, {"mb", 1'000'000ull}, {"gb", 1'000'000'000ull}, {"tb", 1'000'000'000'000ull},
        {"pib", 1ull << 50},
    }};
    for (const auto& [name, factor] : units) {
        if (unit != name) continue;
        if (number > std::numeric_limits<std::uint64_t>::max() / factor) return std::nullopt;
        return number * factor;
    }
    return std::nullopt;
}

std::vector<provider_config> parse_provider_configs(const nlohmann::json& doc, std::string_view origin) {
    const nlohmann::json* list = &doc;
    if (doc.is_object()) {
        if (!doc.contains("providers")) throw config_error(fmt::format("{}: expected {{\"providers\": [...]}}", origin));
        list = &doc["providers"];
    }
    if (!list->is_array()) throw config_error(fmt::format("{}: \"providers\" must be an array", origin));
    std::vector<provider_config> out;
    std::set<std::string, std::less<>> seen;
    for (std::size_t i = 0; i < list->size(); ++i) {
        const auto& entry = (*list)[i];
        const auto where = fmt::format("{}: provider #{}", origin, i + 1);
        if (!entry.is_object()) throw config_error(where + " must be an object");
        provider_config pc;
        if (!entry.contains("name") || !entry["name"].is_string()) throw config_error(where + " needs a \"name\"");
        pc.name = entry["name"].get<std::string>();
        if (!valid_name(pc.name))
            throw config_error(fmt::format("{}: name \"{}\" must match [a-z0-9][a-z0-9_-]* (at most 63)", where, pc.name));
        if (!seen.insert(pc.name).second) throw config_error(fmt::format("{}: name \"{}\" is used twice", where, pc.name));
        if (!entry.contains("kind") || !entry["kind"].is_string())
            throw config_error(fmt::format("{} ({}) needs a \"kind\": local, s3 or azure", where, pc.name));
        pc.kind = entry["kind"].get<std::string>();
        if (pc.kind != "local" && pc.kind != "s3" && pc.kind != "azure")
            throw config_error(fmt::format("{} ({}): unknown kind \"{}\" (local, s3 or azure)", where, pc.name, pc.kind));
        if (entry.contains("limit")) {
            const auto& limit = entry["limit"];
            std::optional<std::uint64_t> bytes;
            if (limit.is_number_unsigned()) bytes = limit.get<std::uint64_t>();
            else if (limit.is_string()) bytes = parse_byte_size(limit.get<std::string>());
            if (!bytes || *bytes == 0 || *bytes > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                throw config_error(fmt::format("{} ({}): \"limit\" must be a positive size such as 5368709120 or \"5GiB\"",
                                               where, pc.name));
            pc.limit_bytes = *bytes;
        }
        pc.settings = entry;
        out.push_back(std::move(pc));
    }
    if (out.empty()) throw config_error(fmt::format("{}: no providers configured", origin));
    return out;
}

std::vector<provider_config> provider_configs_from(const wharf::config& cfg) {
    const auto value = cfg.get("storage_providers");
    if (!value || value->empty()) return parse_provider_configs(default_config(), "default storage configuration");
    // Provider lists are small: a few providers of a dozen settings each.
    constexpr json_limits limits{.max_bytes = 1024 * 1024, .max_depth = 16};
    const auto setting = load_json_setting("storage_providers", *value, limits);
    return parse_provider_configs(setting.value, setting.origin);
}

wharf::option_spec storage_providers_option() {
    return {"storage_providers",
            "storage providers: a JSON file, or inline JSON {\"providers\":[{\"name\",\"kind\":local|s3|azure,"
            "\"limit\",...}]} (default: local under ./.data/storage)"};
}

registry::registry(std::vector<provider_config> configs, boost::asio::any_io_executor executor,
                   const provider_factories& factories)
    : configs_(std::move(configs)) {
    for (const auto& pc : configs_) {
        auto it = factories.find(pc.kind);
        if (it == factories.end())
            throw config_error(fmt::format("storage provider {}: kind \"{}\" is not built into this program", pc.name,
                                           pc.kind));
        try {
            providers_.push_back(it->second(pc, executor));
        } catch (const config_error&) {
            throw;
        } catch (const std::exception& e) {
            throw config_error(fmt::format("storage provider {}: {}", pc.name, e.what()));
        }
    }
}

registry::registry(std::vector<provider_config> configs, std::vector<std::unique_ptr<provider>> providers)
    : configs_(std::move(configs)), providers_(std::move(providers)) {
    if (configs_.size() != providers_.size()) throw std::invalid_argument("registry: one provider per config");
}

provider* registry::find(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < configs_.size(); ++i)
        if (configs_[i].name == name) return providers_[i].get();
    return nullptr;
}

provider& registry::at(std::string_view name) const {
    if (auto* p = find(name)) return *p;
    std::string names;
    for (const auto& pc : configs_) names += (names.empty() ? "" : ", ") + pc.name;
    throw error(errc::not_found, fmt::format("unknown storage provider \"{}\" (configured: {})", name, names));
}

const provider_config* registry::config(std::string_view name) const noexcept {
    for (const auto& pc : configs_)
        if (pc.name == name) return &pc;
    return nullptr;
}

std::vector<std::string> registry::names() const {
    std::vector<std::string> out;
    for (const auto& pc : configs_) out.push_back(pc.name);
    return out;
}

}  // namespace wharf::storage
