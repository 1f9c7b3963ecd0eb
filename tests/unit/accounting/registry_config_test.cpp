// Parsing of the storage_providers configuration and of byte sizes.
#include "wharf/storage/registry.hpp"

#include "wharf/core/config.hpp"

#include <gtest/gtest.h>

namespace s = wharf::storage;

TEST(registry_config, byte_sizes) {
    EXPECT_EQ(s::parse_byte_size("5GiB"), 5ull << 30);
    EXPECT_EQ(s::parse_byte_size("500 MB"), 500'000'000ull);
    EXPECT_EQ(s::parse_byte_size("1073741824"), 1ull << 30);
    EXPECT_EQ(s::parse_byte_size(" 2 kib "), 2048ull);
    EXPECT_EQ(s::parse_byte_size("5 parsecs"), std::nullopt);
    EXPECT_EQ(s::parse_byte_size("GiB"), std::nullopt);
    EXPECT_EQ(s::parse_byte_size("-1"), std::nullopt);
    EXPECT_EQ(s::parse_byte_size("99999999999 PiB"), std::nullopt);  // overflow
}

TEST(registry_config, nothing_configured_is_one_local_provider_under_dot_data) {
    const auto cfg = wharf::config::load(std::vector<std::string>{}, {}, std::vector{s::storage_providers_option()});
    const auto providers = s::provider_configs_from(cfg);
    ASSERT_EQ(providers.size(), 1u);
    EXPECT_EQ(providers[0].name, "local");
    EXPECT_EQ(providers[0].kind, "local");
    EXPECT_EQ(providers[0].limit_bytes, 5ull << 30);
    EXPECT_EQ(providers[0].settings.at("root"), "./.data/storage");
}

TEST(registry_config, several_providers_with_limits) {
    const auto providers = s::parse_provider_configs(nlohmann::json::parse(R"({"providers":[
        {"name":"local","kind":"local","root":"/srv/wharf","limit":"10GiB"},
        {"name":"s3-main","kind":"s3","bucket":"media","limit":1000},
        {"name":"az","kind":"azure","container":"c"}]})"),
                                                     "test");
    ASSERT_EQ(providers.size(), 3u);
    EXPECT_EQ(providers[0].limit_bytes, 10ull << 30);
    EXPECT_EQ(providers[1].limit_bytes, 1000u);
    EXPECT_EQ(providers[1].settings.at("bucket"), "media");
    EXPECT_EQ(providers[2].limit_bytes, 5ull << 30);
}

TEST(registry_config, inline_json_from_the_environment) {
    const auto cfg = wharf::config::load(std::vector<std::string>{},
                                         {{"WHARF_STORAGE_PROVIDERS", R"([{"name":"x","kind":"local","root":"/tmp/x"}])"}},
                                         std::vector{s::storage_providers_option()});
    const auto providers = s::provider_configs_from(cfg);
    ASSERT_EQ(providers.size(), 1u);
    EXPECT_EQ(providers[0].name, "x");
}

TEST(registry_config, mistakes_are_one_clear_line) {
    auto refuse = [](const char* json, const char* expected) {
        try {
            s::parse_provider_configs(nlohmann::json::parse(json), "f.json");
            ADD_FAILURE() << "accepted " << json;
        } catch (const wharf::config_error& e) {
            EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
        }
    };
    refuse(R"([{"name":"a","kind":"ftp"}])", "unknown kind \"ftp\"");
    refuse(R"([{"name":"a","kind":"local"},{"name":"a","kind":"local"}])", "used twice");
    refuse(R"([{"name":"A B","kind":"local"}])", "must match");
    refuse(R"([{"kind":"local"}])", "needs a \"name\"");
    refuse(R"([{"name":"a","kind":"local","limit":"lots"}])", "\"limit\" must be a positive size");
    refuse(R"([{"name":"a","kind":"local","limit":0}])", "\"limit\" must be a positive size");
    refuse(R"([])", "no providers configured");
    refuse(R"({"provider":[]})", "expected {\"providers\"");
}
