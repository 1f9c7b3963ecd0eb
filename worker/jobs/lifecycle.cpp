// See lifecycle.hpp.
#include "lifecycle.hpp"

#include "wharf/lifecycle/apply.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

namespace wharf::worker {
namespace {

namespace asio = boost::asio;

lifecycle::apply_options options_of(storage_services& s, const nlohmann::json& payload) {
    try {
        auto o = lifecycle::parse_apply_payload(payload);
        lifecycle::check_apply_options(s.providers(), o);
        return o;
    } catch (const std::invalid_argument& e) {
        throw permanent_error(e.what());
    }
}

asio::awaitable<nlohmann::json> run_lifecycle(std::shared_ptr<storage_services> services,
                                              std::shared_ptr<const lifecycle::rule_set> rules, job_context& ctx) {
    const auto options = options_of(*services, ctx.payload);
    auto preparing = services->prepare();
    co_await std::move(preparing);
    auto reporter = std::make_shared<progress_reporter>(ctx.report_progress);
    auto progress = [reporter](const lifecycle::apply_report& r) {
        reporter->report(
            {{"phase", "lifecycle"}, {"examined", r.examined}, {"changed", r.changed()}, {"failed", r.failed}});
    };
    auto applying =
        lifecycle::apply_lifecycle(services->db(), services->providers(), *rules, options, std::move(progress));
    const lifecycle::apply_report report = co_await std::move(applying);
    if (!report.complete()) {
        const auto& first = report.failures.front();
        throw std::runtime_error(fmt::format("lifecycle: {} objects failed (first: {}:{}: {})", report.failed,
                                             first.provider, first.key, first.error));
    }
    co_return lifecycle::to_json(report);
}

}  // namespace

job_type lifecycle_job_type(std::shared_ptr<storage_services> services, lifecycle::rule_set rules) {
    auto shared_rules = std::make_shared<const lifecycle::rule_set>(std::move(rules));
    auto run = [services, shared_rules](job_context& ctx) { return run_lifecycle(services, shared_rules, ctx); };
    return job_type{.name = "lifecycle",
                    .handler = std::move(run),
                    .max_attempts = 3,
                    .timeout = std::chrono::hours(6),
                    .retry_base = std::chrono::seconds(30),
                    .retry_cap = std::chrono::minutes(10)};
}

void register_lifecycle_job(job_registry& registry, std::shared_ptr<storage_services> services,
                            lifecycle::rule_set rules) {
    registry.add(lifecycle_job_type(std::move(services), std::move(rules)));
}

}  // namespace wharf::worker
