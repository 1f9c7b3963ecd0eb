// The soak's load: which job comes next (a seeded mix of the job types) and what its final state
// must be. Pure: no servers, so the expectations can be read and checked on their own.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace wharf::chaos {

// Extension point: the scheduler's cron jobs do not exist yet. When they land, add a kind here, its
// envelope in job_mix and its final state in expected_outcome(); the checks then cover them like
// the others. A pipeline's steps (upload, transcode with its ffmpeg, publish) are jobs the soak did
// not enqueue: the checks hold them to their pipeline's (parent_id) outcome.
enum class job_kind { noop, sleep, fail, upload, pipeline };

const char* queue_of(job_kind kind);

// A source file for uploads (made once, reused under many keys).
struct source_file {
    std::filesystem::path path;
    std::uint64_t size = 0;
};

struct planned_job {
    std::string id;
    job_kind kind = job_kind::noop;
    nlohmann::json envelope;
    int max_attempts = 1;
    int fail_attempts = 0;   // fail: the first N attempts fail
    std::string key;         // upload: the object key
    std::string api_key;     // upload, pipeline: the tenant
    std::uint64_t size = 0;  // upload: the source's size
    bool acked = false;      // XADD answered with an entry id
};

struct expectation {
    std::set<std::string> statuses;  // the final statuses allowed
    int min_attempts = 1, max_attempts = 1;
};

// The final state a job must reach whatever the chaos did: noop, sleep and upload succeed (they
// have attempts to spare for the faults they meet); fail succeeds at attempt fail_attempts + 1
// when that is within max_attempts and is dead after exactly max_attempts otherwise.
expectation expected_outcome(const planned_job& job);

struct mix_weights {
    // Relative frequencies; uploads are paced separately (see soak.cpp).
    double noop = 55, sleep = 25, fail = 20;
};

class job_mix {
public:
    job_mix(std::uint64_t seed, std::string run_tag, std::vector<source_file> sources,
            std::vector<std::string> tenants);

    // The next diagnostic job (noop, sleep or fail).
    planned_job next_diagnostic();
    // The next upload, to `provider`, of one of the sources under a key of its own.
    planned_job next_upload(const std::string& provider);
    // The next pipeline: one of `clips` (local paths) through upload -> transcode -> publish, for
    // one of the tenants (the same clip and tenant again finishes early as a duplicate).
    planned_job next_pipeline(const std::vector<std::filesystem::path>& clips);

private:
    planned_job base(job_kind kind);

    std::mt19937_64 rng_;
    std::string tag_;
    std::vector<source_file> sources_;
    std::vector<std::string> tenants_;
    mix_weights weights_;
    std::uint64_t n_ = 0;
};

}  // namespace wharf::chaos
