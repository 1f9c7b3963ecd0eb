// Layered configuration: defaults < environment < config file < flags.
#include "wharf/core/config.hpp"

#include "wharf/core/duration.hpp"
#include "wharf/core/json.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

extern char** environ;

namespace wharf {
namespace {

std::string env_name(std::string_view key) {
    std::string name = "WHARF_";
    for (char c : key) name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return name;
}

std::string flag_name(std::string_view key) {
    std::string name = "--";
    for (char c : key) name.push_back(c == '_' ? '-' : c);
    return name;
}

const option_spec* find_spec(std::span<const option_spec> specs, std::string_view key) {
    auto it = std::find_if(specs.begin(), specs.end(), [&](const option_spec& s) { return s.key == key; });
    return it == specs.end() ? nullptr : &*it;
}

std::string flag_to_key(std::string_view flag) {
    std::string key;
    for (char c : flag.substr(2)) key.push_back(c == '-' ? '_' : c);
    return key;
}

// A config file is an object of settings: small, and flat but for JSON-valued settings
// (storage_providers) that may nest a few levels.
constexpr json_limits config_file_limits{.max_bytes = 4 * 1024 * 1024, .max_depth = 16};

std::string json_scalar(const nlohmann::json& v, const std::string& key, const std::string& file) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_number()) return v.dump();
    // A JSON-valued setting (storage_providers) may be given as the JSON itself.
    if (v.is_object() || v.is_array()) return dump_json(v);
    throw config_error(file + ": \"" + key + "\" must be a string, number, boolean, object or array");
}

}  // namespace

config config::load(int argc, const char* const* argv, std::span<const option_spec> specs) {
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view entry{*e};
        if (!entry.starts_with("WHARF_")) continue;
        const auto eq = entry.find('=');
        if (eq == std::string_view::npos) continue;
        env.emplace(std::string{entry.substr(0, eq)}, std::string{entry.substr(eq + 1)});
    }
    return load(args, env, specs);
}

config config::load(std::span<const std::string> args, const std::map<std::string, std::string>& env,
                    std::span<const option_spec> specs) {
    config cfg;
    for (const auto& spec : specs)
        if (!spec.default_value.empty()) cfg.values_[std::string{spec.key}] = std::string{spec.default_value};
    for (const auto& spec : specs)
        if (auto it = env.find(env_name(spec.key)); it != env.end()) cfg.values_[std::string{spec.key}] = it->second;

    // First pass over the flags: split into key/value pairs and positionals.
    std::vector<std::pair<std::string, std::string>> flags;
    std::optional<std::string> config_file;
    if (auto it = env.find("WHARF_CONFIG"); it != env.end()) config_file = it->second;
    bool flags_done = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (flags_done || !arg.starts_with("--") || arg == "--") {
            if (arg == "--" && !flags_done) { flags_done = true; continue; }
            cfg.positional_.push_back(arg);
            continue;
        }
        std::string name = arg;
        std::optional<std::string> inline_value;
        if (auto eq = arg.find('='); eq != std::string::npos) {
            name = arg.substr(0, eq);
            inline_value = arg.substr(eq + 1);
        }
        const std::string key = flag_to_key(name);
        if (key == "config") {
            if (!inline_value && i + 1 >= args.size()) throw config_error("--config needs a file name");
            config_file = inline_value ? *inline_value : args[++i];
            continue;
        }
        const option_spec* spec = find_spec(specs, key);
        if (!spec) throw config_error("unknown flag " + name + " (see --help)");
        if (spec->is_switch) {
            flags.emplace_back(key, inline_value.value_or("true"));
        } else if (inline_value) {
            flags.emplace_back(key, *inline_value);
        } else {
            if (i + 1 >= args.size()) throw config_error(name + " needs a value");
            flags.emplace_back(key, args[++i]);
        }
    }

    if (config_file) {
        auto parsed = parse_json_file(*config_file, config_file_limits);
        if (parsed.why == parsed_json::failure::unreadable) throw config_error("config file: " + parsed.error);
        if (!parsed) throw config_error(*config_file + ": not valid JSON: " + parsed.error);
        const nlohmann::json& doc = parsed.value;
        if (!doc.is_object()) throw config_error(*config_file + ": must hold a JSON object");
        for (const auto& [key, value] : doc.items()) {
            if (!find_spec(specs, key)) throw config_error(*config_file + ": unknown setting \"" + key + "\"");
            cfg.values_[key] = json_scalar(value, key, *config_file);
        }
    }
    for (auto& [key, value] : flags) cfg.values_[key] = std::move(value);
    return cfg;
}

std::optional<std::string> config::get(std::string_view key) const {
    auto it = values_.find(key);
    if (it == values_.end()) return std::nullopt;
    return it->second;
}

std::string config::get_or(std::string_view key, std::string_view fallback) const {
    auto v = get(key);
    return v ? *v : std::string{fallback};
}

std::string config::required(std::string_view key) const {
    auto v = get(key);
    if (!v || v->empty())
        throw config_error("missing setting " + flag_name(key) + " (or " + env_name(key) + ")");
    return *v;
}

std::int64_t config::integer(std::string_view key, std::int64_t fallback) const {
    auto v = get(key);
    if (!v) return fallback;
    std::int64_t out = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
    if (ec != std::errc{} || ptr != v->data() + v->size())
        throw config_error(flag_name(key) + " must be a whole number (got '" + *v + "')");
    return out;
}

std::chrono::milliseconds config::duration(std::string_view key, std::chrono::milliseconds fallback) const {
    auto v = get(key);
    if (!v) return fallback;
    auto d = parse_duration(*v);
    if (!d) throw config_error(flag_name(key) + " must be a duration like 500ms, 30s or 5m (got '" + *v + "')");
    return *d;
}

bool config::enabled(std::string_view key) const {
    auto v = get(key);
    if (!v) return false;
    std::string s = *v;
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "0" || s == "no" || s == "off" || s.empty()) return false;
    throw config_error(flag_name(key) + " must be true or false (got '" + *v + "')");
}

std::string config::usage(std::span<const option_spec> specs) {
    std::ostringstream out;
    out << "  --config FILE  JSON file of settings (env WHARF_CONFIG)\n";
    for (const auto& s : specs) {
        std::string flag = flag_name(s.key) + (s.is_switch ? "" : " VALUE");
        out << "  " << flag << "  " << s.help << " (env " << env_name(s.key);
        if (!s.default_value.empty()) out << ", default " << s.default_value;
        out << ")\n";
    }
    return out.str();
}

}  // namespace wharf
