#include "wharf/core/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

using namespace std::chrono_literals;

namespace {
const wharf::option_spec specs[] = {
    {"redis_url", "Redis URL", false, "redis://127.0.0.1:6379/0"},
    {"database_url", "PostgreSQL URL"},
    {"grace", "shutdown grace", false, "30s"},
    {"diagnostics", "enable noop/sleep", true},
};

wharf::config load(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    return wharf::config::load(args, env, specs);
}
}  // namespace

TEST(config, defaults_env_file_flags_in_that_order) {
    EXPECT_EQ(load({}).get("redis_url"), "redis://127.0.0.1:6379/0");
    EXPECT_EQ(load({}, {{"WHARF_REDIS_URL", "redis://env:1"}}).get("redis_url"), "redis://env:1");

    const std::string file = testing::TempDir() + "/wharf-config-test.json";
    std::ofstream(file) << R"({"redis_url": "redis://file:2", "grace": "5s"})";
    auto from_file = load({"--config", file}, {{"WHARF_REDIS_URL", "redis://env:1"}});
    EXPECT_EQ(from_file.get("redis_url"), "redis://file:2");
    EXPECT_EQ(from_file.duration("grace", 1s), 5s);

    auto from_flag = load({"--config", file, "--redis-url=redis://flag:3"}, {{"WHARF_REDIS_URL", "redis://env:1"}});
    EXPECT_EQ(from_flag.get("redis_url"), "redis://flag:3");
    std::remove(file.c_str());
}

TEST(config, switches_and_positionals) {
    auto cfg = load({"enqueue", "--diagnostics", "noop", "--grace", "2m", "--", "--not-a-flag"});
    EXPECT_TRUE(cfg.enabled("diagnostics"));
    EXPECT_EQ(cfg.duration("grace", 1s), 2min);
    EXPECT_EQ(cfg.positional(), (std::vector<std::string>{"enqueue", "noop", "--not-a-flag"}));
}

TEST(config, bad_input_gets_one_clear_error) {
    EXPECT_THROW(load({"--nope"}), wharf::config_error);
    EXPECT_THROW(load({"--grace"}), wharf::config_error);
    EXPECT_THROW(load({"--grace", "soon"}).duration("grace", 1s), wharf::config_error);
    EXPECT_THROW(load({"--config", "/nonexistent/wharf.json"}), wharf::config_error);
    try {
        load({}).required("database_url");
        FAIL();
    } catch (const wharf::config_error& e) {
        EXPECT_STREQ(e.what(), "missing setting --database-url (or WHARF_DATABASE_URL)");
    }
}

// A config file is outside input too: bounded in size and depth, and every failure a config_error.
TEST(config, hostile_config_files_are_refused_with_a_config_error) {
    const std::string file = testing::TempDir() + "/wharf-config-hostile.json";
    const auto refused = [&](const std::string& text) -> std::string {
        std::ofstream(file, std::ios::trunc) << text;
        try {
            load({"--config", file});
        } catch (const wharf::config_error& e) {
            return e.what();
        } catch (const std::exception& e) {
            return std::string{"wrong exception: "} + e.what();
        }
        return "accepted";
    };
    EXPECT_NE(refused(std::string(100'000, '[') + std::string(100'000, ']')).find("nested deeper than"),
              std::string::npos);
    EXPECT_NE(refused(R"({"grace": 1e999999})").find("number overflow"), std::string::npos);
    EXPECT_NE(refused(R"({"redis_url": "x"} trailing)").find("not valid JSON"), std::string::npos);
    EXPECT_NE(refused("{\"redis_url\": \"" + std::string(5 * 1024 * 1024, 'x') + "\"}").find("larger than"),
              std::string::npos);
    EXPECT_NE(refused(R"({"grace": null})").find("must be a string"), std::string::npos);
    // /dev/zero is read only up to the size limit, not for ever.
    try {
        load({"--config", "/dev/zero"});
        ADD_FAILURE() << "accepted /dev/zero";
    } catch (const wharf::config_error& e) {
        EXPECT_NE(std::string{e.what()}.find("larger than"), std::string::npos) << e.what();
    }
    std::remove(file.c_str());
}

// A JSON-valued setting may be written in the file as the JSON itself; it reaches the program as text.
TEST(config, objects_in_a_config_file_are_passed_on_as_json_text) {
    const std::string file = testing::TempDir() + "/wharf-config-object.json";
    std::ofstream(file) << R"({"database_url": {"providers": [{"name": "a", "kind": "local"}]}, "grace": 5})";
    auto cfg = load({"--config", file});
    EXPECT_EQ(cfg.get("database_url"), R"({"providers":[{"kind":"local","name":"a"}]})");
    EXPECT_EQ(cfg.get("grace"), "5");
    std::remove(file.c_str());
}
