// temp_objects: catalog objects of class temp (the `temp/` prefix a pipeline's steps hand over
// through) older than older_than (default 24 h) are deleted at their provider and then in the
// catalog, which decrements the provider's and the tenant's usage in the same transaction. An
// object of a pipeline still running, or of a job still queued or running, is kept, and so is one
// on a provider this process does not have configured (counted as skipped_unconfigured). Provider
// first: a run killed in between leaves a row whose object is gone, and the next run deletes it
// again (absent is not an error) and removes the row.
#include "tasks_impl.hpp"

#include "wharf/storage/catalog.hpp"
#include "wharf/storage/error.hpp"
#include "wharf/storage/registry.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

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
            try {
                auto remove = p->remove(t.key);
                co_await std::move(remove);
            } catch (const storage::error& e) {
                ++failed;
                if (errors.size() < 10) errors.push_back(t.provider + ":" + t.key + ": " + e.what());
                continue;  // the row stays: the next run tries again
            }
            auto forget = catalog.remove(t.provider, t.bucket, t.key);
            const auto gone = co_await std::move(forget);
            if (gone.removed) {
                ++deleted;
                freed += t.size;
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
