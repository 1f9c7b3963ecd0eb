// The wharf-worker program: settings, logging, signals, and the io_context threads.
#include "wharf/admin/process_endpoints.hpp"
#include "wharf/admin/queue_gauges.hpp"
#include "wharf/admin/systemd.hpp"
#include "wharf/core/config.hpp"
#include "wharf/core/log.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/queue/keys.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/storage/provider_metrics.hpp"
#include "wharf/worker/runtime.hpp"
#include "jobs/cleanup.hpp"
#include "jobs/download.hpp"
#include "jobs/backup.hpp"
#include "jobs/compress.hpp"
#include "jobs/lifecycle.hpp"
#include "jobs/migrate_objects.hpp"
#include "jobs/pipeline.hpp"
#include "jobs/publish.hpp"
#include "jobs/transcode.hpp"
#include "jobs/upload.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <optional>
#include <cstdio>
#include <thread>

namespace wharf::worker {

namespace asio = boost::asio;

namespace {

constexpr option_spec base_specs[] = {
    {"redis_url", "Redis URL: redis://[user:password@]host:port/db, rediss://..., unix:///path",
     false, "redis://127.0.0.1:6379/0"},
    {"database_url", "PostgreSQL URL (libpq), e.g. postgresql://user@host:5432/wharf"},
    {"queues", "queues to run and their concurrency, e.g. download=8,transcode=2"},
    {"diagnostics", "enable the diagnostic job types noop, sleep and fail", true},
    {"grace", "on SIGTERM/SIGINT, how long running jobs may take to finish", false, "30s"},
    {"lease", "a job whose worker is silent this long is taken over by another worker", false, "30s"},
    {"sweep", "how often to look for jobs to take over", false, "5s"},
    {"batch", "most stream entries taken by one read", false, "256"},
    {"finished_id_ttl", "how long Redis remembers a finished producer id (after that, PostgreSQL's row tells a "
                        "duplicate)", false, "1m"},
    {"threads", "I/O threads", false, "1"},
    {"exit_when_idle", "stop gracefully once no job has been in hand for this long, e.g. 30s (for a worker run "
                       "as a batch job); 0: never", false, "0"},
    {"consumer", "consumer name in the group (default host:pid:random)"},
    {"scratch_sweep_interval", "how often a worker that stores removes what dead jobs left in its scratch_dir "
                               "(0: never)", false, "1h"},
    admin::listen_option,
    {"log_level", "trace, debug, info, warn, error or off", false, "info"},
    {"log_format", "text or json", false, "text"},
    {"help", "print this help", true},
};

// The worker's own settings plus those of the job types it links (storage for, and download's and transcode's own).
const std::vector<option_spec>& specs() {
    static const std::vector<option_spec> all = [] {
        std::vector<option_spec> v(std::begin(base_specs), std::end(base_specs));
        for (const auto& s : storage_job_option_specs()) v.push_back(s);
        for (const auto& s : download_option_specs()) v.push_back(s);
        for (const auto& s : transcode_option_specs()) v.push_back(s);
        for (const auto& s : backup_option_specs()) v.push_back(s);
        for (const auto& s : compress_option_specs()) v.push_back(s);
        v.push_back(lifecycle::lifecycle_rules_option());  // the `lifecycle` job type's rules
        return v;
    }();
    return all;
}

std::int64_t bounded(const config& cfg, std::string_view key, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
    const auto v = cfg.integer(key, fallback);
    if (v < lo || v > hi)
        throw config_error(fmt::format("--{} must be from {} to {} (got {})", key, lo, hi, v));
    return v;
}

struct settings {
    runtime_options options;
    job_registry registry;
    std::size_t threads = 1;
    std::optional<config> cfg;  // kept for the job types that build their services later
    bool runs_storage_jobs = false;
    std::chrono::milliseconds scratch_sweep_interval{std::chrono::hours(1)};
    admin::listen_address admin_listen;
};

// The job types that store (jobs/storing.hpp) or run pipelines (jobs/pipeline.hpp). They need
// PostgreSQL, the providers and a Redis connection of their own, so their services are built in
// worker_main, once, and only when this worker runs one of their queues. Such a worker also runs
// the pipeline advancer: any of these jobs may be a pipeline's step. A registration reads its own
// settings from the configuration (config_error when bad).
struct job_services {
    std::shared_ptr<storage_services> storage;
    std::shared_ptr<pipeline_services> pipelines;
};
using storage_job_registration = void (*)(job_registry&, const job_services&, const config&);
constexpr std::pair<std::string_view, storage_job_registration> storage_job_types[] = {
    {"upload", [](job_registry& r, const job_services& s, const config&) { register_upload_job(r, s.storage); }},
    {"download",
     [](job_registry& r, const job_services& s, const config& cfg) { register_download_job(r, s.storage, cfg); }},
    {"transcode",
     [](job_registry& r, const job_services& s, const config& cfg) {
         register_transcode_job(r, s.storage, transcode_settings_from(cfg));
     }},
    {"publish", [](job_registry& r, const job_services& s, const config&) { register_publish_job(r, s.storage); }},
    {"pipeline",
     [](job_registry& r, const job_services& s, const config&) { register_pipeline_job(r, s.pipelines); }},
    {"cleanup",
     [](job_registry& r, const job_services& s, const config&) {
         register_cleanup_job(r, s.pipelines->db(), s.pipelines->redis(), s.storage->providers(),
                              s.storage->options().scratch_dir);
     }},
    {"migrate-objects",
     [](job_registry& r, const job_services& s, const config&) { register_migrate_objects_job(r, s.storage); }},
    {"lifecycle",
     [](job_registry& r, const job_services& s, const config& cfg) {
         register_lifecycle_job(r, s.storage, lifecycle::rules_from(cfg));
     }},
    {"compress",
     [](job_registry& r, const job_services& s, const config& cfg) {
         register_compress_job(r, s.storage, compress_settings_from(cfg));
     }},
    {"backup",
     [](job_registry& r, const job_services& s, const config& cfg) {
         register_backup_job(r, s.storage, backup_settings_from(cfg, s.storage->providers()));
     }},
    {"restore-drill",
     [](job_registry& r, const job_services& s, const config& cfg) {
         register_restore_drill_job(r, s.storage, backup_settings_from(cfg, s.storage->providers()));
     }},
};

bool is_storage_job_type(std::string_view name) {
    return std::any_of(std::begin(storage_job_types), std::end(storage_job_types),
                       [&](const auto& t) { return t.first == name; });
}

bool names_queue(const std::vector<queue_spec>& queues, std::string_view name) {
    return std::any_of(queues.begin(), queues.end(), [&](const queue_spec& q) { return q.name == name; });
}

// Before each /metrics render: the worker's queues' depths, and where it stores, the catalog's usage.
asio::awaitable<void> refresh_gauges(redis::connection& redis, pg::pool& db, const std::vector<std::string>& queues,
                                     bool storage) {
    co_await admin::refresh_queue_gauges(redis, queues);
    if (storage) co_await storage::refresh_storage_gauges(db);
}

settings load(int argc, const char* const* argv) {
    const auto cfg = config::load(argc, argv, specs());
    if (!cfg.positional().empty()) throw config_error("unexpected argument '" + cfg.positional().front() + "'");
    init_logging(cfg.get_or("log_level", "info"), cfg.get_or("log_format", "text"));

    settings s;
    std::string why;
    const auto redis_url = cfg.get_or("redis_url", "redis://127.0.0.1:6379/0");
    auto endpoint = redis::parse_url(redis_url, &why);
    if (!endpoint) throw config_error("--redis-url '" + redact(redis_url) + "': " + why);
    s.options.redis = std::move(*endpoint);
    s.options.database_url = cfg.required("database_url");
    if (!s.options.database_url.starts_with("postgresql://") && !s.options.database_url.starts_with("postgres://") &&
        s.options.database_url.find('=') == std::string::npos)
        throw config_error("--database-url '" + redact(s.options.database_url) +
                           "': expected a postgresql:// URL or a libpq key=value string");
    s.options.queues = parse_queue_specs(cfg.required("queues"));
    if (cfg.enabled("diagnostics")) add_diagnostic_jobs(s.registry);
    for (const auto& q : s.options.queues) {
        if (is_storage_job_type(q.name)) s.runs_storage_jobs = true;
        if (s.registry.find(q.name) || is_storage_job_type(q.name)) continue;
        auto known = s.registry.names();
        throw config_error(fmt::format("--queues: no job type '{}' in this worker (known: {}{})", q.name,
                                       known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", ")),
                                       cfg.enabled("diagnostics") ? "" : "; noop, sleep and fail need --diagnostics"));
    }
    s.options.grace = cfg.duration("grace", s.options.grace);
    s.options.lease = cfg.duration("lease", s.options.lease);
    s.options.sweep = cfg.duration("sweep", s.options.sweep);
    s.options.finished_id_ttl = cfg.duration("finished_id_ttl", s.options.finished_id_ttl);
    s.options.exit_when_idle = cfg.duration("exit_when_idle", s.options.exit_when_idle);
    if (s.options.exit_when_idle.count() < 0) throw config_error("--exit-when-idle must not be negative");
    if (s.options.finished_id_ttl < std::chrono::seconds(1) || s.options.finished_id_ttl > std::chrono::hours(24 * 7))
        throw config_error("--finished-id-ttl must be from 1s to 7d");
    if (s.options.lease < std::chrono::milliseconds(300)) throw config_error("--lease must be at least 300ms");
    if (s.options.sweep < std::chrono::milliseconds(10)) throw config_error("--sweep must be at least 10ms");
    s.options.batch = static_cast<std::size_t>(bounded(cfg, "batch", 256, 1, 10'000));
    s.scratch_sweep_interval = cfg.duration("scratch_sweep_interval", s.scratch_sweep_interval);
    s.threads = static_cast<std::size_t>(bounded(cfg, "threads", 1, 1, 256));
    s.admin_listen = admin::listen_setting(cfg);
    s.options.consumer = cfg.get_or("consumer", "");
    if (s.options.consumer.empty()) s.options.consumer = default_consumer_name();
    s.cfg = cfg;
    return s;
}

}  // namespace

int worker_main(int argc, const char* const* argv) {
    // A child that stops reading its stdin (pg_restore ending early in a restore drill) must be
    // an EPIPE for the writer, not the end of the worker. Children get SIG_DFL back (child.cpp).
    std::signal(SIGPIPE, SIG_IGN);
    settings s;
    try {
        for (int i = 1; i < argc; ++i) {
            if (std::string_view{argv[i]} == "--help") {
                std::fputs(("usage: wharf-worker --queues NAME=N[,NAME=N...] [options]\n" + config::usage(specs())).c_str(),
                           stdout);
                return 0;
            }
        }
        s = load(argc, argv);
    } catch (const config_error& e) {
        std::fprintf(stderr, "wharf-worker: %s\n", e.what());
        return 2;
    }

    int status = 0;
    try {
        asio::io_context io{static_cast<int>(s.threads)};
        // Declared before the runtime, so destroyed after it: the storing job types' services
        // (and the pool and connection they use) outlive every job that uses them.
        std::unique_ptr<pg::pool> storage_db;
        std::unique_ptr<redis::connection> pipeline_redis;
        job_services services;
        asio::cancellation_signal stop_sweeper;
        asio::cancellation_signal stop_scratch_sweeper;
        if (s.runs_storage_jobs) {
            try {
                storage_db = std::make_unique<pg::pool>(io.get_executor(), s.options.database_url);
                services.storage = make_storage_services(*s.cfg, io.get_executor(), *storage_db);
                pipeline_redis = std::make_unique<redis::connection>(
                    asio::make_strand(io.get_executor()), s.options.redis,
                    redis::connection_options{.client_name = "wharf-worker-pipelines"});
                services.pipelines = std::make_shared<pipeline_services>(*storage_db, *pipeline_redis);
                s.options.on_child_finished = services.pipelines->hook();
                for (const auto& [name, register_job] : storage_job_types)
                    if (names_queue(s.options.queues, name)) register_job(s.registry, services, *s.cfg);
            } catch (const config_error& e) {
                std::fprintf(stderr, "wharf-worker: %s\n", e.what());
                return 2;
            }
            asio::co_spawn(io.get_executor(), services.storage->run_alert_sweeper(),
                           asio::bind_cancellation_slot(stop_sweeper.slot(), asio::detached));
            if (s.scratch_sweep_interval.count() > 0)
                asio::co_spawn(io.get_executor(),
                               sweep_scratch_periodically(*storage_db, *pipeline_redis,
                                                          services.storage->options().scratch_dir,
                                                          s.scratch_sweep_interval),
                               asio::bind_cancellation_slot(stop_scratch_sweeper.slot(), asio::detached));
        }
        std::vector<std::string> queue_names;
        for (const auto& q : s.options.queues) queue_names.push_back(q.name);
        admin::process_endpoints_options admin_options{.listen = s.admin_listen,
                                                       .process_name = "wharf-worker",
                                                       .redis = s.options.redis,
                                                       .database_url = s.options.database_url};

        runtime rt{io.get_executor(), std::move(s.options), std::move(s.registry)};
        std::unique_ptr<admin::process_endpoints> admin_endpoints;
        // SIGTERM, SIGINT and POST /admin/drain: not ready at once, then the graceful stop.
        const auto begin_shutdown = [&rt, &admin_endpoints] {
            if (admin_endpoints) admin_endpoints->set_draining();
            admin::notify_stopping();
            rt.stop();
        };
        if (s.admin_listen.enabled) {
            try {
                admin_endpoints = std::make_unique<admin::process_endpoints>(
                    io.get_executor(), std::move(admin_options), [&begin_shutdown] { begin_shutdown(); },
                    [&queue_names, storage = s.runs_storage_jobs](redis::connection& redis, pg::pool& db) {
                        return refresh_gauges(redis, db, queue_names, storage);
                    });
            } catch (const boost::system::system_error& e) {
                // Another process serves there already (two on one host need a port each), or
                // the address is not this host's.
                std::fprintf(stderr, "wharf-worker: --admin-listen %s: %s\n", s.admin_listen.to_string().c_str(),
                             e.code().message().c_str());
                return 2;
            }
        }
        asio::signal_set signals{io, SIGINT, SIGTERM};
        std::function<void()> on_signal = [&] {
            signals.async_wait([&](boost::system::error_code ec, int sig) {
                if (ec) return;  // cancelled: the runtime ended
                spdlog::info("received {}: shutting down gracefully", sig == SIGINT ? "SIGINT" : "SIGTERM");
                begin_shutdown();
                on_signal();  // a second signal changes nothing; the grace period bounds the exit
            });
        };
        on_signal();
        admin::watchdog watchdog{io.get_executor()};
        asio::co_spawn(rt.executor(), rt.run(), [&](std::exception_ptr e) {
            if (e) {
                status = 1;
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    spdlog::critical("worker failed: {}", redact(ex.what()));
                }
            }
            signals.cancel();
            if (admin_endpoints) admin_endpoints->stop();
            stop_sweeper.emit(asio::cancellation_type::terminal);
            stop_scratch_sweeper.emit(asio::cancellation_type::terminal);
            if (pipeline_redis) pipeline_redis->close();
            io.stop();  // jobs that ignored cancellation must not keep the process alive
        });
        admin::notify_ready("running");
        std::vector<std::thread> extra;
        for (std::size_t i = 1; i < s.threads; ++i) extra.emplace_back([&io] { io.run(); });
        io.run();
        for (auto& t : extra) t.join();
    } catch (const std::exception& e) {
        spdlog::critical("worker failed: {}", redact(e.what()));
        return 1;
    }
    return status;
}

}  // namespace wharf::worker
