// wharf-api: the HTTP face of wharf for producers and web clients (see the README's API section).
// Stateless: run as many as you like behind a load balancer; keys, jobs and usage are in
// PostgreSQL, the queues and the rate limit's counters in Redis.
#include "service.hpp"

#include "wharf/admin/process_endpoints.hpp"
#include "wharf/admin/systemd.hpp"
#include "wharf/core/config.hpp"
#include "wharf/core/log.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/http/server.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/queue/keys.hpp"
#include "wharf/redis/connection.hpp"
#include "wharf/redis/endpoint.hpp"
#include "uploads.hpp"
#include "wharf/storage/registry.hpp"
#include "jobs/storing.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace {

namespace asio = boost::asio;
using wharf::config;

// After SIGTERM, requests under way get at most this long to be answered.
constexpr std::chrono::seconds drain_limit{10};
using wharf::config_error;

const std::vector<wharf::option_spec>& specs() {
    static const std::vector<wharf::option_spec> all = [] {
        std::vector<wharf::option_spec> v{
            {"listen", "where to serve the API: host:port", false, "127.0.0.1:8080"},
            {"redis_url", "Redis URL", false, "redis://127.0.0.1:6379/0"},
            {"database_url", "PostgreSQL URL (libpq)"},
            {"api_queues", "the queues POST /api/v1/jobs takes jobs for (comma-separated); pipelines have their own route",
             false, "download"},
            {"url_expiry", "lifetime of presigned download URLs when the request names none", false, "1h"},
            {"max_body", "largest request body read (bytes); larger ones get 413 before they are read", false, "1048576"},
            {"pg_connections", "PostgreSQL connections (each on a thread of its own: libpq blocks)", false, "8"},
            {"key_cache", "how long a checked API key is trusted before it is read again (a revocation takes at most "
                          "this long)", false, "10s"},
            {"max_upload", "the largest file one upload (POST /api/v1/uploads) may carry", false, "5GiB"},
            wharf::admin::listen_option,
            {"log_level", "trace, debug, info, warn, error", false, "info"},
            // storage_providers, scratch_dir (where uploads are spooled while they arrive), the
            // SMTP settings of "provider full" alerts: the workers' storing settings.
            {"log_format", "text or json", false, "text"},
        };
        for (auto& spec : wharf::worker::storage_job_option_specs())
            if (spec.key != "local_source_roots") v.push_back(std::move(spec));
        return v;
    }();
    return all;
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (std::string_view{argv[i]} == "--help") {
            std::fputs(("usage: wharf-api --database-url URL [options]\n" + config::usage(specs())).c_str(), stdout);
            return 0;
        }
    std::optional<config> cfg;
    wharf::redis::endpoint redis_at;
    wharf::admin::listen_address api_at, admin_at;
    wharf::api::settings options;
    std::string database_url;
    std::size_t max_body = 1 << 20;
    std::chrono::milliseconds key_cache{10'000};
    std::size_t pg_connections = 8;
    try {
        cfg = config::load(argc, argv, specs());
        if (!cfg->positional().empty()) throw config_error("unexpected argument '" + cfg->positional().front() + "'");
        wharf::init_logging(cfg->get_or("log_level", "info"), cfg->get_or("log_format", "text"));
        std::string why;
        const auto redis_url = cfg->get_or("redis_url", "redis://127.0.0.1:6379/0");
        auto ep = wharf::redis::parse_url(redis_url, &why);
        if (!ep) throw config_error("--redis-url '" + wharf::redact(redis_url) + "': " + why);
        redis_at = std::move(*ep);
        database_url = cfg->required("database_url");
        const auto listen_text = cfg->get_or("listen", "127.0.0.1:8080");
        auto listen = wharf::admin::parse_listen_address(listen_text, &why);
        if (!listen || !listen->enabled) throw config_error("--listen '" + listen_text + "': " + (why.empty() ? "must be host:port" : why));
        api_at = *listen;
        admin_at = wharf::admin::listen_setting(*cfg);
        options.queues.clear();
        const auto queues = cfg->get_or("api_queues", "download");
        for (std::size_t at = 0; at <= queues.size();) {
            auto comma = queues.find(',', at);
            if (comma == std::string::npos) comma = queues.size();
            const std::string q = queues.substr(at, comma - at);
            if (!q.empty()) {
                if (!wharf::queue::valid_queue_name(q)) throw config_error("--api-queues: '" + q + "' is not a queue name");
                options.queues.push_back(q);
            }
            at = comma + 1;
        }
        options.default_url_expiry = std::chrono::duration_cast<std::chrono::seconds>(cfg->duration("url_expiry", std::chrono::hours(1)));
        if (options.default_url_expiry < std::chrono::seconds(60) || options.default_url_expiry > std::chrono::hours(24 * 7))
            throw config_error("--url-expiry must be from 1m to 7d");
        const auto body = cfg->integer("max_body", 1 << 20);
        if (body < 1024 || body > (64 << 20)) throw config_error("--max-body must be from 1024 to 67108864");
        max_body = static_cast<std::size_t>(body);
        key_cache = cfg->duration("key_cache", key_cache);
        const auto conns = cfg->integer("pg_connections", 8);
        if (conns < 1 || conns > 64) throw config_error("--pg-connections must be from 1 to 64");
        pg_connections = static_cast<std::size_t>(conns);
        if (key_cache > std::chrono::minutes(5)) throw config_error("--key-cache must be at most 5m");
        const auto upload_text = cfg->get_or("max_upload", "5GiB");
        const auto upload = wharf::storage::parse_byte_size(upload_text);
        if (!upload || *upload < 1) throw config_error("--max-upload '" + upload_text + "': a size such as 5GiB");
        options.max_upload = *upload;
    } catch (const config_error& e) {
        std::fprintf(stderr, "wharf-api: %s\n", e.what());
        return 2;
    }

    try {
        asio::io_context io{1};
        // Everything the handlers use lives on this strand; the server's is nested in it.
        const auto strand = asio::make_strand(io.get_executor());
        wharf::pg::pool db{io.get_executor(), database_url, wharf::pg::pool_options{.threads = pg_connections}};
        wharf::redis::connection redis{strand, redis_at, wharf::redis::connection_options{.client_name = "wharf-api"}};
        std::shared_ptr<wharf::worker::storage_services> storage;
        try {
            storage = wharf::worker::make_storage_services(*cfg, io.get_executor(), db);
        } catch (const config_error& e) {
            std::fprintf(stderr, "wharf-api: %s\n", e.what());
            return 2;
        }
        if (const auto swept = wharf::api::sweep_spool_files(storage->options().scratch_dir, std::chrono::hours(1)))
            spdlog::info("removed {} spool file(s) of uploads cut short by an earlier wharf-api", swept);
        wharf::api::service service{db, redis, *storage, options,
                                    wharf::api::authenticator{db, std::chrono::duration_cast<std::chrono::seconds>(key_cache)}};
        std::unique_ptr<wharf::http::server> server;
        std::unique_ptr<wharf::admin::process_endpoints> admin;
        const auto finish = [&]() -> asio::awaitable<void> {
            asio::steady_timer wait{strand};
            const auto until = std::chrono::steady_clock::now() + drain_limit;
            while (server && server->connections() > 0 && std::chrono::steady_clock::now() < until) {
                wait.expires_after(std::chrono::milliseconds(20));
                co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            redis.close();
            if (admin) admin->stop();
            db.shutdown();
        };
        asio::signal_set signals{io, SIGINT, SIGTERM};
        bool stopping = false;
        const auto stop = [&] {
            if (stopping) return;
            stopping = true;
            if (admin) admin->set_draining();
            wharf::admin::notify_stopping();
            // No new connection is taken; requests under way get their answers (for at most
            // drain_limit), then the clients close and the process exits.
            if (server) server->stop();
            signals.cancel();
            asio::co_spawn(strand, finish(), asio::detached);
        };
        try {
            server = std::make_unique<wharf::http::server>(
                strand,
                wharf::http::server_options{.host = api_at.host,
                                            .port = api_at.port,
                                            .max_body = max_body,
                                            .server_name = "api",
                                            .stream_body = wharf::api::is_upload,
                                            .max_streamed_body = wharf::api::max_upload_body(options)},
                [&service](wharf::http::server_request& req) { return wharf::api::handle(service, req); });
            if (admin_at.enabled)
                admin = std::make_unique<wharf::admin::process_endpoints>(
                    io.get_executor(),
                    wharf::admin::process_endpoints_options{.listen = admin_at,
                                                            .process_name = "wharf-api",
                                                            .redis = redis_at,
                                                            .database_url = database_url},
                    [&] { asio::post(io, stop); });
        } catch (const boost::system::system_error& e) {
            std::fprintf(stderr, "wharf-api: listening: %s\n", e.code().message().c_str());
            return 2;
        }
        server->start();
        spdlog::info("wharf-api listening on http://{} (queues for POST /api/v1/jobs: {})",
                     wharf::admin::listen_address{true, api_at.host, server->port()}.to_string(),
                     fmt::format("{}", fmt::join(options.queues, ",")));
        signals.async_wait([&](boost::system::error_code ec, int sig) {
            if (ec) return;
            spdlog::info("received {}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            stop();
        });
        wharf::admin::watchdog watchdog{io.get_executor()};
        wharf::admin::notify_ready("serving");
        io.run();
    } catch (const std::exception& e) {
        spdlog::critical("wharf-api failed: {}", wharf::redact(e.what()));
        return 1;
    }
    return 0;
}
