// The `lifecycle` job type (queue `lifecycle`): one run of the lifecycle rules over the catalog
// (common/lifecycle/apply.hpp), the code `wharfctl storage lifecycle apply` runs too; a schedule
// fires it (e.g. daily). The rules are the worker's `lifecycle_rules` setting.
//
// Payload: {"provider": "s3-main", "limit": 100000, "concurrency": 8, "dry_run": false}, every
// field optional. Result: the run's report (lifecycle::to_json). A run with failed objects fails
// the attempt (retried: the next attempt decides again from the catalog and finishes); a bad
// payload is dead-lettered at once.
#pragma once

#include "storing.hpp"

#include "wharf/lifecycle/rules.hpp"
#include "wharf/worker/registry.hpp"

#include <memory>

namespace wharf::worker {

// 3 attempts, 6 h timeout, retries from 30 s to 10 min.
job_type lifecycle_job_type(std::shared_ptr<storage_services> services, lifecycle::rule_set rules);
void register_lifecycle_job(job_registry& registry, std::shared_ptr<storage_services> services,
                            lifecycle::rule_set rules);

}  // namespace wharf::worker
