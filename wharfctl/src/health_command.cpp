// health and drain: a wharf process's admin endpoints from the command line, for container
// healthchecks, preStop hooks and scripts -- the images need no curl.
#include "commands.hpp"

#include "wharf/http/client.hpp"

#include <iostream>

namespace wharfctl {
namespace {

constexpr std::string_view health_usage = "wharfctl health [--url http://127.0.0.1:9090/readyz] [--timeout 5s]";
constexpr wharf::option_spec health_specs[] = {
    {"url", "the endpoint to ask (/readyz, /livez, /readyz?verbose for each check, /metrics)", false,
     "http://127.0.0.1:9090/readyz"},
    {"timeout", "give up after this long", false, "5s"},
    help_option};

constexpr std::string_view drain_usage = "wharfctl drain [--url http://127.0.0.1:9090/admin/drain] [--timeout 5s]";
constexpr wharf::option_spec drain_specs[] = {
    {"url", "the process's drain endpoint", false, "http://127.0.0.1:9090/admin/drain"},
    {"timeout", "give up after this long", false, "5s"},
    help_option};

// One request to an admin endpoint: prints the body; 0 for 2xx, 1 for another status, 3 when
// nothing answers.
boost::asio::awaitable<int> ask(boost::asio::any_io_executor ex, const wharf::config& cfg, std::string_view fallback_url,
                                wharf::http::verb method) {
    const std::string url = cfg.get_or("url", std::string(fallback_url));
    const auto timeout = cfg.duration("timeout", std::chrono::seconds(5));
    if (timeout <= std::chrono::milliseconds(0)) throw usage_error("--timeout must be positive");
    wharf::http::request req;
    try {
        req.to = wharf::http::parse_endpoint(url);
    } catch (const std::invalid_argument& e) {
        throw usage_error("--url '" + url + "': " + e.what());
    }
    const auto path = url.find('/', url.find("://") + 3);
    req.target = path == std::string::npos ? "/" : url.substr(path);
    req.method = method;

    wharf::http::client client{ex};
    wharf::http::response res;
    try {
        res = co_await client.send(std::move(req), {.timeout = timeout, .body_limit = 64 << 20});
    } catch (const wharf::http::error& e) {
        std::cerr << "wharfctl: " << url << ": " << e.what() << "\n";
        co_return exit_unreachable;
    }
    std::cout << res.body;
    if (!res.body.empty() && res.body.back() != '\n') std::cout << "\n";
    if (res.ok()) co_return exit_ok;
    std::cerr << "wharfctl: " << url << " answered " << res.status << "\n";
    co_return exit_failed;
}

}  // namespace

boost::asio::awaitable<int> run_health(invocation inv) {
    const auto cfg = load_config(inv.args, health_specs);
    if (cfg.enabled("help")) {
        print_help(health_usage,
                   "Prints what the endpoint answers and exits 0 when it is 2xx, 1 when it answers with\n"
                   "another status (not ready, draining), 3 when nothing answers in time.",
                   health_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 0, health_usage);
    co_return co_await ask(inv.executor, cfg, "http://127.0.0.1:9090/readyz", wharf::http::verb::get);
}

boost::asio::awaitable<int> run_drain(invocation inv) {
    const auto cfg = load_config(inv.args, drain_specs);
    if (cfg.enabled("help")) {
        print_help(drain_usage,
                   "Asks the process to stop gracefully, as SIGTERM does: /readyz turns 503 at once, no new\n"
                   "jobs start, running ones get the grace period. For a Kubernetes preStop hook.",
                   drain_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 0, drain_usage);
    co_return co_await ask(inv.executor, cfg, "http://127.0.0.1:9090/admin/drain", wharf::http::verb::post);
}

}  // namespace wharfctl
