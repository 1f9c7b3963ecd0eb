// The `compress` job type (queue `compress`): one run of the compression of old jobs
// (common/lifecycle/compress.hpp), the code `wharfctl storage compress` runs too; the built-in
// schedule `compress-old-jobs` fires it daily. Jobs finished more than `compress_after_days`
// (default 90) ago have their compressible artifacts stored gzip-encoded.
//
// Payload: {"provider": "s3-main", "older_than_days": 90, "limit": 10000, "dry_run": false}, every
// field optional. Result: the run's report (lifecycle::to_json). A run with failed objects fails
// the attempt (retried: the next attempt decides again from the catalog and the stored objects);
// a bad payload is dead-lettered at once.
#pragma once

#include "storing.hpp"

#include "wharf/core/config.hpp"
#include "wharf/lifecycle/compress.hpp"
#include "wharf/worker/registry.hpp"

#include <memory>
#include <vector>

namespace wharf::worker {

std::vector<option_spec> compress_option_specs();
// The run's defaults from the worker's settings (compress_after_days); scratch files go under the
// storage jobs' scratch_dir.
lifecycle::compress_options compress_settings_from(const config& cfg);

// 3 attempts, 6 h timeout, retries from 30 s to 10 min.
job_type compress_job_type(std::shared_ptr<storage_services> services, lifecycle::compress_options defaults);
void register_compress_job(job_registry& registry, std::shared_ptr<storage_services> services,
                           lifecycle::compress_options defaults);

}  // namespace wharf::worker
