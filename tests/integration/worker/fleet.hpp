// A test fleet: real redis-server and PostgreSQL (migrated), wharf-worker child processes, and
// blocking helpers to enqueue jobs and read what Redis and PostgreSQL say about them.
#pragma once

#include "wharf/redis/connection.hpp"
#include "wharf/test/postgres_server.hpp"
#include "wharf/test/process.hpp"
#include "wharf/test/redis_server.hpp"

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wharf::test {

struct job_row_view {
    std::string id, queue, status;
    int attempts = 0;
    long epoch = 0;
    std::optional<std::string> error, result;
};

class fleet {
public:
    explicit fleet(redis_server_options redis_options = {}, postgres_server_options pg_options = {});
    ~fleet();

    redis_server& redis() { return *redis_; }
    postgres_server& postgres() { return *pg_; }

    // A wharf-worker with --diagnostics, the servers' URLs and these extra flags; its output goes
    // to a log file printed when the test fails (see dump_logs()).
    // `env` is added to the worker's environment.
    process& start_worker(const std::vector<std::string>& flags, const std::map<std::string, std::string>& env = {});
    std::string worker_log(std::size_t index) const;
    void dump_logs() const;

    // wharfctl with the fleet's servers (WHARF_REDIS_URL, WHARF_DATABASE_URL): exit status and
    // stdout+stderr.
    run_result ctl(const std::vector<std::string>& args);

    // Redis, from the test (blocking).
    redis::reply cmd(redis::command c);
    std::vector<redis::reply> pipeline(std::vector<redis::command> cmds);
    std::string enqueue(const std::string& queue, const nlohmann::json& envelope);
    std::string enqueue_raw(const std::string& queue, const std::string& job_field);
    void enqueue_many(const std::string& queue, std::size_t n, const std::function<nlohmann::json(std::size_t)>& make);
    std::int64_t stream_length(const std::string& queue);
    std::int64_t pending(const std::string& queue);
    std::int64_t delayed(const std::string& queue);
    std::int64_t stat(const std::string& queue, const std::string& field);
    std::vector<std::map<std::string, std::string>> dead_entries(const std::string& queue);

    // PostgreSQL, from the test (blocking).
    std::optional<job_row_view> job(const std::string& id);
    std::int64_t count(const std::string& sql);

    // Polls pred every 20 ms until true or timeout; returns the last result.
    static bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

private:
    std::unique_ptr<redis_server> redis_;
    std::unique_ptr<postgres_server> pg_;
    temp_dir logs_;
    std::vector<std::unique_ptr<process>> workers_;
    boost::asio::io_context io_;
    std::unique_ptr<redis::connection> conn_;
};

// Prints the workers' logs when a test failed, so a CI failure explains itself: declare one
// right after the fleet.
struct logs_on_failure {
    fleet& f;
    ~logs_on_failure();
};

// The status in a job's row ("" when it has none yet).
std::string status_of(fleet& f, const std::string& id);

}  // namespace wharf::test
