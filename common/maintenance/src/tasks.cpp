// The task table, the cleanup payload, and maintenance_runs.
#include "wharf/maintenance/tasks.hpp"

#include "tasks_impl.hpp"

#include "wharf/core/duration.hpp"
#include "wharf/core/json.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/queue/keys.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace wharf::maintenance {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;

std::chrono::seconds duration_field(const json& v, std::string_view what) {
    std::optional<std::chrono::milliseconds> d;
    if (v.is_number_integer() && v.get<std::int64_t>() >= 0) d = std::chrono::seconds{v.get<std::int64_t>()};
    else if (v.is_string()) d = parse_duration(v.get<std::string>());
    if (!d) throw task_error(fmt::format("{}: a duration such as \"24h\" or \"720h\", or whole seconds", what));
    return std::chrono::duration_cast<std::chrono::seconds>(*d);
}

std::size_t count_field(const json& v, std::string_view what, std::size_t high) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > static_cast<std::int64_t>(high))
        throw task_error(fmt::format("{}: a whole number from 1 to {}", what, high));
    return static_cast<std::size_t>(v.get<std::int64_t>());
}

std::string name_list() {
    std::string out;
    for (const auto n : task_names()) out += (out.empty() ? "" : ", ") + std::string{n};
    return out;
}

}  // namespace

const std::vector<std::string_view>& task_names() {
    static const std::vector<std::string_view> names{"stuck_jobs",   "job_retention", "stale_multipart",
                                                     "temp_objects", "temp_files",    "failed_jobs",
                                                     "reconcile"};
    return names;
}

task_request parse_request(const json& payload) {
    if (!payload.is_object()) throw task_error("the payload must be a JSON object");
    task_request r;
    const auto task = payload.find("task");
    if (task == payload.end() || !task->is_string())
        throw task_error("task: required, one of " + name_list());
    r.task = task->get<std::string>();
    bool known = false;
    for (const auto n : task_names()) known = known || n == r.task;
    if (!known)
        throw task_error(fmt::format("task: '{}' is not a task ({})", r.task, name_list()));
    for (const auto& [key, value] : payload.items()) {
        if (key == "task") continue;
        if (key == "dry_run") {
            if (!value.is_boolean()) throw task_error("dry_run: true or false");
            r.options.dry_run = value.get<bool>();
        } else if (key == "older_than") {
            r.options.older_than = duration_field(value, "older_than");
        } else if (key == "batch") {
            r.options.batch = count_field(value, "batch", 10'000);
        } else if (key == "limit") {
            r.options.cap = count_field(value, "limit", 10'000'000);
        } else if (key == "idle_lease" && r.task == "stuck_jobs") {
            r.options.idle_lease = duration_field(value, "idle_lease");
        } else if (key == "retention" && r.task == "job_retention") {
            if (!value.is_object()) throw task_error("retention: an object of queue -> duration");
            for (const auto& [queue, d] : value.items()) {
                if (!queue::valid_queue_name(queue)) throw task_error("retention: '" + queue + "' is not a queue name");
                r.options.per_queue[queue] = duration_field(d, "retention." + queue);
            }
        } else {
            throw task_error(fmt::format("{}: not an option of {}", key, r.task));
        }
    }
    return r;
}

asio::awaitable<json> run_task(pg::pool& db, redis::connection& redis, const storage::registry* providers,
                               const task_request& request, std::optional<std::string> job_id) {
    auto open = [&request, &job_id](pqxx::connection& c) {
        pqxx::work tx(c, "maintenance_run_open");
        const auto r = tx.exec_params1("INSERT INTO maintenance_runs (task, job_id, dry_run) VALUES ($1, $2, $3) RETURNING id",
                                       request.task, job_id, request.options.dry_run);
        tx.commit();
        return r[0].as<std::int64_t>();
    };
    const std::int64_t run_id = co_await db.run(std::move(open));
    json result;
    std::exception_ptr failure;
    try {
        if (request.task == "stuck_jobs") {
            auto task = detail::stuck_jobs(db, redis, request.options);
            result = co_await std::move(task);
        } else if (request.task == "job_retention") {
            auto task = detail::job_retention(db, request.options);
            result = co_await std::move(task);
        } else if (request.task == "stale_multipart") {
            auto task = detail::stale_multipart(db, providers, request.options);
            result = co_await std::move(task);
        } else if (request.task == "reconcile") {
            auto task = detail::reconcile(db, redis, request.options);
            result = co_await std::move(task);
        } else if (request.task == "failed_jobs") {
            auto task = detail::failed_jobs(db, providers, request.options);
            result = co_await std::move(task);
        } else if (request.task == "temp_objects") {
            auto task = detail::temp_objects(db, providers, request.options);
            result = co_await std::move(task);
        } else {
            auto task = detail::temp_files(db, request.options);
            result = co_await std::move(task);
        }
        result["dry_run"] = request.options.dry_run;
    } catch (...) {
        failure = std::current_exception();
    }
    std::optional<std::string> error;
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            error = redact(e.what());
        }
    }
    auto close = [run_id, text = dump_json(result.is_null() ? json::object() : result), error](pqxx::connection& c) {
        pqxx::work tx(c, "maintenance_run_close");
        tx.exec_params("UPDATE maintenance_runs SET status = $2, result = $3::jsonb, error = $4, finished_at = now() "
                       "WHERE id = $1",
                       run_id, std::string{error ? "failed" : "succeeded"}, text, error);
        tx.commit();
    };
    co_await db.run(std::move(close));
    if (failure) std::rethrow_exception(failure);
    co_return result;
}

}  // namespace wharf::maintenance
