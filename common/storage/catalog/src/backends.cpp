// The backends linked into this build, by kind, built from a provider's JSON settings. Each
// backend header is looked for, so the registry offers whichever of local / s3 / azure the
// storage library provides; a configured kind that is missing is refused by the registry.
//
// Secrets may be given inline ("secret_access_key") or, better, by naming an environment
// variable ("secret_access_key_env": "AWS_SECRET_ACCESS_KEY"); they are never logged.
#include "wharf/storage/registry.hpp"

#include "wharf/core/config.hpp"
#include "wharf/core/duration.hpp"
#include "wharf/storage/provider_metrics.hpp"

#if __has_include("wharf/storage/local.hpp")
#include "wharf/storage/local.hpp"
#define WHARF_HAVE_LOCAL 1
#endif
#if __has_include("wharf/storage/azure.hpp")
#include "wharf/storage/azure.hpp"
#include "wharf/storage/azure_connection_string.hpp"
#define WHARF_HAVE_AZURE 1
#endif
#if __has_include("wharf/storage/s3/provider.hpp")
#include "wharf/storage/s3/provider.hpp"
#define WHARF_HAVE_S3 1
#endif

#include <fmt/format.h>

#include <cstdlib>

namespace wharf::storage {
namespace {

std::optional<std::string> text(const provider_config& pc, const char* field) {
    const auto& s = pc.settings;
    if (!s.contains(field) || s[field].is_null()) return std::nullopt;
    if (!s[field].is_string())
        throw config_error(fmt::format("storage provider {}: \"{}\" must be a string", pc.name, field));
    return s[field].get<std::string>();
}

// "<field>" inline, or "<field>_env" naming an environment variable.
std::optional<std::string> secret(const provider_config& pc, const std::string& field) {
    if (auto inline_value = text(pc, field.c_str())) return inline_value;
    if (auto env = text(pc, (field + "_env").c_str())) {
        const char* v = std::getenv(env->c_str());
        if (!v) throw config_error(fmt::format("storage provider {}: environment variable {} ({}_env) is not set",
                                               pc.name, *env, field));
        return std::string(v);
    }
    return std::nullopt;
}

std::optional<bool> flag(const provider_config& pc, const char* field) {
    const auto& s = pc.settings;
    if (!s.contains(field) || s[field].is_null()) return std::nullopt;
    if (!s[field].is_boolean())
        throw config_error(fmt::format("storage provider {}: \"{}\" must be true or false", pc.name, field));
    return s[field].get<bool>();
}

// A size in bytes: a number, or a string with a unit ("16MiB").
[[maybe_unused]] std::optional<std::uint64_t> byte_size(const provider_config& pc, const char* field) {
    const auto& s = pc.settings;
    if (!s.contains(field) || s[field].is_null()) return std::nullopt;
    if (s[field].is_number_unsigned()) return s[field].get<std::uint64_t>();
    std::optional<std::uint64_t> parsed;
    if (s[field].is_string()) parsed = parse_byte_size(s[field].get<std::string>());
    if (!parsed)
        throw config_error(fmt::format("storage provider {}: \"{}\" must be a size in bytes or with a unit (16MiB)",
                                       pc.name, field));
    return parsed;
}

[[maybe_unused]] std::string required(const provider_config& pc, const char* field) {
    auto v = text(pc, field);
    if (!v || v->empty()) throw config_error(fmt::format("storage provider {}: \"{}\" is required", pc.name, field));
    return *v;
}

// The settings every network backend shares: "timeout" (per network step), "verify_tls", "ca_file".
template <class Config>
[[maybe_unused]] void transport_settings(const provider_config& pc, Config& c) {
    if (auto timeout = text(pc, "timeout")) {
        auto parsed = parse_duration(*timeout);
        if (!parsed || parsed->count() == 0)
            throw config_error(fmt::format("storage provider {}: bad timeout \"{}\"", pc.name, *timeout));
        c.timeout = *parsed;
    }
    if (auto verify = flag(pc, "verify_tls")) c.verify_tls = *verify;
    if (auto ca = text(pc, "ca_file")) c.ca_file = std::filesystem::path(*ca);
}

}  // namespace

provider_factories default_provider_factories() {
    provider_factories f;
#ifdef WHARF_HAVE_LOCAL
    // {"kind":"local", "root": "./.data/storage", "fsync": true, "cold_root": "/srv/cold"}
    f.emplace("local", [](const provider_config& pc, boost::asio::any_io_executor) -> std::unique_ptr<provider> {
        local_options options;
        if (auto fsync = flag(pc, "fsync")) options.fsync = *fsync;
        if (auto cold = text(pc, "cold_root"); cold && !cold->empty()) options.cold_root = std::filesystem::path(*cold);
        return std::make_unique<local_provider>(pc.name, text(pc, "root").value_or(std::string(default_local_root)),
                                                options);
    });
#endif
#ifdef WHARF_HAVE_S3
    // {"kind":"s3", "profile": "aws|minio|r2|gcs|generic", "endpoint", "region", "bucket",
    //  "path_style", "access_key_id"[_env], "secret_access_key"[_env], "session_token"[_env],
    //  "timeout": "30s", "verify_tls": true, "ca_file", "part_checksum": "crc32|crc32c|md5|none",
    //  "multipart_threshold": "64MiB", "part_size": "16MiB"}
    f.emplace("s3", [](const provider_config& pc, boost::asio::any_io_executor executor) -> std::unique_ptr<provider> {
        s3::config c;
        c.name = pc.name;
        if (auto profile = text(pc, "profile")) {
            auto parsed = s3::parse_profile(*profile);
            if (!parsed)
                throw config_error(fmt::format("storage provider {}: unknown profile \"{}\" (aws, minio, r2, gcs, generic)",
                                               pc.name, *profile));
            c.profile = *parsed;
        }
        c.endpoint = text(pc, "endpoint").value_or("");
        c.region = text(pc, "region").value_or("");
        c.bucket = required(pc, "bucket");
        c.path_style = flag(pc, "path_style");
        c.credentials.access_key = secret(pc, "access_key_id").value_or("");
        c.credentials.secret_key = secret(pc, "secret_access_key").value_or("");
        c.credentials.session_token = secret(pc, "session_token").value_or("");
        transport_settings(pc, c);
        if (auto sum = text(pc, "part_checksum")) {
            c.part_checksum = parse_checksum_kind(*sum);
            if (!c.part_checksum)
                throw config_error(fmt::format("storage provider {}: unknown part_checksum \"{}\" (crc32, crc32c, md5, none)",
                                               pc.name, *sum));
        }
        try {
            (void)s3::resolve_part_checksum(c);
        } catch (const error& e) {
            throw config_error(e.what());
        }
        if (auto threshold = byte_size(pc, "multipart_threshold")) c.multipart_threshold = *threshold;
        if (auto part = byte_size(pc, "part_size")) {
            if (*part < min_part_size || *part > max_part_size)
                throw config_error(fmt::format("storage provider {}: \"part_size\" must be 5MiB to 5GiB", pc.name));
            c.part_size = *part;
        }
        return s3::make_provider(std::move(executor), std::move(c));
    });
#endif
#ifdef WHARF_HAVE_AZURE
    // {"kind":"azure", "account", "account_key"[_env], "container", "endpoint", "timeout": "30s",
    //  "verify_tls": true, "ca_file"}, or "connection_string"[_env] (AZURE_STORAGE_CONNECTION_STRING)
    //  for account, key and endpoint; fields given beside it win.
    f.emplace("azure", [](const provider_config& pc, boost::asio::any_io_executor executor) -> std::unique_ptr<provider> {
        azure::config c;
        c.name = pc.name;
        if (auto cs = secret(pc, "connection_string")) {
            std::string why;
            auto parsed = azure::parse_connection_string(*cs, &why);
            if (!parsed) throw config_error(fmt::format("storage provider {}: {}", pc.name, why));
            c.account = parsed->account;
            c.key = parsed->key;
            c.endpoint = parsed->endpoint;
        }
        if (auto account = text(pc, "account")) c.account = *account;
        if (c.account.empty())
            throw config_error(fmt::format("storage provider {}: \"account\" (or connection_string) is required", pc.name));
        if (auto key = secret(pc, "account_key")) c.key = *key;
        if (c.key.empty())
            throw config_error(fmt::format(
                "storage provider {}: \"account_key\" (or account_key_env, or connection_string) is required", pc.name));
        c.container = required(pc, "container");
        if (auto endpoint = text(pc, "endpoint")) c.endpoint = *endpoint;
        transport_settings(pc, c);
        return azure::make_provider(std::move(executor), std::move(c));
    });
#endif
    // Every provider built from configuration is measured (provider_metrics.hpp).
    for (auto& [kind, make] : f)
        make = [inner = std::move(make)](const provider_config& pc, boost::asio::any_io_executor executor) {
            return with_metrics(inner(pc, std::move(executor)));
        };
    return f;
}

}  // namespace wharf::storage
