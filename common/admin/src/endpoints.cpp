#include "wharf/admin/endpoints.hpp"

#include "wharf/core/redact.hpp"
#include "wharf/http/server.hpp"
#include "wharf/metrics/process.hpp"
#include "wharf/metrics/registry.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <atomic>

namespace wharf::admin {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

struct check_result {
    bool done = false, ok = false;
    std::string error;
    double seconds = 0;
};

// The checks' results as they come in; shared with the checks, which may outlive the request
// that gave up on them (each is bounded by its own client's deadlines).
struct check_round {
    std::vector<check_result> results;
    std::size_t pending = 0;
    asio::steady_timer all_done;
    check_round(asio::any_io_executor ex, std::size_t n) : results(n), pending(n), all_done(std::move(ex)) {}
};

http::server_response text(unsigned status, std::string body, std::string route) {
    http::server_response r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(body);
    r.route = std::move(route);
    return r;
}

}  // namespace

struct endpoints::impl : std::enable_shared_from_this<impl> {
    asio::strand<asio::any_io_executor> strand;
    endpoints_options options;
    std::vector<check> checks;
    std::function<void()> drain;
    std::function<awaitable<void>()> refresh;
    std::atomic<bool> draining{false};
    std::unique_ptr<http::server> server;

    impl(asio::any_io_executor ex, endpoints_options o, std::vector<check> c, std::function<void()> d,
         std::function<awaitable<void>()> r)
        : strand(asio::make_strand(ex)), options(std::move(o)), checks(std::move(c)), drain(std::move(d)),
          refresh(std::move(r)) {}

    awaitable<http::server_response> handle(http::server_request& req) {
        auto self = shared_from_this();
        const bool get = req.method == "GET" || req.method == "HEAD";
        if (req.path == "/livez") {
            if (!get) co_return not_allowed("GET", "livez");
            co_return text(200, "ok\n", "livez");
        }
        if (req.path == "/readyz") {
            if (!get) co_return not_allowed("GET", "readyz");
            co_return co_await readyz(req.query_param("verbose").has_value());
        }
        if (req.path == "/metrics") {
            if (!get) co_return not_allowed("GET", "metrics");
            co_return co_await metrics();
        }
        if (req.path == "/admin/drain") {
            if (req.method != "POST") co_return not_allowed("POST", "drain");
            const bool already = draining.exchange(true);
            if (!already) {
                spdlog::info("drain requested on the admin endpoint (request {})", req.request_id);
                if (drain) drain();
            }
            http::server_response r;
            r.status = 202;
            r.body = nlohmann::json{{"draining", true}, {"already", already}}.dump();
            r.route = "drain";
            co_return r;
        }
        auto r = http::json_error(404, "not_found", "no such endpoint; try /livez, /readyz, /metrics, /admin/drain");
        co_return r;
    }

    static http::server_response not_allowed(std::string allow, std::string route) {
        auto r = http::json_error(405, "method_not_allowed", "use " + allow);
        r.headers.emplace_back("Allow", std::move(allow));
        r.route = std::move(route);
        return r;
    }

    awaitable<void> run_check(std::shared_ptr<check_round> round, std::size_t i) {
        const auto began = std::chrono::steady_clock::now();
        auto& out = round->results[i];
        try {
            auto probe = checks[i].probe();
            co_await std::move(probe);
            out.ok = true;
        } catch (const std::exception& e) {
            out.error = redact(e.what());
        }
        out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
        out.done = true;
        if (--round->pending == 0) round->all_done.cancel();
    }

    awaitable<http::server_response> readyz(bool verbose) {
        auto round = std::make_shared<check_round>(strand, checks.size());
        for (std::size_t i = 0; i < checks.size(); ++i)
            asio::co_spawn(strand, run_check(round, i), asio::detached);
        if (round->pending > 0) {
            round->all_done.expires_after(options.check_timeout);
            co_await round->all_done.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        const bool is_draining = draining.load();
        bool ready = !is_draining;
        nlohmann::json list = nlohmann::json::array();
        std::string failing;
        for (std::size_t i = 0; i < checks.size(); ++i) {
            const auto& r = round->results[i];
            nlohmann::json item{{"name", checks[i].name}, {"ok", r.done && r.ok}};
            if (!r.done) item["error"] = "no answer within " + std::to_string(options.check_timeout.count()) + " ms";
            else if (!r.ok) item["error"] = r.error;
            else item["seconds"] = r.seconds;
            if (!(r.done && r.ok)) {
                ready = false;
                failing += (failing.empty() ? "" : ", ") + checks[i].name;
            }
            list.push_back(std::move(item));
        }
        if (verbose) {
            http::server_response r;
            r.status = ready ? 200 : 503;
            r.body = nlohmann::json{{"ready", ready},
                                    {"draining", is_draining},
                                    {"process", options.process_name},
                                    {"checks", std::move(list)}}
                         .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                     "\n";
            r.route = "readyz";
            co_return r;
        }
        if (ready) co_return text(200, "ok\n", "readyz");
        co_return text(503, is_draining ? "draining\n" : "not ready: " + failing + "\n", "readyz");
    }

    awaitable<http::server_response> metrics() {
        if (refresh) {
            // Bounded like a check: a slow Redis must not hold a scrape past Prometheus's timeout.
            auto done = std::make_shared<std::pair<bool, asio::steady_timer>>(false, asio::steady_timer{strand});
            asio::co_spawn(strand, refresh(), [done](std::exception_ptr e) {
                if (e) {
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::exception& ex) {
                        spdlog::warn("refreshing the metrics failed: {}", redact(ex.what()));
                    }
                }
                done->first = true;
                done->second.cancel();
            });
            if (!done->first) {
                done->second.expires_after(options.check_timeout);
                co_await done->second.async_wait(asio::as_tuple(asio::use_awaitable));
            }
        }
        http::server_response r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = metrics::default_registry().render();
        r.route = "metrics";
        co_return r;
    }
};

endpoints::endpoints(asio::any_io_executor executor, endpoints_options options, std::vector<check> checks,
                     std::function<void()> drain, std::function<awaitable<void>()> refresh)
    : impl_(std::make_shared<impl>(executor, std::move(options), std::move(checks), std::move(drain),
                                   std::move(refresh))) {
    metrics::register_process_metrics();
    http::server_options so;
    so.host = impl_->options.listen.host;
    so.port = impl_->options.listen.port;
    so.server_name = "admin";
    so.max_body = 4 << 10;
    so.max_connections = 64;
    std::weak_ptr<impl> weak = impl_;
    // The server's handler hops onto the endpoints' strand, where the checks' clients live.
    auto strand = impl_->strand;
    impl_->server = std::make_unique<http::server>(
        executor, std::move(so), [weak, strand](http::server_request& req) -> awaitable<http::server_response> {
            auto self = weak.lock();
            if (!self) co_return http::json_error(503, "stopping", "the process is stopping");
            auto handled = asio::co_spawn(strand, self->handle(req), asio::use_awaitable);
            co_return co_await std::move(handled);
        });
    impl_->server->start();
    spdlog::info("admin endpoints on http://{} (/livez /readyz /metrics /admin/drain)",
                 listen_address{true, impl_->options.listen.host, impl_->server->port()}.to_string());
}

endpoints::~endpoints() { stop(); }

std::uint16_t endpoints::port() const noexcept { return impl_->server->port(); }

void endpoints::set_draining() { impl_->draining = true; }

void endpoints::stop() { impl_->server->stop(); }

}  // namespace wharf::admin
