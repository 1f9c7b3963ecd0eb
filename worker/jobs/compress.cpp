// See compress.hpp.
#include "compress.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

namespace wharf::worker {
namespace {

namespace asio = boost::asio;

asio::awaitable<nlohmann::json> run_compress(std::shared_ptr<storage_services> services,
                                             lifecycle::compress_options defaults, job_context& ctx) {
    lifecycle::compress_options options;
    try {
        options = lifecycle::parse_compress_payload(ctx.payload, defaults);
        lifecycle::check_compress_options(services->providers(), options);
    } catch (const std::invalid_argument& e) {
        throw permanent_error(e.what());
    }
    auto preparing = services->prepare();
    co_await std::move(preparing);
    auto reporter = std::make_shared<progress_reporter>(ctx.report_progress);
    auto progress = [reporter](const lifecycle::compress_report& r) {
        reporter->report({{"phase", "compress"},
                          {"examined", r.examined},
                          {"compressed", r.compressed},
                          {"failed", r.failed}});
    };
    auto running = lifecycle::compress_old_jobs(services->db(), services->providers(), options, std::move(progress));
    const lifecycle::compress_report report = co_await std::move(running);
    if (!report.complete()) {
        const auto& first = report.failures.front();
        throw std::runtime_error(fmt::format("compress: {} objects failed (first: {}:{}: {})", report.failed,
                                             first.provider, first.key, first.error));
    }
    co_return lifecycle::to_json(report);
}

}  // namespace

std::vector<option_spec> compress_option_specs() {
    return {{"compress_after_days",
             "the compress job stores the compressible artifacts of jobs finished this many days ago gzip-encoded",
             false, "90"}};
}

lifecycle::compress_options compress_settings_from(const config& cfg) {
    lifecycle::compress_options o;
    const auto days = cfg.integer("compress_after_days", 90);
    if (days < 0 || days > 36500) throw config_error("--compress-after-days must be 0..36500");
    o.older_than = std::chrono::hours(24 * days);
    return o;
}

job_type compress_job_type(std::shared_ptr<storage_services> services, lifecycle::compress_options defaults) {
    defaults.scratch_dir = services->options().scratch_dir / "compress";
    auto run = [services, defaults](job_context& ctx) { return run_compress(services, defaults, ctx); };
    return job_type{.name = "compress",
                    .handler = std::move(run),
                    .max_attempts = 3,
                    .timeout = std::chrono::hours(6),
                    .retry_base = std::chrono::seconds(30),
                    .retry_cap = std::chrono::minutes(10)};
}

void register_compress_job(job_registry& registry, std::shared_ptr<storage_services> services,
                           lifecycle::compress_options defaults) {
    registry.add(compress_job_type(std::move(services), std::move(defaults)));
}

}  // namespace wharf::worker
