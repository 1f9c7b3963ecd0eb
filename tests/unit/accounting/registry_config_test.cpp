// Parsing of the storage_providers configuration and of byte sizes.
#include "wharf/storage/registry.hpp"

#include "wharf/core/config.hpp"

#include <boost/asio/io_context.hpp>
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

// The s3 factory's settings that are checked before any network call: part_checksum names and
// the profiles that refuse x-amz-checksum-* (R2, GCS).
TEST(registry_config, s3_part_checksum_setting) {
    boost::asio::io_context io;
    const auto factories = s::default_provider_factories();
    auto build = [&](const char* json) {
        const auto configs = s::parse_provider_configs(nlohmann::json::parse(json), "f.json");
        return factories.at("s3")(configs.at(0), io.get_executor());
    };
    EXPECT_NO_THROW(build(R"([{"name":"a","kind":"s3","bucket":"b","endpoint":"http://127.0.0.1:1","part_checksum":"crc32c"}])"));
    EXPECT_NO_THROW(build(R"([{"name":"a","kind":"s3","profile":"r2","bucket":"b","endpoint":"https://x.r2.example","part_checksum":"md5"}])"));
    auto refuse = [&](const char* json, const char* expected) {
        try {
            build(json);
            ADD_FAILURE() << "accepted " << json;
        } catch (const wharf::config_error& e) {
            EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
        }
    };
    refuse(R"([{"name":"a","kind":"s3","bucket":"b","endpoint":"http://127.0.0.1:1","part_checksum":"sha1"}])",
           "unknown part_checksum \"sha1\"");
    refuse(R"([{"name":"a","kind":"s3","profile":"gcs","bucket":"b","part_checksum":"crc32"}])",
           "takes no x-amz-checksum-* headers");
}

TEST(registry_config, s3_part_size_and_multipart_threshold_are_sizes_and_parts_stay_within_s3_limits) {
    boost::asio::io_context io;
    auto build = [&](const char* extra) {
        const auto configs = s::parse_provider_configs(
            nlohmann::json::parse(std::string(R"([{"name":"s3","kind":"s3","bucket":"b","endpoint":"http://127.0.0.1:9")") +
                                  extra + "}]"),
            "test");
        return s::registry(configs, io.get_executor());
    };
    EXPECT_NO_THROW(build(R"(,"multipart_threshold":"8MiB","part_size":"5MiB")"));
    EXPECT_NO_THROW(build(R"(,"multipart_threshold":67108864,"part_size":"5GiB")"));
    auto refuse = [&](const char* extra, const char* expected) {
        try {
            build(extra);
            ADD_FAILURE() << "accepted " << extra;
        } catch (const wharf::config_error& e) {
            EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
        }
    };
    refuse(R"(,"part_size":"4MiB")", "\"part_size\" must be 5MiB to 5GiB");
    refuse(R"(,"part_size":"6GiB")", "\"part_size\" must be 5MiB to 5GiB");
    refuse(R"(,"multipart_threshold":"lots")", "\"multipart_threshold\" must be a size");
    refuse(R"(,"multipart_threshold":true)", "\"multipart_threshold\" must be a size");
}
