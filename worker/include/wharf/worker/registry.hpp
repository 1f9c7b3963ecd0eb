// The job types a worker process knows: queue name -> handler and per-type defaults.
#pragma once

#include "wharf/worker/job.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::worker {

class job_registry {
public:
    // Throws std::invalid_argument when the name is taken or not a valid queue name.
    void add(job_type type);
    const job_type* find(std::string_view name) const noexcept;
    std::vector<std::string> names() const;

private:
    std::map<std::string, job_type, std::less<>> types_;
};

// Diagnostic job types for smoke tests and benchmarks (only with --diagnostics):
//  - noop:  does nothing; result {}.
//  - sleep: {"ms": N} waits N ms (cancellable); result {"slept_ms": N}. With "progress_every_ms": M
//    it reports {"phase": "sleep", "percent": P} every M ms.
//  - fail:  {"fail_attempts": N, "permanent": false, "message": "...", "record": "/path"}
//           fails attempts 1..N with a retryable error (N absent: every attempt), or at once
//           with a permanent error when "permanent" is true; succeeds afterwards with
//           {"attempt": k}. "record" appends "<attempt> <unix ms>\n" to a file on every attempt
//           (used by the retry-schedule test). Defaults: 4 attempts, backoff 200 ms..2 s.
void add_diagnostic_jobs(job_registry& registry);

}  // namespace wharf::worker
