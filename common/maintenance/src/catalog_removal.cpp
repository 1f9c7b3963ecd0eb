// remove_objects: a batch of catalog objects deleted at their providers, then in the catalog.
#include "wharf/maintenance/catalog_removal.hpp"

#include "wharf/storage/catalog.hpp"
#include "wharf/storage/error.hpp"
#include "wharf/storage/registry.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <utility>

namespace wharf::maintenance {
namespace {

// The keys the provider could not delete: its batch delete (S3 DeleteObjects, 1,000 keys a
// request) reports them, and every key is kept when the whole request failed.
boost::asio::awaitable<std::set<std::string>> remove_at_provider(storage::provider& p, std::vector<std::string> keys) {
    std::set<std::string> kept;
    try {
        auto remove = p.remove_many(keys);
        const auto failed = co_await std::move(remove);
        kept.insert(failed.begin(), failed.end());
    } catch (const storage::error& e) {
        spdlog::warn("deleting {} objects at {} failed: {}", keys.size(), p.name(), e.what());
        kept.insert(keys.begin(), keys.end());
    }
    co_return kept;
}

}  // namespace

void removal_tally::throw_if_failed(std::string_view what, std::int64_t examined) const {
    if (failed == 0) return;
    std::string why = fmt::format("{} of {} {} could not be deleted", failed, examined, what);
    for (const auto& e : errors) why += "; " + e;
    throw std::runtime_error(why);
}

nlohmann::json removal_tally::counts() const {
    return nlohmann::json{{"deleted_objects", deleted},
                          {"freed_bytes", freed_bytes},
                          {"freed_gb", static_cast<double>(freed_bytes) / 1e9},
                          {"skipped_unconfigured", skipped}};
}

boost::asio::awaitable<std::set<std::int64_t>> remove_objects(const storage::registry& providers,
                                                              storage::catalog& catalog,
                                                              const std::vector<catalog_object>& objects,
                                                              removal_tally& tally) {
    std::set<std::int64_t> not_removed;
    std::map<std::pair<std::string, std::string>, std::vector<const catalog_object*>> groups;
    for (const auto& o : objects) {
        const auto* p = providers.find(o.provider);
        if (!p || p->bucket() != o.bucket) {
            // Not this process's provider (or bucket): removing only the row would leave the
            // object behind for ever, uncounted. Kept for a run that has the provider.
            ++tally.skipped;
            not_removed.insert(o.id);
            continue;
        }
        groups[{o.provider, o.bucket}].push_back(&o);
    }
    for (const auto& [where, group] : groups) {
        storage::provider& p = *providers.find(where.first);
        std::vector<std::string> keys;
        for (const auto* o : group) keys.push_back(o->key);
        auto removing = remove_at_provider(p, keys);
        const std::set<std::string> kept = co_await std::move(removing);
        std::vector<std::string> gone;
        for (const auto* o : group) {
            if (!kept.contains(o->key)) {
                gone.push_back(o->key);
                continue;
            }
            ++tally.failed;  // the row stays: the next run tries again
            not_removed.insert(o->id);
            if (tally.errors.size() < 10) tally.errors.push_back(where.first + ":" + o->key + ": could not be deleted");
        }
        auto forget = catalog.remove_many(where.first, where.second, std::move(gone));
        const auto removed = co_await std::move(forget);
        for (const auto& [key, size] : removed) {
            ++tally.deleted;
            tally.freed_bytes += size;
        }
    }
    co_return not_removed;
}

}  // namespace wharf::maintenance
