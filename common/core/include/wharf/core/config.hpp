// The one configuration loader: defaults < environment (WHARF_*) < config file < flags.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace wharf {

// A bad flag, file or value. Programs print what() as one line and exit with status 2.
class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// One setting a program accepts. The key is snake_case ("redis_url"); it is read from the
// environment as WHARF_REDIS_URL, from the config file as "redis_url", and from the command line
// as --redis-url VALUE (or --redis-url=VALUE; a switch takes no value).
struct option_spec {
    std::string_view key;
    std::string_view help;
    bool is_switch = false;
    std::string_view default_value = {};
};

class config {
public:
    // Reads the environment, then the JSON object in --config FILE (or WHARF_CONFIG), then the
    // flags. Unknown flags and unknown file keys are errors; arguments that are not flags are
    // kept in positional() in order. "--" ends flag parsing.
    static config load(int argc, const char* const* argv, std::span<const option_spec> specs);

    // The same from explicit sources (for tests): env maps WHARF_* names to values.
    static config load(std::span<const std::string> args, const std::map<std::string, std::string>& env,
                       std::span<const option_spec> specs);

    std::optional<std::string> get(std::string_view key) const;
    std::string get_or(std::string_view key, std::string_view fallback) const;
    // Throw config_error naming the key and the bad value.
    std::string required(std::string_view key) const;
    std::int64_t integer(std::string_view key, std::int64_t fallback) const;
    std::chrono::milliseconds duration(std::string_view key, std::chrono::milliseconds fallback) const;
    bool enabled(std::string_view key) const;  // a switch, or "true/1/yes/on"

    const std::vector<std::string>& positional() const noexcept { return positional_; }

    // "--help" text listing every spec with its env name and default.
    static std::string usage(std::span<const option_spec> specs);

private:
    std::map<std::string, std::string, std::less<>> values_;
    std::vector<std::string> positional_;
};

}  // namespace wharf
