// stale_multipart: multipart uploads left open at the providers longer than older_than (default
// 24 h) that no live job owns -- the journal's rows whose job is final or gone, and the uploads a
// provider lists that nobody recorded -- are aborted and their rows removed
// (storage::sweep_orphaned_uploads, the rule of `wharfctl storage orphans`). A queued or running
// job's uploads are never touched.
#include "tasks_impl.hpp"

#include "wharf/storage/orphan_sweep.hpp"

#include <fmt/format.h>

namespace wharf::maintenance::detail {

boost::asio::awaitable<nlohmann::json> stale_multipart(pg::pool& db, const storage::registry* providers,
                                                       const task_options& o) {
    if (!providers) throw task_error("stale_multipart needs the storage providers (--storage-providers)");
    const auto older_than = o.older_than.value_or(std::chrono::hours{24});
    auto sweep = storage::sweep_orphaned_uploads(db, *providers, older_than, !o.dry_run, o.cap);
    const auto swept = co_await std::move(sweep);
    nlohmann::json result{{"found", swept.orphans.size()},
                          {"aborted", swept.aborted},
                          {"failed", swept.failed},
                          {"older_than_s", older_than.count()}};
    if (o.dry_run) result["would_abort"] = std::min(swept.orphans.size(), o.cap);
    // A provider that could not be listed or an abort that failed: the run fails (and a cleanup
    // job retries it); what was aborted stays aborted.
    if (!swept.errors.empty() || swept.failed > 0) {
        std::string why = fmt::format("{} abort(s) failed", swept.failed);
        for (const auto& e : swept.errors) why += "; " + e;
        for (const auto& r : swept.orphans)
            if (r.state == "failed") why += "; " + r.o.provider + ":" + r.o.key + ": " + r.error;
        throw std::runtime_error(why);
    }
    co_return result;
}

}  // namespace wharf::maintenance::detail
