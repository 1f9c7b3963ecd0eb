// Which backups retention deletes. Pure.
//
// A backup that succeeded is deleted once it is older than `keep_for`, except: the newest
// `keep_verified` backups that passed a restore drill are always kept (however old), and so is the
// newest backup that succeeded (drilled or not). Failed, running and deleted backups are never
// candidates (a failed backup's upload was aborted; its row stays as history). The caller runs
// retention only after a backup succeeded -- never after a failed one.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace wharf::backup {

struct retention_policy {
    std::chrono::seconds keep_for{std::chrono::hours(24 * 30)};
    std::size_t keep_verified = 2;
};

struct backup_summary {
    std::int64_t id = 0;
    std::string status;  // running | succeeded | failed | deleted
    std::chrono::system_clock::time_point finished_at;
    bool verified = false;  // passed a restore drill
};

struct retention_decision {
    std::int64_t id = 0;
    std::string reason;  // why it goes
};

std::vector<retention_decision> expired_backups(const std::vector<backup_summary>& backups, const retention_policy& policy,
                                                std::chrono::system_clock::time_point now);

}  // namespace wharf::backup
