#include "default_schedules.hpp"

namespace wharf::scheduler {

// Parsed like an operator's file, so the built-ins obey the same rules. The maintenance tasks go to
// the `cleanup` queue (a worker with `--queues cleanup=1` runs them), the nightly database backup
// and its restore drill to `backup` and `restore-drill`, the compression of old jobs to `compress`; overlap `skip` keeps them from piling up
// while no worker does.
const std::vector<schedule::definition>& default_schedules() {
    static const std::vector<schedule::definition> defaults = schedule::parse_definitions(R"([
      {"name": "cleanup-temp-objects", "cron": "0 * * * *", "queue": "cleanup",
       "payload": {"task": "temp_objects"}, "timeout": "30m", "jitter": "5m"},
      {"name": "cleanup-failed-jobs", "cron": "0 2 * * *", "queue": "cleanup",
       "payload": {"task": "failed_jobs"}, "timeout": "1h"},
      {"name": "cleanup-stuck-jobs", "cron": "*/10 * * * *", "queue": "cleanup",
       "payload": {"task": "stuck_jobs"}, "timeout": "30m", "jitter": "1m"},
      {"name": "cleanup-job-retention", "cron": "30 3 * * *", "queue": "cleanup",
       "payload": {"task": "job_retention"}, "timeout": "1h", "jitter": "10m"},
      {"name": "cleanup-reconcile", "cron": "* * * * *", "queue": "cleanup",
       "payload": {"task": "reconcile"}, "timeout": "10m"},
      {"name": "cleanup-stale-multipart", "cron": "15 4 * * *", "queue": "cleanup",
       "payload": {"task": "stale_multipart"}, "timeout": "1h", "jitter": "10m"},
      {"name": "backup-database", "cron": "0 1 * * *", "queue": "backup",
       "payload": {}, "timeout": "6h", "jitter": "10m"},
      {"name": "restore-drill", "cron": "0 5 * * *", "queue": "restore-drill",
       "payload": {}, "timeout": "6h", "jitter": "10m"},
      {"name": "compress-old-jobs", "cron": "0 3 * * *", "queue": "compress",
       "payload": {}, "timeout": "6h", "jitter": "10m"}
    ])");
    return defaults;
}

}  // namespace wharf::scheduler
