// The test fleet's plumbing.
#include "fleet.hpp"

#include "wharf/pg/migrate.hpp"
#include "wharf/queue/keys.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace wharf::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

fleet::fleet(redis_server_options redis_options, postgres_server_options pg_options) : logs_("wharf-worker-logs") {
    redis_ = std::make_unique<redis_server>(redis_options);
    pg_ = std::make_unique<postgres_server>(pg_options);
    pg::migrate(pg_->url(), pg::default_migrations_dir());
    auto where = redis::parse_url(redis_->url());
    if (!where) throw std::runtime_error("bad redis url " + redis_->url());
    // Short reconnect backoff: the Redis-restart test reconnects this client too.
    redis::connection_options options;
    options.reconnect_backoff = {20ms, 200ms, 0};
    conn_ = std::make_unique<redis::connection>(io_.get_executor(), *where, options);
}

fleet::~fleet() {
    for (auto& w : workers_) {
        if (w->running()) w->kill_hard();
    }
    // A sanitizer build of the worker (ASan/UBSan, TSan) reports into its log: a report fails the
    // test even when the jobs came out right (another worker may have finished what it dropped).
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        const auto log = worker_log(i);
        for (const char* marker :
             {"WARNING: ThreadSanitizer", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
            if (const auto at = log.find(marker); at != std::string::npos) {
                ADD_FAILURE() << "worker " << i << " log holds a sanitizer report:\n" << log.substr(at, 20'000);
                break;
            }
        }
    }
    if (conn_) conn_->close();
    io_.restart();
    io_.run_for(100ms);
    conn_.reset();
}

process& fleet::start_worker(const std::vector<std::string>& flags, const std::map<std::string, std::string>& env) {
    std::vector<std::string> argv{(binary_dir() / "worker" / "wharf-worker").string(),
                                  "--diagnostics",
                                  "--redis-url",
                                  redis_->url(),
                                  "--database-url",
                                  pg_->url(),
                                  "--log-level",
                                  "debug"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    process_options opts;
    opts.output = logs_.path() / ("worker-" + std::to_string(workers_.size()) + ".log");
    opts.env = env;
    workers_.push_back(std::make_unique<process>(argv, opts));
    return *workers_.back();
}

run_result fleet::ctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv{(binary_dir() / "wharfctl" / "wharfctl").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    process_options opts;
    opts.env = {{"WHARF_REDIS_URL", redis_->url()}, {"WHARF_DATABASE_URL", pg_->url()}};
    return run(argv, opts, std::chrono::seconds(60));
}

std::string fleet::worker_log(std::size_t index) const {
    std::ifstream in(logs_.path() / ("worker-" + std::to_string(index) + ".log"));
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void fleet::dump_logs() const {
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        auto log = worker_log(i);
        if (log.size() > 200'000) log = "...\n" + log.substr(log.size() - 200'000);
        std::cerr << "---- worker " << i << " log ----\n" << log << "\n";
    }
}

redis::reply fleet::cmd(redis::command c) {
    auto v = pipeline({std::move(c)});
    return std::move(v.at(0));
}

std::vector<redis::reply> fleet::pipeline(std::vector<redis::command> cmds) {
    // The connection reconnects after a Redis restart: retry I/O errors for a while.
    for (int attempt = 0;; ++attempt) {
        try {
            auto f = asio::co_spawn(io_, conn_->exec_pipeline(cmds), asio::use_future);
            io_.restart();
            const auto deadline = std::chrono::steady_clock::now() + 30s;
            while (f.wait_for(0s) != std::future_status::ready) {
                if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("redis call timed out");
                io_.run_one_for(20ms);
            }
            return f.get();
        } catch (const redis::error& e) {
            if (!e.retryable() || attempt >= 50) throw;
            std::this_thread::sleep_for(100ms);
        }
    }
}

std::string fleet::enqueue(const std::string& queue, const nlohmann::json& envelope) {
    return enqueue_raw(queue, envelope.dump());
}

std::string fleet::enqueue_raw(const std::string& queue, const std::string& job_field) {
    const queue::keys k{queue};
    return cmd({"XADD", k.stream, "*", "job", job_field}).str();
}

void fleet::enqueue_many(const std::string& queue, std::size_t n,
                         const std::function<nlohmann::json(std::size_t)>& make) {
    const queue::keys k{queue};
    std::vector<redis::command> batch;
    for (std::size_t i = 0; i < n; ++i) {
        batch.push_back({"XADD", k.stream, "*", "job", make(i).dump()});
        if (batch.size() == 1'000 || i + 1 == n) {
            for (const auto& r : pipeline(std::move(batch)))
                if (r.is_error()) throw std::runtime_error("XADD failed: " + r.str());
            batch.clear();
        }
    }
}

std::int64_t fleet::stream_length(const std::string& queue) {
    return cmd({"XLEN", queue::keys{queue}.stream}).integer();
}

std::int64_t fleet::pending(const std::string& queue) {
    const auto r = cmd({"XPENDING", queue::keys{queue}.stream, "workers"});
    if (r.is_error()) return -1;
    return r[0].integer();
}

std::int64_t fleet::delayed(const std::string& queue) {
    return cmd({"ZCARD", queue::keys{queue}.delayed}).integer();
}

std::int64_t fleet::stat(const std::string& queue, const std::string& field) {
    const auto r = cmd({"HGET", queue::keys{queue}.stats, field});
    return r.is_nil() ? 0 : std::stoll(r.str());
}

std::vector<std::map<std::string, std::string>> fleet::dead_entries(const std::string& queue) {
    const auto r = cmd({"XRANGE", queue::keys{queue}.dead, "-", "+"});
    std::vector<std::map<std::string, std::string>> out;
    for (const auto& entry : r.elements()) {
        std::map<std::string, std::string> fields;
        const auto& f = entry[1];
        for (std::size_t i = 0; i + 1 < f.size(); i += 2) fields[f[i].str()] = f[i + 1].str();
        out.push_back(std::move(fields));
    }
    return out;
}

std::optional<job_row_view> fleet::job(const std::string& id) {
    pqxx::connection c{pg_->url()};
    pqxx::nontransaction tx{c};
    const auto r =
        tx.exec_params("SELECT id, queue, status, attempts, epoch, error, result::text FROM jobs WHERE id = $1", id);
    if (r.empty()) return std::nullopt;
    job_row_view v;
    v.id = r[0][0].as<std::string>();
    v.queue = r[0][1].as<std::string>();
    v.status = r[0][2].as<std::string>();
    v.attempts = r[0][3].as<int>();
    v.epoch = r[0][4].as<long>();
    if (!r[0][5].is_null()) v.error = r[0][5].as<std::string>();
    if (!r[0][6].is_null()) v.result = r[0][6].as<std::string>();
    return v;
}

std::int64_t fleet::count(const std::string& sql) {
    pqxx::connection c{pg_->url()};
    pqxx::nontransaction tx{c};
    return tx.exec1(sql)[0].as<std::int64_t>();
}

bool fleet::eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
}

logs_on_failure::~logs_on_failure() {
    if (::testing::Test::HasFailure()) f.dump_logs();
}

std::string status_of(fleet& f, const std::string& id) {
    const auto row = f.job(id);
    return row ? row->status : "";
}

}  // namespace wharf::test
