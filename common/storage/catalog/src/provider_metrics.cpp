#include "wharf/storage/provider_metrics.hpp"

#include "wharf/metrics/registry.hpp"
#include "wharf/storage/multipart.hpp"
#include "wharf/pg/pool.hpp"

#include <pqxx/pqxx>

#include <array>
#include <chrono>

namespace wharf::storage {

namespace {

struct storage_metrics {
    metrics::family<metrics::histogram>& durations = metrics::default_registry().histograms(
        "wharf_storage_request_duration_seconds", "Duration of storage provider calls, by provider and operation.",
        metrics::request_duration_buckets(), {"provider", "operation"});
    metrics::family<metrics::counter>& requests = metrics::default_registry().counters(
        "wharf_storage_requests_total", "Storage provider calls, by provider, operation and outcome (ok or error).",
        {"provider", "operation", "outcome"});
    metrics::family<metrics::counter>& bytes = metrics::default_registry().counters(
        "wharf_storage_bytes_total", "Bytes sent to (put) or received from (get) storage providers.",
        {"provider", "operation"});
};
storage_metrics& m() {
    static storage_metrics instance;
    return instance;
}

// Times one call; counts it as an error unless ok() was called before it ends.
class timed_call {
public:
    timed_call(const std::string& provider, std::string_view operation)
        : provider_(provider), operation_(operation), began_(std::chrono::steady_clock::now()) {}
    ~timed_call() {
        m().durations.with({provider_, operation_})
            .observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - began_).count());
        m().requests.with({provider_, operation_, ok_ ? "ok" : "error"}).inc();
    }
    void ok(std::uint64_t bytes = 0) {
        ok_ = true;
        if (bytes > 0) m().bytes.with({provider_, operation_}).inc(static_cast<double>(bytes));
    }

private:
    const std::string& provider_;
    std::string_view operation_;
    std::chrono::steady_clock::time_point began_;
    bool ok_ = false;
};

class measured_provider final : public provider {
public:
    explicit measured_provider(std::unique_ptr<provider> inner) : inner_(std::move(inner)) {}

    const std::string& name() const noexcept override { return inner_->name(); }
    std::string_view kind() const noexcept override { return inner_->kind(); }
    const std::string& bucket() const noexcept override { return inner_->bucket(); }

    boost::asio::awaitable<put_result> put_file(std::string key, std::filesystem::path source,
                                                put_options options) override {
        timed_call call{name(), "put"};
        auto put = inner_->put_file(std::move(key), std::move(source), std::move(options));
        auto r = co_await std::move(put);
        call.ok(r.size);
        co_return r;
    }
    boost::asio::awaitable<put_result> put_bytes(std::string key, std::string data, put_options options) override {
        timed_call call{name(), "put"};
        auto put = inner_->put_bytes(std::move(key), std::move(data), std::move(options));
        auto r = co_await std::move(put);
        call.ok(r.size);
        co_return r;
    }
    boost::asio::awaitable<object_info> get_to_file(std::string key, std::filesystem::path destination,
                                                    std::optional<byte_range> range) override {
        timed_call call{name(), "get"};
        auto get = inner_->get_to_file(std::move(key), std::move(destination), range);
        auto r = co_await std::move(get);
        call.ok(r.size);
        co_return r;
    }
    boost::asio::awaitable<std::optional<object_info>> head(std::string key) override {
        timed_call call{name(), "head"};
        auto head = inner_->head(std::move(key));
        auto r = co_await std::move(head);
        call.ok();
        co_return r;
    }
    boost::asio::awaitable<void> remove(std::string key) override {
        timed_call call{name(), "delete"};
        auto remove = inner_->remove(std::move(key));
        co_await std::move(remove);
        call.ok();
    }
    boost::asio::awaitable<std::vector<std::string>> remove_many(std::vector<std::string> keys) override {
        timed_call call{name(), "delete_many"};
        auto remove = inner_->remove_many(std::move(keys));
        auto r = co_await std::move(remove);
        call.ok();
        co_return r;
    }
    boost::asio::awaitable<list_page> list(std::string prefix, std::optional<std::string> continuation,
                                           std::size_t max_keys) override {
        timed_call call{name(), "list"};
        auto list = inner_->list(std::move(prefix), std::move(continuation), max_keys);
        auto r = co_await std::move(list);
        call.ok();
        co_return r;
    }
    boost::asio::awaitable<void> copy(std::string source_key, std::string destination_key) override {
        timed_call call{name(), "copy"};
        auto copy = inner_->copy(std::move(source_key), std::move(destination_key));
        co_await std::move(copy);
        call.ok();
    }
    std::string presign(http_method method, const std::string& key, std::chrono::seconds expires) const override {
        return inner_->presign(method, key, expires);  // pure: no request to measure
    }
    std::unique_ptr<part_sink> stream_sink(std::string key) override {
        return inner_->stream_sink(std::move(key));  // the parts' requests are the inner provider's
    }
    boost::asio::awaitable<std::vector<incomplete_upload>> list_incomplete(std::string prefix) override {
        timed_call call{name(), "list_incomplete"};
        auto list = inner_->list_incomplete(std::move(prefix));
        auto r = co_await std::move(list);
        call.ok();
        co_return r;
    }
    boost::asio::awaitable<void> abort_incomplete(std::string key, std::string upload_id) override {
        timed_call call{name(), "abort_incomplete"};
        auto abort = inner_->abort_incomplete(std::move(key), std::move(upload_id));
        co_await std::move(abort);
        call.ok();
    }

