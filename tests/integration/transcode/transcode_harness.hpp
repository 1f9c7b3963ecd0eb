// The `transcode` job handler on a real PostgreSQL (a fresh migrated database) and a local
// provider, run the way the runtime runs it (its own executor, a cancellation slot), with the
// test settings: the default ladder, x264 ultrafast, one thread.
#pragma once

#include "wharf/test/clips.hpp"
#include "jobs/transcode.hpp"

#include "wharf/pg/pool.hpp"
#include "wharf/storage/local.hpp"
#include "wharf/test/pg_env.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <functional>
#include <future>

namespace wharf::test {

inline worker::transcode_settings test_transcode_settings() {
    worker::transcode_settings s;
    s.encode.preset = "ultrafast";
    s.encode.threads = 1;
    s.nice = 5;
    return s;
}

struct transcode_harness {
    temp_dir dir{"wharf-transcode"};
    boost::asio::io_context ctx;
    std::string url = migrated_database();
    pg::pool db{ctx.get_executor(), url};
    std::shared_ptr<worker::storage_services> services;
    worker::job_type job;
    std::vector<nlohmann::json> progress;
    int jobs = 0;

    explicit transcode_harness(worker::transcode_settings settings = test_transcode_settings()) {
        std::vector<storage::provider_config> configs{{"local", "local", 5ull << 30, {}}};
        std::vector<std::unique_ptr<storage::provider>> built;
        built.push_back(std::make_unique<storage::local_provider>("local", store(), storage::local_options{.fsync = false}));
        worker::storage_job_options options;
        options.scratch_dir = scratch();
        options.source_roots = {clips().dir, dir.path()};
        services = std::make_shared<worker::storage_services>(
            std::make_unique<storage::registry>(std::move(configs), std::move(built)), db, storage::smtp_settings{},
            options);
        job = worker::transcode_job_type(services, std::move(settings));
    }
    transcode_harness(const transcode_harness&) = delete;
    transcode_harness& operator=(const transcode_harness&) = delete;
    ~transcode_harness() { db.shutdown(); }

    std::filesystem::path store() const { return dir.path() / "store"; }
    std::filesystem::path scratch() const { return dir.path() / "scratch"; }
    std::filesystem::path stored(const std::string& key) const { return store() / key; }

    worker::job_context context(nlohmann::json payload) {
        worker::job_context c;
        c.id = "job-" + std::to_string(++jobs);
        c.queue = "transcode";
        c.max_attempts = 3;
        c.payload = std::move(payload);
        c.executor = ctx.get_executor();
        c.report_progress = [this](nlohmann::json p) { progress.push_back(std::move(p)); };
        return c;
    }

    // Runs one job to its end; `meanwhile` is called every 10 ms while it runs, with a cancel().
    nlohmann::json run(nlohmann::json payload,
                       const std::function<void(const std::function<void()>& cancel)>& meanwhile = {}) {
        auto c = context(std::move(payload));
        boost::asio::cancellation_signal signal;
        auto f = boost::asio::co_spawn(ctx, job.handler(c), boost::asio::bind_cancellation_slot(signal.slot(), boost::asio::use_future));
        const std::function<void()> cancel = [&] { signal.emit(boost::asio::cancellation_type::terminal); };
        ctx.restart();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
        while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
            if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the job did not end in 120 s");
            ctx.run_one_for(std::chrono::milliseconds(10));
            if (meanwhile) meanwhile(cancel);
        }
        return f.get();
    }

    // Entries left in the scratch folder.
    std::size_t scratch_entries() const { return entries_in(scratch()); }
};

}  // namespace wharf::test
