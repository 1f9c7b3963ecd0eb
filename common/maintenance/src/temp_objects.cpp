// temp_objects: catalog objects of class temp (the `temp/` prefix a pipeline's steps hand over
// through) older than older_than (default 24 h) are deleted at their provider (its batch delete)
// and then in the catalog (a batch's rows in one transaction), which decrements the provider's
// and the tenants' usage in that same transaction. An object of a pipeline still running, or of a
// job still queued or running, is kept, and so is one on a provider this process does not have
// configured (counted as skipped_unconfigured). Provider first: a run killed in between leaves
// rows whose objects are gone, and the next run deletes them again (absent is not an error) and
// removes the rows.
#include "tasks_impl.hpp"

#include "wharf/storage/catalog.hpp"
#include "wharf/storage/error.hpp"
#include "wharf/storage/registry.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <map>
#include <set>
#include <utility>

namespace wharf::maintenance::detail {
namespace {

struct temp_object {
    std::int64_t id = 0;
    std::string provider, bucket, key;
    std::int64_t size = 0;
};

std::vector<temp_object> scan(pqxx::connection& c, std::int64_t after_id, std::chrono::seconds older_than,
                              std::size_t limit) {
    pqxx::read_transaction tx(c);
    std::vector<temp_object> out;
    const auto rows = tx.exec_params(R"sql(
SELECT o.id, o.provider, o.bucket, o.key, o.size FROM objects o
WHERE o.prefix_class = 'temp' AND o.deleted_at IS NULL AND o.created_at < now() - $1 * interval '1 second'
  AND o.id > $2
  AND NOT EXISTS (SELECT 1 FROM pipelines p WHERE p.status = 'running' AND p.id = split_part(o.key, '/', 2))
  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = o.job_id AND j.status IN ('queued', 'running', 'waiting'))
ORDER BY o.id LIMIT $3)sql",
                                     static_cast<std::int64_t>(older_than.count()), after_id,
                                     static_cast<std::int64_t>(limit));
    for (const auto& r : rows)
        out.push_back({r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(),
                       r[4].as<std::int64_t>()});
    return out;
}

// The keys the provider could not delete: its batch delete (S3 DeleteObjects, 1,000 keys a
// request), and every key when the whole request failed.
boost::asio::awaitable<std::set<std::string>> remove_at_provider(storage::provider& p, std::vector<std::string> keys) {
    std::set<std::string> kept;
    try {
        auto remove = p.remove_many(keys);
        const auto failed = co_await std::move(remove);
        kept.insert(failed.begin(), failed.end());
    } catch (const storage::error& e) {
        spdlog::warn("temp_objects: deleting {} objects at {} failed: {}", keys.size(), p.name(), e.what());
        kept.insert(keys.begin(), keys.end());
    }
    co_return kept;
}

}  // namespace

boost::asio::awaitable<nlohmann::json> temp_objects(pg::pool& db, const storage::registry* providers,
                                                    const task_options& o) {
    if (!providers) throw task_error("temp_objects needs the storage providers (--storage-providers)");
    const auto older_than = o.older_than.value_or(std::chrono::hours{24});
    storage::catalog catalog{db};
    std::int64_t examined = 0, deleted = 0, freed = 0, failed = 0, skipped = 0;
    std::int64_t after = 0;
    std::vector<std::string> errors;
    while (static_cast<std::size_t>(examined) < o.cap) {
        const auto want = std::min(o.batch, o.cap - static_cast<std::size_t>(examined));
        auto read = [after, older_than, want](pqxx::connection& c) { return scan(c, after, older_than, want); };
        const auto batch = co_await db.run(std::move(read));
        if (batch.empty()) break;
        // Per provider and bucket: the objects deleted at the provider, several at once, then
        // their rows in one transaction.
        std::map<std::pair<std::string, std::string>, std::vector<const temp_object*>> groups;
        for (const auto& t : batch) {
            ++examined;
            after = t.id;
            if (o.dry_run) {
                ++deleted;
                freed += t.size;
                continue;
            }
            auto* p = providers->find(t.provider);
            if (!p || p->bucket() != t.bucket) {
                // Not this process's provider (or bucket): removing only the row would leave the
                // object behind for ever, uncounted. Kept for a run that has the provider.
                ++skipped;
                continue;
            }
            groups[{t.provider, t.bucket}].push_back(&t);
        }
        for (const auto& [where, objects] : groups) {
            storage::provider& p = *providers->find(where.first);
            std::vector<std::string> keys;
            for (const auto* t : objects) keys.push_back(t->key);
            auto removing = remove_at_provider(p, keys);
            const std::set<std::string> kept = co_await std::move(removing);
            std::vector<std::string> gone;
            for (auto& key : keys) {
                if (!kept.contains(key)) {
                    gone.push_back(std::move(key));
                    continue;
                }
                ++failed;  // the row stays: the next run tries again
                if (errors.size() < 10) errors.push_back(where.first + ":" + key + ": could not be deleted");
            }
            auto forget = catalog.remove_many(where.first, where.second, std::move(gone));
            const auto removed = co_await std::move(forget);
            for (const auto& [key, size] : removed) {
                ++deleted;
                freed += size;
            }
        }
    }
    if (failed > 0) {
        std::string why = fmt::format("{} of {} temp objects could not be deleted", failed, examined);
        for (const auto& e : errors) why += "; " + e;
        throw std::runtime_error(why);
    }
    co_return nlohmann::json{{"examined", examined},
                             {"deleted_objects", deleted},
                             {"freed_bytes", freed},
                             {"freed_gb", static_cast<double>(freed) / 1e9},
                             {"skipped_unconfigured", skipped},
                             {"older_than_s", older_than.count()}};
}

}  // namespace wharf::maintenance::detail
