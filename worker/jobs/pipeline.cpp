// Pipelines in the worker: the submission job type and the advancer (see pipeline.hpp).
#include "pipeline.hpp"

#include "wharf/core/json.hpp"
#include "wharf/core/log.hpp"

#include <fmt/format.h>

namespace asio = boost::asio;

namespace wharf::worker {
namespace {

using json = nlohmann::json;

// A stored JSON text (a step's result) read with limits like any outside input.
json parse_result(const std::optional<std::string>& text) {
    if (!text) return json();
    auto parsed = parse_json(*text, {.max_bytes = 64 * 1024 * 1024, .max_depth = 64});
    return parsed ? std::move(parsed.value) : json();
}

asio::awaitable<json> run_submission(std::shared_ptr<pipeline_services> services, job_context& ctx) {
    auto parsed = pipeline::parse_spec(ctx.payload, ctx.id, ctx.api_key);
    if (auto* why = std::get_if<std::string>(&parsed)) throw permanent_error(*why);
    const auto spec = std::get<pipeline::spec>(std::move(parsed));
    auto create = services->db().run([&spec](pqxx::connection& c) { return pipeline::submit(c, spec); });
    const pipeline::transition t = co_await std::move(create);
    auto enqueue = services->apply(t);
    co_await std::move(enqueue);
    json steps = json::array();
    for (const auto& [name, s] : t.st.steps) steps.push_back(name);
    spdlog::info("pipeline {}: {} ({})", ctx.id, pipeline::to_string(t.st.status), fmt::join(steps, ", "));
    co_return json{{"pipeline", ctx.id}, {"status", pipeline::to_string(t.st.status)}, {"steps", std::move(steps)}};
}

}  // namespace

asio::awaitable<void> pipeline_services::on_child_finished(child_finished event) {
    if (event.queue == pipeline::queue_name) co_return;  // a pipeline is nobody's step
    const json result = parse_result(event.result_json);
    auto record = db_.run(
        [&event, &result](pqxx::connection& c) {
            return pipeline::record_step_end(c, event.parent_id, event.queue, event.id, event.status, result,
                                             event.error);
        },
        true);
    const pipeline::transition t = co_await std::move(record);
    if (!t.known) co_return;  // its parent is not a pipeline, or it is not one of its steps
    if (t.finished)
        spdlog::info("pipeline {}: {}{}", t.st.submission.id, pipeline::to_string(t.st.status),
                     t.st.error ? " -- " + *t.st.error : std::string{});
    auto enqueue = apply(t);
    co_await std::move(enqueue);
}

child_finished_hook pipeline_services::hook() {
    return [this](child_finished event) { return on_child_finished(std::move(event)); };
}

job_type pipeline_job_type(std::shared_ptr<pipeline_services> services) {
    return job_type{.name = std::string{pipeline::queue_name},
                    .handler = [services](job_context& ctx) { return run_submission(services, ctx); },
                    .max_attempts = 5,
                    .timeout = std::chrono::minutes(1),
                    .retry_base = std::chrono::seconds(1),
                    .retry_cap = std::chrono::minutes(1),
                    .completes_later = true};
}

void register_pipeline_job(job_registry& registry, std::shared_ptr<pipeline_services> services) {
    registry.add(pipeline_job_type(std::move(services)));
}

}  // namespace wharf::worker
