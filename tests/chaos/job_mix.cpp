// The soak's job mix and the final state each job must reach.
#include "job_mix.hpp"

#include <fmt/format.h>

namespace wharf::chaos {

const char* queue_of(job_kind kind) {
    switch (kind) {
        case job_kind::noop:
            return "noop";
        case job_kind::sleep:
            return "sleep";
        case job_kind::fail:
            return "fail";
        case job_kind::upload:
            return "upload";
        case job_kind::pipeline:
            return "pipeline";
    }
    return "?";
}

expectation expected_outcome(const planned_job& job) {
    if (job.kind == job_kind::fail) {
        if (job.fail_attempts < job.max_attempts) return {{"succeeded"}, job.fail_attempts + 1, job.fail_attempts + 1};
        return {{"dead"}, job.max_attempts, job.max_attempts};
    }
    // noop and sleep cannot fail an attempt: one attempt, however many take-overs. An upload may
    // spend attempts on faults (a part that runs out of retries) but must end stored.
    // A pipeline's own job only starts it; its steps' faults are their own attempts. It ends
    // succeeded (transcoded and published, or early as a duplicate of the tenant's earlier one).
    if (job.kind == job_kind::upload || job.kind == job_kind::pipeline) return {{"succeeded"}, 1, job.max_attempts};
    return {{"succeeded"}, 1, 1};
}

job_mix::job_mix(std::uint64_t seed, std::string run_tag, std::vector<source_file> sources,
                 std::vector<std::string> tenants)
    : rng_(seed), tag_(std::move(run_tag)), sources_(std::move(sources)), tenants_(std::move(tenants)) {}

planned_job job_mix::base(job_kind kind) {
    planned_job j;
    j.kind = kind;
    j.id = fmt::format("{}-{}-{}", tag_, queue_of(kind), n_++);
    j.envelope = {{"v", 1}, {"id", j.id}};
    return j;
}

planned_job job_mix::next_diagnostic() {
    std::discrete_distribution<int> pick({weights_.noop, weights_.sleep, weights_.fail});
    switch (pick(rng_)) {
        case 0: {
            auto j = base(job_kind::noop);
            // Attempts to spare for the "worker died N times" rule (deliveries > max_attempts + 2):
            // a job read ahead by several workers in a row that were killed is not a failure.
            j.max_attempts = 20;
            j.envelope["max_attempts"] = j.max_attempts;
            j.envelope["payload"] = nlohmann::json::object();
            return j;
        }
        case 1: {
            auto j = base(job_kind::sleep);
            j.max_attempts = 20;
            j.envelope["max_attempts"] = j.max_attempts;
            j.envelope["payload"] = {{"ms", std::uniform_int_distribution<int>(5, 400)(rng_)}};
            return j;
        }
        default: {
            auto j = base(job_kind::fail);
            j.max_attempts = 3;
            // 0..2 succeed (after that many failures), 3 and 5 go dead.
            static constexpr int choices[] = {0, 1, 2, 2, 3, 5};
            j.fail_attempts = choices[std::uniform_int_distribution<int>(0, 5)(rng_)];
            j.envelope["max_attempts"] = j.max_attempts;
            j.envelope["payload"] = {{"fail_attempts", j.fail_attempts}, {"message", "chaos: planned failure"}};
            return j;
        }
    }
}

planned_job job_mix::next_upload(const std::string& provider) {
    auto j = base(job_kind::upload);
    const auto& src = sources_.at(std::uniform_int_distribution<std::size_t>(0, sources_.size() - 1)(rng_));
    j.api_key = tenants_.at(std::uniform_int_distribution<std::size_t>(0, tenants_.size() - 1)(rng_));
    j.key = fmt::format("videos/{}/{}", j.id, src.path.filename().string());
    j.size = src.size;
    j.max_attempts = 8;
    j.envelope["max_attempts"] = j.max_attempts;
    j.envelope["api_key"] = j.api_key;
    j.envelope["payload"] = {{"source", src.path.string()}, {"key", j.key}, {"provider", provider}};
    return j;
}

planned_job job_mix::next_pipeline(const std::vector<std::filesystem::path>& clips) {
    auto j = base(job_kind::pipeline);
    const auto& clip = clips.at(std::uniform_int_distribution<std::size_t>(0, clips.size() - 1)(rng_));
    j.api_key = tenants_.at(std::uniform_int_distribution<std::size_t>(0, tenants_.size() - 1)(rng_));
    j.max_attempts = 20;  // its run is short: attempts to spare for take-overs, as noop has
    j.envelope["max_attempts"] = j.max_attempts;
    j.envelope["api_key"] = j.api_key;
    j.envelope["payload"] = {{"source", clip.string()}, {"provider", "moto"}};
    return j;
}

}  // namespace wharf::chaos