    std::optional<std::string> tier_class(storage::tier t) const override { return inner_->tier_class(t); }
    boost::asio::awaitable<void> set_tier(std::string key, storage::tier t) override {
        timed_call call{name(), "set_tier"};
        auto setting = inner_->set_tier(std::move(key), t);
        co_await std::move(setting);
        call.ok();
    }

    provider& inner() { return *inner_; }

private:
    std::unique_ptr<provider> inner_;
};

}  // namespace

std::unique_ptr<provider> with_metrics(std::unique_ptr<provider> inner) {
    return std::make_unique<measured_provider>(std::move(inner));
}

provider& unwrapped(provider& p) noexcept {
    auto* measured = dynamic_cast<measured_provider*>(&p);
    return measured ? measured->inner() : p;
}

boost::asio::awaitable<void> refresh_storage_gauges(pg::pool& db) {
    struct usage {
        std::string provider;
        double used, objects, limit;
        bool full;
    };
    auto read = [](pqxx::connection& c) {
        pqxx::read_transaction tx{c};
        std::vector<usage> rows;
        for (const auto& r : tx.exec("SELECT provider, total_bytes, file_count, limit_bytes, is_full FROM storage_stats "
                                     "ORDER BY provider LIMIT 1000"))
            rows.push_back({r[0].as<std::string>(), r[1].as<double>(), r[2].as<double>(), r[3].as<double>(),
                            r[4].as<bool>()});
        // Backups (migration 0014): how many are restorable-and-proven, and how fresh.
        const auto b = tx.exec1(
            "SELECT count(*) FILTER (WHERE status = 'succeeded' AND verified_at IS NOT NULL), "
            "count(*) FILTER (WHERE status = 'succeeded' AND verified_at IS NULL), "
            "COALESCE(EXTRACT(EPOCH FROM max(finished_at) FILTER (WHERE status = 'succeeded')), 0), "
            "COALESCE(EXTRACT(EPOCH FROM max(verified_at)), 0) FROM backups");
        return std::pair{rows, std::array<double, 4>{b[0].as<double>(), b[1].as<double>(), b[2].as<double>(),
                                                     b[3].as<double>()}};
    };
    const auto [rows, backups] = co_await db.run(std::move(read));
    auto& reg = metrics::default_registry();
    auto& kept = reg.gauges("wharf_backups", "Database backups kept, by whether a restore drill has restored them.",
                            {"state"});
    kept.with({"verified"}).set(backups[0]);
    kept.with({"unverified"}).set(backups[1]);
    reg.gauges("wharf_backup_last_success_timestamp_seconds", "When the newest backup that succeeded finished (0: none).", {})
        .with({})
        .set(backups[2]);
    reg.gauges("wharf_backup_last_verified_timestamp_seconds", "When a restore drill last passed (0: never).", {})
        .with({})
        .set(backups[3]);
    auto& used = reg.gauges("wharf_storage_used_bytes", "Bytes stored on the provider (the catalog's accounting).",
                            {"provider"});
    auto& limit = reg.gauges("wharf_storage_limit_bytes", "The provider's configured capacity limit.", {"provider"});
    auto& objects = reg.gauges("wharf_storage_objects", "Objects stored on the provider.", {"provider"});
    auto& full = reg.gauges("wharf_storage_full", "1 while the provider is at or over its limit.", {"provider"});
    for (const auto& u : rows) {
        used.with({u.provider}).set(u.used);
        limit.with({u.provider}).set(u.limit);
        objects.with({u.provider}).set(u.objects);
        full.with({u.provider}).set(u.full ? 1 : 0);
    }
}

}  // namespace wharf::storage
