// temp_objects: catalog objects of class temp (the `temp/` prefix a pipeline's steps hand over
// through) older than older_than (default 24 h) are deleted at their provider (its batch delete)
// and then in the catalog (a batch's rows in one transaction), which decrements the provider's
// and the tenants' usage in that same transaction. An object of a pipeline still running, or of a
// job still queued or running, is kept, and so is one on a provider this process does not have
// configured (counted as skipped_unconfigured). See remove_objects for the order of the deletions.
#include "tasks_impl.hpp"

#include "wharf/storage/catalog.hpp"

#include <pqxx/pqxx>

namespace wharf::maintenance::detail {
namespace {

std::vector<catalog_object> scan(pqxx::connection& c, std::int64_t after_id, std::chrono::seconds older_than,
                                 std::size_t limit) {
    pqxx::read_transaction tx(c);
    std::vector<catalog_object> out;
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
    removal_tally tally;
    std::int64_t examined = 0, after = 0;
    while (static_cast<std::size_t>(examined) < o.cap) {
        const auto want = std::min(o.batch, o.cap - static_cast<std::size_t>(examined));
        auto read = [after, older_than, want](pqxx::connection& c) { return scan(c, after, older_than, want); };
        const auto batch = co_await db.run(std::move(read));
        if (batch.empty()) break;
        for (const auto& t : batch) after = t.id;
        examined += static_cast<std::int64_t>(batch.size());
        if (o.dry_run) {
            for (const auto& t : batch) tally.would_delete(t);
            continue;
        }
        auto removing = remove_objects(*providers, catalog, batch, tally);
        co_await std::move(removing);
    }
    tally.throw_if_failed("temp objects", examined);
    auto result = tally.counts();
    result.update({{"examined", examined}, {"older_than_s", older_than.count()}});
    co_return result;
}

}  // namespace wharf::maintenance::detail
