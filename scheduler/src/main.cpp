// wharf-scheduler: fires the schedules recorded in PostgreSQL (common/schedule) onto their
// queues. Any number of replicas may run: each slot fires once (store.hpp says how).
#include "default_schedules.hpp"
#include "fire_loop.hpp"
#include "schedule_gauges.hpp"

#include "wharf/admin/process_endpoints.hpp"
#include "wharf/admin/systemd.hpp"
#include "wharf/core/config.hpp"
#include "wharf/core/json.hpp"
#include "wharf/core/log.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/redis/connection.hpp"
#include "wharf/redis/endpoint.hpp"
#include "wharf/schedule/store.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace {

namespace asio = boost::asio;
namespace ws = wharf::schedule;
using wharf::config;
using wharf::config_error;
using wharf::option_spec;

constexpr option_spec specs[] = {
    {"redis_url", "Redis URL: redis://[user:password@]host:port/db, rediss://..., unix:///path", false,
     "redis://127.0.0.1:6379/0"},
    {"database_url", "PostgreSQL URL (libpq), e.g. postgresql://user@host:5432/wharf"},
    {"schedules", "schedules to apply at start (a JSON array; see the README), in addition to those already recorded"},
    {"tick", "how often every schedule is planned", false, "1s"},
    {"default_schedules", "record the built-in maintenance schedules when absent (see the README): true or false", false,
     "true"},
    wharf::admin::listen_option,
    {"log_level", "trace, debug, info, warn, error", false, "info"},
    {"log_format", "text or json", false, "text"},
};

struct settings {
    wharf::redis::endpoint redis;
    std::string database_url;
    std::vector<ws::definition> schedules;
    bool apply = false;
    bool defaults = true;
    wharf::scheduler::loop_options loop;
    wharf::admin::listen_address admin_listen;
};

settings load(int argc, const char* const* argv) {
    const auto cfg = config::load(argc, argv, specs);
    if (!cfg.positional().empty()) throw config_error("unexpected argument '" + cfg.positional().front() + "'");
    wharf::init_logging(cfg.get_or("log_level", "info"), cfg.get_or("log_format", "text"));
    settings s;
    std::string why;
    const auto redis_url = cfg.get_or("redis_url", "redis://127.0.0.1:6379/0");
    auto endpoint = wharf::redis::parse_url(redis_url, &why);
    if (!endpoint) throw config_error("--redis-url '" + wharf::redact(redis_url) + "': " + why);
    s.redis = std::move(*endpoint);
    s.database_url = cfg.required("database_url");
    if (auto text = cfg.get("schedules")) {
        try {
            s.schedules = ws::parse_definitions(*text);
        } catch (const ws::definition_error& e) {
            throw config_error(std::string{"--schedules: "} + e.what());
        }
        s.apply = true;
    }
    s.defaults = cfg.enabled("default_schedules");
    s.admin_listen = wharf::admin::listen_setting(cfg);
    s.loop.tick = cfg.duration("tick", s.loop.tick);
    if (s.loop.tick < std::chrono::milliseconds(100) || s.loop.tick > std::chrono::minutes(1))
        throw config_error("--tick must be from 100ms to 1m");
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    settings s;
    try {
        for (int i = 1; i < argc; ++i) {
            if (std::string_view{argv[i]} == "--help") {
                std::fputs(("usage: wharf-scheduler --database-url URL [options]\n" + config::usage(specs)).c_str(), stdout);
                return 0;
            }
        }
        s = load(argc, argv);
    } catch (const config_error& e) {
        std::fprintf(stderr, "wharf-scheduler: %s\n", e.what());
        return 2;
    }
    int status = 0;
    try {
        asio::io_context io{1};
        wharf::pg::pool db{io.get_executor(), s.database_url};
        wharf::redis::connection redis{asio::make_strand(io.get_executor()), s.redis,
                                       wharf::redis::connection_options{.client_name = "wharf-scheduler"}};
        asio::signal_set signals{io, SIGINT, SIGTERM};
        asio::cancellation_signal stop;
        std::unique_ptr<wharf::admin::process_endpoints> admin_endpoints;
        // SIGTERM, SIGINT and POST /admin/drain: not ready at once, then stop (a fire in progress
        // is safe to cut: its row is pending and any replica completes it).
        const auto begin_shutdown = [&] {
            if (admin_endpoints) admin_endpoints->set_draining();
            wharf::admin::notify_stopping();
            asio::post(io, [&stop] { stop.emit(asio::cancellation_type::terminal); });
        };
        if (s.admin_listen.enabled) {
            try {
                admin_endpoints = std::make_unique<wharf::admin::process_endpoints>(
                    io.get_executor(),
                    wharf::admin::process_endpoints_options{.listen = s.admin_listen,
                                                            .process_name = "wharf-scheduler",
                                                            .redis = s.redis,
                                                            .database_url = s.database_url},
                    [&begin_shutdown] { begin_shutdown(); },
                    [](wharf::redis::connection&, wharf::pg::pool& db) {
                        return wharf::scheduler::refresh_schedule_gauges(db);
                    });
            } catch (const boost::system::system_error& e) {
                // Another process serves there already (two on one host need a port each), or
                // the address is not this host's.
                std::fprintf(stderr, "wharf-scheduler: --admin-listen %s: %s\n", s.admin_listen.to_string().c_str(),
                             e.code().message().c_str());
                return 2;
            }
        }
        wharf::admin::watchdog watchdog{io.get_executor()};
        auto run = [&]() -> asio::awaitable<void> {
            if (s.apply) {
                auto write = [&s](pqxx::connection& c) { return ws::apply_definitions(c, s.schedules, false); };
                const auto summary = co_await db.run(std::move(write));
                spdlog::info("scheduler: schedules applied: {} added, {} changed, {} unchanged", summary.added.size(),
                             summary.changed.size(), summary.unchanged.size());
            }
            if (s.defaults) {
                auto add = [](pqxx::connection& c) { return ws::add_missing(c, wharf::scheduler::default_schedules()); };
                const auto added = co_await db.run(std::move(add));
                for (const auto& name : added) spdlog::info("scheduler: recorded the built-in schedule {}", name);
            }
            spdlog::info("scheduler: running (tick {} ms)", s.loop.tick.count());
            co_await wharf::scheduler::run_fire_loop(db, redis, s.loop);
        };
        signals.async_wait([&](boost::system::error_code ec, int sig) {
            if (ec) return;
            spdlog::info("received {}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            begin_shutdown();
        });
        asio::co_spawn(io, run(), asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) {
                           if (e) {
                               try {
                                   std::rethrow_exception(e);
                               } catch (const boost::system::system_error& ex) {
                                   if (ex.code() != asio::error::operation_aborted) {
                                       status = 1;
                                       spdlog::critical("scheduler failed: {}", wharf::redact(ex.what()));
                                   }
                               } catch (const std::exception& ex) {
                                   status = 1;
                                   spdlog::critical("scheduler failed: {}", wharf::redact(ex.what()));
                               }
                           }
                           signals.cancel();
                           if (admin_endpoints) admin_endpoints->stop();
                           redis.close();
                           db.shutdown();
                       }));
        wharf::admin::notify_ready("running");
        io.run();
    } catch (const std::exception& e) {
        spdlog::critical("scheduler failed: {}", wharf::redact(e.what()));
        return 1;
    }
    return status;
}
