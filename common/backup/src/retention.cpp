// The retention rule (see retention.hpp).
#include "wharf/backup/retention.hpp"

#include <algorithm>
#include <set>

namespace wharf::backup {

std::vector<retention_decision> expired_backups(const std::vector<backup_summary>& backups, const retention_policy& policy,
                                                std::chrono::system_clock::time_point now) {
    std::vector<const backup_summary*> succeeded;
    for (const auto& b : backups)
        if (b.status == "succeeded") succeeded.push_back(&b);
    // Newest first; ids break ties (they grow with time).
    std::sort(succeeded.begin(), succeeded.end(), [](const backup_summary* a, const backup_summary* b) {
        return a->finished_at != b->finished_at ? a->finished_at > b->finished_at : a->id > b->id;
    });
    std::set<std::int64_t> kept;
    if (!succeeded.empty()) kept.insert(succeeded.front()->id);
    std::size_t verified = 0;
    for (const auto* b : succeeded)
        if (b->verified && verified < policy.keep_verified) {
            kept.insert(b->id);
            ++verified;
        }
    std::vector<retention_decision> out;
    for (const auto* b : succeeded) {
        if (kept.contains(b->id) || now - b->finished_at <= policy.keep_for) continue;
        const auto days = std::chrono::duration_cast<std::chrono::hours>(now - b->finished_at).count() / 24;
        out.push_back({b->id, "older than the retention period (" + std::to_string(days) + " days)"});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
}

}  // namespace wharf::backup
