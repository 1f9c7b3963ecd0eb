// Helpers shared by the command groups: settings, help text, and opening connections.
#include "commands.hpp"

#include "wharf/core/redact.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/redis/connection.hpp"
#include "wharf/redis/endpoint.hpp"

#include <libpq-fe.h>

#include <cstdlib>
#include <iostream>
#include <map>

extern char** environ;

namespace wharfctl {
namespace {

std::string redis_display;
std::string database_display;

}  // namespace

wharf::config load_config(const std::vector<std::string>& args, std::span<const wharf::option_spec> specs) {
    static constexpr std::string_view from_environment[] = {"WHARF_REDIS_URL", "WHARF_DATABASE_URL", "WHARF_CONFIG",
                                                            "WHARF_MIGRATIONS_DIR"};
    std::map<std::string, std::string> env;
    for (auto name : from_environment)
        if (const char* v = std::getenv(std::string{name}.c_str())) env.emplace(std::string{name}, v);
    return wharf::config::load(args, env, specs);
}

void print_help(std::string_view usage, std::string_view description, std::span<const wharf::option_spec> specs) {
    std::cout << "usage: " << usage << "\n\n" << description << "\n\noptions:\n" << wharf::config::usage(specs);
}

void expect_positionals(const wharf::config& cfg, std::size_t n, std::string_view usage) {
    const auto& p = cfg.positional();
    if (p.size() < n) throw usage_error("missing argument; usage: " + std::string{usage});
    if (p.size() > n) throw usage_error("unexpected argument '" + p[n] + "'; usage: " + std::string{usage});
}

std::unique_ptr<wharf::redis::connection> open_redis(boost::asio::any_io_executor ex, const wharf::config& cfg) {
    const std::string url = cfg.get_or("redis_url", redis_url_option.default_value);
    std::string error;
    auto where = wharf::redis::parse_url(url, &error);
    if (!where) throw usage_error("--redis-url: " + wharf::redact(error));
    redis_display = where->to_display_string();
    wharf::redis::connection_options options;
    options.client_name = "wharfctl";
    options.connect_timeout = std::chrono::seconds(3);
    options.command_timeout = std::chrono::seconds(10);
    return std::make_unique<wharf::redis::connection>(std::move(ex), *where, options);
}

std::string database_url(const wharf::config& cfg) {
    const auto url = cfg.get("database_url");
    if (!url || url->empty()) throw usage_error("missing setting --database-url (or WHARF_DATABASE_URL)");
    // libpq's own parser, so a malformed URL is a usage error now rather than a connect failure.
    char* message = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(url->c_str(), &message);
    if (!parsed) {
        std::string why = message ? message : "malformed";
        if (message) PQfreemem(message);
        while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
        throw usage_error("--database-url: " + wharf::redact(why));
    }
    PQconninfoFree(parsed);
    database_display = wharf::redact(*url);
    return *url;
}

std::unique_ptr<wharf::pg::pool> open_database(boost::asio::any_io_executor ex, const wharf::config& cfg) {
    std::string url = database_url(cfg);
    wharf::pg::pool_options options;
    options.threads = 1;
    options.reconnect_attempts = 2;  // an operator waits at a prompt: fail fast
    return std::make_unique<wharf::pg::pool>(std::move(ex), std::move(url), options);
}

const std::string& last_redis_display() { return redis_display; }
const std::string& last_database_display() { return database_display; }

}  // namespace wharfctl
