#include "wharf/storage/orphan_sweep.hpp"

#include "wharf/storage/error.hpp"

#include <pqxx/pqxx>

namespace wharf::storage {
namespace {

// Aborts one orphan and forgets its row. Returns the reason when it could not.
boost::asio::awaitable<std::string> abort_orphan(const registry& providers, pg::pool& db, const orphan& o) {
    auto* p = providers.find(o.provider);
    if (!p) co_return "provider '" + o.provider + "' is not configured";
    if (p->bucket() != o.bucket) co_return "provider '" + o.provider + "' now uses bucket '" + p->bucket() + "'";
    // An intent names no upload: what it may have left is listed by the provider as unrecorded.
    if (o.upload_id != creating_upload_id) {
        try {
            auto abort = p->abort_incomplete(o.key, o.upload_id);
            co_await std::move(abort);
        } catch (const error& e) {
            co_return e.what();
        }
    }
    if (o.job_id) {
        const open_upload row{o.provider, o.bucket, o.key, o.upload_id, *o.job_id, 1, {}, o.job_queue};
        auto forget = db.run([&row](pqxx::connection& c) { return forget_open_upload(c, row); });
        co_await std::move(forget);
    }
    co_return std::string();
}

}  // namespace

boost::asio::awaitable<orphan_sweep> sweep_orphaned_uploads(pg::pool& db, const registry& providers,
                                                            std::chrono::seconds older_than, bool abort,
                                                            std::size_t abort_limit) {
    auto load = db.run([](pqxx::connection& c) { return list_open_uploads(c); });
    const auto recorded = co_await std::move(load);
    orphan_sweep out;
    std::vector<provider_listing> listed;
    for (const auto& pc : providers.configs()) {
        auto& p = providers.at(pc.name);
        provider_listing l{pc.name, p.bucket(), {}};
        try {
            auto list = p.list_incomplete("");
            l.uploads = co_await std::move(list);
        } catch (const error& e) {
            out.errors.push_back("listing the incomplete uploads of " + pc.name + ": " + e.what());
        }
        listed.push_back(std::move(l));
    }
    const auto found = find_orphans(recorded, listed, std::chrono::system_clock::now(), older_than);
    for (const auto& o : found) {
        swept_orphan r{o, "open", {}};
        if (abort && out.aborted + out.failed < abort_limit) {
            auto op = abort_orphan(providers, db, o);
            r.error = co_await std::move(op);
            r.state = r.error.empty() ? "aborted" : "failed";
            (r.error.empty() ? out.aborted : out.failed) += 1;
        }
        out.orphans.push_back(std::move(r));
    }
    co_return out;
}

}  // namespace wharf::storage
