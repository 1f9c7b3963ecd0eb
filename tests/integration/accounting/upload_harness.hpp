// The `upload` job handler on a real PostgreSQL (a fresh migrated database) and the providers a
// test gives it, run the way the runtime runs it, with readers for the accounting it leaves.
#pragma once

#include "accounting_env.hpp"
#include "jobs/upload.hpp"

#include "wharf/pg/pool.hpp"
#include "wharf/storage/catalog.hpp"

#include <boost/asio/io_context.hpp>
#include <pqxx/pqxx>

#include <fstream>
#include <functional>

namespace wharf::test {

struct upload_harness {
    temp_dir dir{"wharf-upload"};
    boost::asio::io_context ctx;
    std::string url = migrated_database();
    pg::pool db{ctx.get_executor(), url};
    std::shared_ptr<worker::storage_services> services;
    worker::job_type job;
    std::vector<nlohmann::json> progress;  // every report of every job run
    std::function<void(const nlohmann::json&)> on_progress;  // called with each report, if set
    int jobs = 0;

    upload_harness() = default;
    upload_harness(const upload_harness&) = delete;
    upload_harness& operator=(const upload_harness&) = delete;
    ~upload_harness() { db.shutdown(); }

    // The services on these providers (scratch files under dir/scratch). Call once, first.
    void use(std::unique_ptr<storage::registry> providers) {
        worker::storage_job_options options;
        options.scratch_dir = dir.path() / "scratch";
        options.source_roots = {dir.path()};
        services =
            std::make_shared<worker::storage_services>(std::move(providers), db, storage::smtp_settings{}, options);
        job = worker::upload_job_type(services);
    }
    // The services on providers configured as a deployment configures them (storage_providers).
    void use(const nlohmann::json& storage_providers) {
        use(std::make_unique<storage::registry>(storage::parse_provider_configs(storage_providers, "test"),
                                                ctx.get_executor()));
    }

    std::filesystem::path file(const std::string& name, std::size_t size, char fill = 'x') {
        const auto p = dir.path() / name;
        std::ofstream(p, std::ios::binary) << std::string(size, fill);
        return p;
    }

    // A job "job-<n>" of this attempt (first delivery).
    nlohmann::json run(nlohmann::json payload, int attempt = 1, std::optional<std::string> api_key = std::nullopt) {
        worker::job_context c;
        c.id = "job-" + std::to_string(++jobs);
        c.attempt = attempt;
        c.payload = std::move(payload);
        c.api_key = std::move(api_key);
        return run_job(std::move(c));
    }
    // The job as given (id, attempt, delivery...); the queue, executor and progress are filled in.
    nlohmann::json run_job(worker::job_context c) {
        c.queue = "upload";
        c.max_attempts = 5;
        c.executor = ctx.get_executor();
        c.report_progress = [this](nlohmann::json p) {
            if (on_progress) on_progress(p);
            progress.push_back(std::move(p));
        };
        return run_coro(ctx, [&]() -> boost::asio::awaitable<nlohmann::json> { co_return co_await job.handler(c); }());
    }

    storage::provider_stats stats(const std::string& provider) {
        pqxx::connection c(url);
        for (auto& st : storage::load_stats(c))
            if (st.provider == provider) return st;
        return storage::provider_stats{provider, 0, 0};
    }

    std::size_t live_rows() {
        pqxx::connection c(url);
        pqxx::read_transaction tx(c);
        return tx.exec1("SELECT count(*) FROM objects WHERE deleted_at IS NULL")[0].as<std::size_t>();
    }

    storage::provider& provider(const std::string& name) { return services->providers().at(name); }
};

}  // namespace wharf::test
